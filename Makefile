# Quick start: `make demo` runs the exporter against the built-in simulator,
# `make test` runs every test. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint dashboards bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/parichay-exporter demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check exporter smsbridge statuspage grafana deploy bench tests
	$(BIN)/mypy
	$(BIN)/mypy --strict --explicit-package-bases bench/*.py deploy/*.py

dashboards: $(STAMP)
	$(BIN)/python -m grafana.build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

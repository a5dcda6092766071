# Quick start: `make demo` runs the exporter against the built-in simulator,
# `make test` runs every test. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo statuspage-demo test lint dashboards bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/parichay-exporter demo

# The state-wide status page over 90 days of generated history (real Prometheus and
# Alertmanager on loopback); prints its URL.
statuspage-demo: $(STAMP)
	$(BIN)/python -m tests.support.statuspage_demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check exporter smsbridge servicekit statuspage grafana deploy bench tests
	$(BIN)/mypy
	$(BIN)/mypy --strict --explicit-package-bases bench/*.py deploy/*.py

dashboards: $(STAMP)
	$(BIN)/python -m grafana.build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

"""The config kernel: YAML paths in errors, every error at once, secrets only by reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field, ValidationError, model_validator

from servicekit.config import (
    BasicAuth,
    ConfigError,
    Duration,
    Model,
    Problems,
    int_range,
    load_yaml,
    validate,
    validate_at,
)
from servicekit.match import ResponseMatch
from servicekit.secrets import Secret


class Web(Model):
    kind: Literal["web"]
    port: Annotated[int, int_range(1, 65535)]
    expect: ResponseMatch = ResponseMatch()


class Pair(Model):
    kind: Literal["pair"]
    first: Duration
    second: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Pair:
        if self.second <= self.first:
            raise Problems([("second", "must be longer than first")])
        return self


class Root(Model):
    name: str
    items: tuple[Annotated[Web | Pair, Field(discriminator="kind")], ...] = ()


def errors_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate(Root, data, source="t.yml")
    return info.value.errors


def test_errors_name_yaml_paths_without_union_tags() -> None:
    """Every error, at once, at `items[1].expect.status[0]`, never `items[1].web.expect`."""
    assert errors_of(
        {
            "items": [
                {"kind": "pair", "first": "1m", "second": "30s"},
                {"kind": "web", "port": 0, "expect": {"status": ["2xx"], "body": "x"}},
                {"kind": "icmp"},
            ],
        }
    ) == [
        "name: is required",
        "items[0].second: must be longer than first",
        "items[1].port: expected a whole number 1-65535, got 0",
        'items[1].expect.status[0]: expected an HTTP status 100-599, got "2xx"',
        "items[1].expect.body: unknown key; allowed keys here: body_contains, body_regex, status",
        'items[2].kind: expected one of pair, web, got "icmp"',
    ]


def test_field_errors_come_before_cross_field_rules() -> None:
    """A bad field does not also produce a confusing follow-up from a cross-field rule."""
    assert errors_of(
        {"name": "x", "items": [{"kind": "pair", "first": "soon", "second": "1s"}]}
    ) == ['items[0].first: expected a duration such as 15s, 2m, 1m30s or 500ms, got "soon"']


def test_invalid_yaml_names_line_and_column() -> None:
    """Broken YAML is a ConfigError naming where it broke, not a traceback."""
    with pytest.raises(ConfigError) as info:
        load_yaml("a: [1, 2\nb: 3\n", source="t.yml")
    assert info.value.errors[0].startswith("line 2, column 2: invalid YAML")
    assert str(info.value).startswith("t.yml: 1 error(s)")


def test_models_are_frozen() -> None:
    """A parsed config cannot be changed by accident after validation."""
    root = validate(Root, {"name": "x"})
    with pytest.raises(ValidationError, match="frozen"):
        root.name = "y"  # type: ignore[misc]


def test_basic_auth_takes_secrets_only_by_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A literal password is refused; password_env/_file are read into a Secret."""
    errors: list[str] = []
    assert (
        validate_at(BasicAuth, {"username": "u", "password": "pw"}, path="auth", errors=errors)
        is None
    )
    assert errors == [
        "auth.password: secrets are not written in the config; use password_env "
        "(an environment variable name) or password_file (a file path)"
    ]
    errors.clear()
    validate_at(
        BasicAuth, {"username": "u", "password_env": "KERNEL_UNSET"}, path="a", errors=errors
    )
    assert errors == ["a.password_env: environment variable KERNEL_UNSET is not set (or empty)"]
    monkeypatch.setenv("KERNEL_PW", "s3cret-value")
    auth = validate_at(
        BasicAuth, {"username": "u", "password_env": "KERNEL_PW"}, path="a", errors=errors
    )
    assert auth is not None and isinstance(auth.password, Secret)
    assert auth.matches("u", "s3cret-value") and not auth.matches("u", "s3cret-valuX")
    assert "s3cret-value" not in repr(auth)


def test_response_match_checks_status_and_body_once() -> None:
    """An empty status list means any 2xx; body rules explain what did not match."""
    rule = ResponseMatch.model_validate({"body_contains": "Parichay"})
    assert rule.matches(204, "Parichay login") and not rule.matches(302, "Parichay login")
    assert rule.body_problem("e-Office") == "does not contain 'Parichay'"
    one = ResponseMatch.model_validate({"status": 302, "body_regex": "^ok$"})
    assert one.status == (302,) and one.body_problem("nope") == "does not match /^ok$/"

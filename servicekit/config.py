"""The config kernel: frozen pydantic models, YAML loading, and errors that name YAML paths.

Every service describes its config file as `Model` subclasses (frozen, unknown keys
refused) and loads it with `load_yaml()` + `validate()`. Nothing raises on the first
problem: pydantic collects every field error, and `validate()` turns them all into one
`ConfigError` whose lines name the YAML path and say what to write instead::

    targets[2].expect.status[0]: expected an HTTP status 100-599, got "2xx"
    targets[0].credentials.password: secrets are not written in the config; use ...

The path hides what the reader never wrote: the tag of a union discriminated on `kind`
(`targets[2].http.expect` is shown as `targets[2].expect`) and pydantic's type names.

Field checks run before cross-field rules (pydantic runs a model's `mode="after"`
validators only when its fields are sound), so one typo does not cascade. A cross-field
rule that finds problems deeper down raises `Problems`, naming each one's path relative
to the model, so all of them are reported, each at its own place.

Secrets come only from `<name>_env` / `<name>_file` keys (`EnvSecret`, `FileSecret`);
a literal `<name>` key is refused with `refused_secret(name)`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from servicekit.durations import HINT as DURATION_HINT
from servicekit.durations import parse_duration
from servicekit.errors import ConfigError
from servicekit.secrets import Secret, secret_from_file

__all__ = [
    "BasicAuth",
    "ConfigError",
    "Duration",
    "EnvSecret",
    "FileSecret",
    "Model",
    "Problems",
    "Text",
    "describe",
    "int_range",
    "join",
    "load_yaml",
    "nonempty",
    "one_secret",
    "read_secret_file",
    "refused_secret",
    "take_secret",
    "validate",
    "validate_at",
    "with_secret",
]

M = TypeVar("M", bound=BaseModel)
# Marks a message that carries its own relative path(s): "@<path>\t<message>" per line.
_AT = "@"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def describe(value: object) -> str:
    """How a value is quoted in an error: strings in double quotes, YAML words for the rest."""
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return str(value)


def join(path: str, key: str | int) -> str:
    """`targets` + 2 -> `targets[2]`; `targets[2]` + `url` -> `targets[2].url`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Problems(ValueError):
    """Cross-field problems found by a model validator, each at a path relative to the model.

    >>> raise Problems([("steps[1].url", 'unknown variable "app"')])  # doctest: +SKIP
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"{_AT}{path}\t{msg}" for path, msg in self.problems))


class Model(BaseModel):
    """Base of every config model: frozen, unknown keys refused with the allowed ones listed."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    # Secret fields that YAML writes only as `<stem>_env` / `<stem>_file` (see take_secret).
    secret_stems: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="wrap")
    @classmethod
    def _name_allowed_keys(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            keys = {f.alias or name for name, f in cls.model_fields.items()}
            for stem in cls.secret_stems:
                keys = (keys - {stem}) | {f"{stem}_env", f"{stem}_file"}
            allowed = ", ".join(sorted(keys))
            errors: list[Any] = []
            for err in exc.errors():
                own = err["type"] == "extra_forbidden" and len(err["loc"]) == 1
                message = f"unknown key; allowed keys here: {allowed}" if own else err["msg"]
                # The message is final; with a context, only `{key}` of that context
                # would be substituted, so other braces in it survive.
                kind = "unknown_key" if own else err["type"]
                errors.append(
                    {
                        "type": PydanticCustomError(kind, message, err.get("ctx") or {}),
                        "loc": err["loc"],
                        "input": err.get("input"),
                    }
                )
            raise ValidationError.from_exception_data(exc.title, errors) from None


# ----------------------------------------------------------------------- field types


def nonempty(value: object) -> str:
    """`value` if it is a non-empty string; ValueError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {describe(value)}")
    return value


Text = Annotated[str, PlainValidator(nonempty)]
"""A non-empty string."""


def _duration(value: object) -> float:
    seconds = None
    if isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError:
            seconds = None
    elif isinstance(value, float) and not isinstance(value, bool):
        # Defaults filled in by code (never from YAML, where a bare number is refused).
        seconds = value
    if seconds is None or seconds <= 0:
        raise ValueError(f"expected {DURATION_HINT}, got {describe(value)}")
    return seconds


Duration = Annotated[float, PlainValidator(_duration)]
"""A positive duration in the one grammar of `servicekit.durations`, as seconds."""


def int_range(lo: int, hi: int) -> Any:
    """A whole number in [lo, hi]: `Annotated[int, int_range(1, 65535)]`."""

    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"expected a whole number {lo}-{hi}, got {describe(value)}")
        return value

    return PlainValidator(check)


def _env_secret(value: object) -> Secret:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise ValueError(f"expected an environment variable name, got {describe(value)}")
    text = os.environ.get(value)
    if not text:
        raise ValueError(f"environment variable {value} is not set (or empty)")
    return Secret(text)


def read_secret_file(value: object) -> Secret:
    """A `*_file` key's secret (`secrets.secret_from_file`); ValueError saying what is wrong."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a file path, got {describe(value)}")
    return secret_from_file(value)


EnvSecret = Annotated[Secret, PlainValidator(_env_secret)]
"""A `<name>_env` key: the name of an environment variable, read into a `Secret`."""
FileSecret = Annotated[Secret, PlainValidator(read_secret_file)]
"""A `<name>_file` key: a file path, its stripped content read into a `Secret`."""


def refused_secret(stem: str) -> Any:
    """The type of a literal `<stem>` key: always an error saying where secrets go."""

    def refuse(value: object) -> None:
        raise ValueError(
            f"secrets are not written in the config; use {stem}_env (an environment "
            f"variable name) or {stem}_file (a file path)"
        )

    return Annotated[None, PlainValidator(refuse)]


def one_secret(
    env: Secret | None, file: Secret | None, *, stem: str, required: bool = True
) -> Secret | None:
    """The secret given by `<stem>_env` or `<stem>_file`; ValueError for both or neither."""
    if env is not None and file is not None:
        raise ValueError(f"give only one of {stem}_env and {stem}_file")
    if required and env is None and file is None:
        raise ValueError(f"missing {stem}_env or {stem}_file")
    return env if env is not None else file


def take_secret(
    data: dict[str, Any],
    stem: str,
    *,
    required: bool,
    file_key: str | None = None,
    env_key: str | None = None,
) -> list[tuple[str, str]]:
    """Read `<stem>_file` / `<stem>_env` out of `data` (in a model validator) into `data[stem]`.

    For models whose runtime field is the `Secret` itself: code may pass `stem=Secret(...)`,
    YAML may only name a file or a variable. Returns the problems, each at its key; after a
    problem `data[stem]` holds a stand-in, so the model's other fields are still checked.
    """
    file_key, env_key = file_key or f"{stem}_file", env_key or f"{stem}_env"
    problems = _take_secret(data, stem, required=required, file_key=file_key, env_key=env_key)
    if problems:
        data.pop(file_key, None)
        data.pop(env_key, None)
        data[stem] = Secret("")
    return problems


def _take_secret(
    data: dict[str, Any], stem: str, *, required: bool, file_key: str, env_key: str
) -> list[tuple[str, str]]:
    literal = data.get(stem)
    if literal is not None and not isinstance(literal, Secret):
        return [
            (
                stem,
                f"secrets are not written in the config; use {env_key} (an environment "
                f"variable name) or {file_key} (a file path)",
            )
        ]
    file_name, env_name = data.pop(file_key, None), data.pop(env_key, None)
    if file_name is not None and env_name is not None:
        return [(file_key, f"give only one of {env_key} and {file_key}")]
    try:
        if file_name is not None:
            data[stem] = read_secret_file(file_name)
        elif env_name is not None:
            data[stem] = _env_secret(env_name)
    except ValueError as exc:
        return [(file_key if file_name is not None else env_key, str(exc))]
    if required and data.get(stem) is None:
        return [("", f"missing {env_key} or {file_key}")]
    return []


def with_problems(handler: Callable[[Any], M], data: Any, problems: Sequence[tuple[str, str]]) -> M:
    """Run a wrap validator's `handler`, reporting `problems` (found before it) with its errors.

    So a bad secret file and a missing key in the same mapping are both listed.
    """
    if not problems:
        return handler(data)
    errors: list[Any] = [
        {"type": PydanticCustomError("problems", str(Problems(problems))), "loc": (), "input": data}
    ]
    try:
        handler(data)
    except ValidationError as exc:
        errors += [
            {
                "type": PydanticCustomError(err["type"], err["msg"], err.get("ctx") or {}),
                "loc": err["loc"],
                "input": err.get("input"),
            }
            for err in exc.errors()
        ]
    raise ValidationError.from_exception_data("config", errors)


def with_secret(data: Any, handler: Callable[[Any], M], stem: str, *, required: bool) -> M:
    """A wrap validator's body: read `<stem>_file` / `<stem>_env` into `stem`, then validate."""
    if not isinstance(data, dict):
        return handler(data)
    data = dict(data)
    return with_problems(handler, data, take_secret(data, stem, required=required))


# ----------------------------------------------------------------------- errors


def _path(loc: tuple[int | str, ...], data: object, *, names_key: bool) -> str:
    """The YAML path of a pydantic location, without union tags or type names."""
    path, node = "", data
    for i, key in enumerate(loc):
        if isinstance(key, int):
            path = join(path, key)
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
        elif isinstance(node, Mapping) and key in node:
            path = join(path, key)
            node = node[key]
        elif names_key and i == len(loc) - 1:
            path = join(path, key)  # a missing or unknown key, named where it belongs
        # Otherwise a union tag (`http`) or a type name the reader never wrote: skipped.
    return path


_TYPE_MESSAGES = {
    "missing": "is required",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
}


def _message(err: Mapping[str, Any]) -> str:
    kind, msg = err["type"], str(err["msg"])
    if kind == "missing":
        return "is required"
    if kind in _TYPE_MESSAGES:
        return f"{_TYPE_MESSAGES[kind]}, got {describe(err.get('input'))}"
    if kind in ("literal_error", "enum"):
        expected = str(err.get("ctx", {}).get("expected", "")).replace("'", "")
        return f"expected {expected}, got {describe(err.get('input'))}"
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def error_pairs(exc: ValidationError, data: object) -> list[tuple[str, str]]:
    """(YAML path, message) per problem, in pydantic's (model field) order."""
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        base = _path(loc, data, names_key=kind in ("missing", "unknown_key", "extra_forbidden"))
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            ctx = err.get("ctx", {})
            tag = str(ctx.get("discriminator", "kind")).strip("'")
            tags = ", ".join(sorted(str(ctx.get("expected_tags", "")).replace("'", "").split(", ")))
            node = err.get("input")
            if not isinstance(node, Mapping):
                out.append((base, f"expected a mapping, got {describe(node)}"))
            else:
                out.append(
                    (join(base, tag), f"expected one of {tags}, got {describe(node.get(tag))}")
                )
            continue
        message = _message(err)
        if not message.startswith(_AT):
            out.append((base, message))
            continue
        for line in message.splitlines():
            rel, _, text = line.removeprefix(_AT).partition("\t")
            if not rel:
                out.append((base, text))
            elif rel.startswith("["):
                out.append((base + rel, text))
            else:
                out.append((f"{base}.{rel}" if base else rel, text))
    return out


def format_errors(exc: ValidationError, data: object) -> list[str]:
    """One `path: message` line per problem."""
    return [f"{path}: {msg}" if path else msg for path, msg in error_pairs(exc, data)]


def validate(
    model: type[M], data: object, *, source: str = "", context: dict[str, Any] | None = None
) -> M:
    """Validate loaded YAML into `model`, or raise ConfigError listing every problem."""
    if data is None:
        raise ConfigError(["the file is empty"], source=source)
    if not isinstance(data, Mapping):
        raise ConfigError([f"expected a mapping at the top, got {describe(data)}"], source=source)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, data), source=source) from None


def load_yaml(text: str, *, source: str = "") -> object:
    """Parse YAML text; invalid YAML becomes a ConfigError naming the line and column."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}invalid YAML: {problem}"], source=source) from None


def read_text(path: str | Path) -> str:
    """The config file's text; a missing or unreadable file is a ConfigError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"], source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read {path}: {exc}"], source=str(path)) from None


class BasicAuth(Model):
    """`{username: monitor, password_file: /run/secrets/pw}`: HTTP basic credentials."""

    username: Text
    password_env: EnvSecret | None = None
    password_file: FileSecret | None = None
    literal_password: refused_secret("password") = Field(default=None, alias="password")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _one_password(self) -> BasicAuth:
        one_secret(self.password_env, self.password_file, stem="password")
        return self

    @property
    def password(self) -> Secret:
        secret = self.password_env or self.password_file
        assert secret is not None  # the validator requires one
        return secret

    def matches(self, username: str, password: str) -> bool:
        """Check presented credentials (for a server that demands them).

        Both parts are compared in constant time and both always, so timing does not
        reveal which one was wrong.
        """
        user_ok = Secret(self.username).matches(username)
        pass_ok = self.password.matches(password)
        return user_ok and pass_ok


def validate_at(model: type[M], data: object, *, path: str, errors: list[str]) -> M | None:
    """Validate one section into `model`, appending `path`-prefixed errors instead of raising.

    For readers that check a file section by section and report everything at the end.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for rel, message in error_pairs(exc, data):
            where = path + rel if rel.startswith("[") else ".".join(p for p in (path, rel) if p)
            errors.append(f"{where}: {message}")
        return None

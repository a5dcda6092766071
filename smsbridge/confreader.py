"""Typed reading of a YAML mapping with every error collected under its YAML path.

`Node` wraps one mapping and its path (``providers.nic``); each accessor returns a
typed value or a default and, on a problem, appends ``"<path>: <reason>"`` to the
shared error list instead of raising, so `check-config` can list every mistake at
once. Unknown keys are reported by `Node.finish()`. Secrets are read only from
``<name>_file`` or ``<name>_env`` keys and come back as `Secret`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from servicekit.durations import HINT as DURATION_HINT
from servicekit.durations import parse_duration
from servicekit.errors import ConfigError
from servicekit.secrets import Secret

__all__ = ["ConfigError", "Node", "parse_duration"]



def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Node:
    """One YAML mapping being read; see the module docstring."""

    def __init__(self, data: Mapping[str, object], path: str, errors: list[str]) -> None:
        self.data = data
        self.path = path
        self.errors = errors
        self._seen: set[str] = set()

    @classmethod
    def of(cls, value: object, path: str, errors: list[str]) -> Node | None:
        """A Node for `value`, or None (with an error) if it is not a mapping."""
        if not isinstance(value, dict):
            errors.append(f"{path or '<root>'}: expected a mapping, got {_kind(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                errors.append(f"{join(path, str(key))}: keys must be strings")
        return cls(value, path, errors)

    def error(self, key: str | None, message: str) -> None:
        self.errors.append(f"{join(self.path, key) if key else self.path or '<root>'}: {message}")

    def at(self, key: str) -> str:
        return join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str) -> object:
        self._seen.add(key)
        return self.data.get(key)

    def finish(self) -> None:
        """Report keys that no accessor asked for."""
        for key in self.data:
            if isinstance(key, str) and key not in self._seen:
                self.error(key, "unknown key")

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                self.error(key, "required")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(key, f"expected a string, got {_kind(value)}")
            return default
        text = str(value).strip()
        if not text and required:
            self.error(key, "must not be empty")
            return default
        return text

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value is None or value not in choices:
            self.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    def integer(
        self, key: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"expected an integer, got {_kind(value)}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and at most {maximum}"
            self.error(key, f"expected at least {minimum}{upper}, got {value}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(key, f"expected true or false, got {_kind(value)}")
            return default
        return value

    def duration(self, key: str, default: float, *, positive: bool = True) -> float:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.error(key, f"expected {DURATION_HINT}, got {_kind(value)}")
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.error(key, str(exc))
            return default
        if positive and seconds <= 0:
            self.error(key, "must be greater than zero")
            return default
        return seconds

    def child(self, key: str, *, required: bool = False) -> Node | None:
        value = self.raw(key)
        if value is None:
            if required:
                self.error(key, "required")
            return None
        return Node.of(value, self.at(key), self.errors)

    def entries(self, key: str, *, required: bool = False) -> Iterator[tuple[str, str, object]]:
        """(name, path, value) for each entry of a mapping-valued key, in file order."""
        value = self.raw(key)
        if value is None:
            if required:
                self.error(key, "required")
            return
        if not isinstance(value, dict):
            self.error(key, f"expected a mapping, got {_kind(value)}")
            return
        if not value and required:
            self.error(key, "must not be empty")
        for name, item in value.items():
            yield str(name), join(self.at(key), str(name)), item

    def elements(self, key: str, *, required: bool = False) -> Iterator[tuple[str, object]]:
        """(path, value) for each element of a list-valued key."""
        value = self.raw(key)
        if value is None:
            if required:
                self.error(key, "required")
            return
        if not isinstance(value, list):
            self.error(key, f"expected a list, got {_kind(value)}")
            return
        if not value and required:
            self.error(key, "must not be empty")
        for index, item in enumerate(value):
            yield join(self.at(key), index), item

    def str_map(self, key: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for name, path, item in self.entries(key):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                self.errors.append(f"{path}: expected a string, got {_kind(item)}")
                continue
            result[name] = str(item)
        return result

    def secret(
        self,
        name: str,
        *,
        required: bool,
        file_key: str | None = None,
        env_key: str | None = None,
    ) -> Secret | None:
        """Read `<name>_file` or `<name>_env` (exactly one) into a Secret."""
        file_key = file_key or f"{name}_file"
        env_key = env_key or f"{name}_env"
        if name in self.data:
            self.raw(name)
            self.error(name, f"secrets are never inline; use {file_key} or {env_key}")
        has_file, has_env = self.has(file_key), self.has(env_key)
        if has_file and has_env:
            self.error(file_key, f"set only one of {file_key} and {env_key}")
            self.raw(env_key)
            return None
        if not has_file and not has_env:
            self.raw(file_key)
            self.raw(env_key)
            if required:
                self.error(None, f"one of {file_key} or {env_key} is required")
            return None
        if has_file:
            file_name = self.text(file_key, required=True)
            if file_name is None:
                return None
            return read_secret_file(file_name, path=self.at(file_key), errors=self.errors)
        env_name = self.text(env_key, required=True)
        if env_name is None:
            return None
        value = os.environ.get(env_name)
        if value is None:
            self.error(env_key, f"environment variable {env_name} is not set")
            return None
        if not value.strip():
            self.error(env_key, f"environment variable {env_name} is empty")
            return None
        return Secret(value.strip())


def read_secret_file(file_name: str, *, path: str, errors: list[str]) -> Secret | None:
    target = Path(file_name)
    try:
        content = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        errors.append(f"{path}: file not found")
        return None
    except IsADirectoryError:
        errors.append(f"{path}: is a directory")
        return None
    except PermissionError:
        errors.append(f"{path}: permission denied")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"{path}: cannot read ({type(exc).__name__})")
        return None
    value = content.strip()
    if not value:
        errors.append(f"{path}: file is empty")
        return None
    return Secret(value)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"{value!r}"
    return f"{value!r}"

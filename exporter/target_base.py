"""What every target kind shares: role, name, host and TLS fields, and `TargetBase`.

`exporter.config` (http, tcp, dns) and `exporter.login_config` (login) both build on
this module, so neither imports the other's internals.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, PlainValidator, ValidationInfo, model_validator

from servicekit.config import Duration, Model, Problems, Text, describe
from servicekit.durations import format_duration
from servicekit.listen import is_host
from servicekit.secrets import Secret


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


# An HTTP method as written in the config, in any case (`get` is GET).
UpperCase = BeforeValidator(_upper)

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 10.0
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class Role(StrEnum):
    SSO = "sso"
    APP = "app"
    CONTROL = "control"


# --------------------------------------------------------------------------- field types


def _name(value: object) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            "use lower-case letters, digits, '-', '_' or '.', up to 63 characters; "
            f"got {describe(value)}"
        )
    return value


def _host(value: object) -> str:
    if not isinstance(value, str) or not is_host(value):
        raise ValueError(f"not a host name or IP address, got {describe(value)}")
    return value


def _existing_file(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {describe(value)}")
    if not Path(value).is_file():
        raise ValueError(f"file not found: {value}")
    return value


Name = Annotated[str, PlainValidator(_name)]
Host = Annotated[str, PlainValidator(_host)]
ExistingFile = Annotated[str, PlainValidator(_existing_file)]


class TLSConfig(Model):
    """TLS of an http or login target: which CA to trust, and the SNI name."""

    ca_file: ExistingFile | None = None
    insecure_skip_verify: bool = False
    server_name: Text | None = None


class TcpTLS(TLSConfig):
    """TLS of a tcp target, which may also switch the handshake off."""

    enabled: bool = True


class TargetBase(Model):
    """What every target has: a name, a role, how often and how long to probe."""

    name: Name
    role: Role
    interval: Duration = DEFAULT_INTERVAL
    timeout: Duration = DEFAULT_TIMEOUT

    # Defaults of this kind when the target does not set them: (minimum interval,
    # minimum timeout) over the file's `defaults`.
    _MIN_DEFAULTS: ClassVar[tuple[float, float]] = (0.0, 0.0)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = (info.context or {}).get("defaults", {})
        min_interval, min_timeout = cls._MIN_DEFAULTS
        filled = dict(data)
        if "interval" not in filled:
            filled["interval"] = max(defaults.get("interval", DEFAULT_INTERVAL), min_interval)
        if "timeout" not in filled:
            filled["timeout"] = max(defaults.get("timeout", DEFAULT_TIMEOUT), min_timeout)
        return filled

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> TargetBase:
        if self.timeout >= self.interval:
            raise Problems(
                [
                    (
                        "timeout",
                        f"must be shorter than the interval ({format_duration(self.interval)}), "
                        f"got {format_duration(self.timeout)}",
                    )
                ]
            )
        return self

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret this target may send, for redaction."""
        return ()

    @property
    def extra_deadline(self) -> float:
        """Seconds a run may spend waiting before its timeout starts (a fresh TOTP code)."""
        return 0.0

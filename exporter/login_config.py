"""Config for `kind: login`: the synthetic login as a declared journey of named steps.

Each step is one request (GET or POST, form or JSON body) that may follow redirects,
`expect` a status, body text/regex and final host, `extract` values (regex, JSON path,
header, cookie, hidden form field, final URL) into variables for later steps, and declare
`reject` rules that tell "the account was refused" (login_rejected / otp_rejected) apart
from a broken flow. Templates use `{{name}}`: built-ins `username`, `password`, `totp`
(computed when the step is sent), the target's `vars`, and variables extracted by earlier
steps; an unknown name is a config error naming its YAML path. Credentials come only from
the environment or files. Logins run at most once a minute (`MIN_LOGIN_INTERVAL`).

Example (Parichay in front of e-Office; quote templates, `{{` is YAML flow syntax)::

    - name: eoffice-login
      role: app
      kind: login
      interval: 2m
      timeout: 30s
      credentials: {username_env: MON_USER, password_file: /run/secrets/mon_pw,
                    totp_secret_env: MON_TOTP}
      vars: {app: "https://eoffice.uk.gov.in", sso: "https://parichay.nic.in"}
      steps:
        - name: open-eoffice
          url: "{{app}}/"
          expect: {status: [200], final_host: parichay.nic.in}
          extract: {csrf: {form_field: csrf_token}}
        ...
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, PlainValidator, field_validator, model_validator

from exporter.result import Reason
from exporter.target_base import TargetBase, TLSConfig, UpperCase
from servicekit.config import (
    Duration,
    EnvSecret,
    FileSecret,
    Model,
    Problems,
    Text,
    describe,
    int_range,
    one_secret,
    refused_secret,
)
from servicekit.durations import format_duration
from servicekit.match import Regex, ResponseMatch
from servicekit.secrets import Secret

TEMPLATE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BUILTINS = ("username", "password", "totp")
REJECT_REASONS = (Reason.LOGIN_REJECTED, Reason.OTP_REJECTED)
DEFAULT_SUSPEND_FOR = 3600.0
# Login targets must not hammer a real account: never more often than this.
MIN_LOGIN_INTERVAL = 60.0
# A login takes several round trips; a default below this would time out healthy runs.
MIN_LOGIN_TIMEOUT = 30.0
_STEP_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
_EXTRACT_SOURCES = ("cookie", "final_url", "form_field", "header", "json", "regex")


def template_names(value: Any) -> list[str]:
    """Every `{{name}}` referenced anywhere in a string / list / mapping."""
    if isinstance(value, str):
        return TEMPLATE_RE.findall(value)
    if isinstance(value, dict):
        return [n for v in value.values() for n in template_names(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in template_names(v)]
    return []


def _pairs(what: str) -> Any:
    """A mapping of strings, kept as ordered (key, value) pairs."""

    def check(value: object) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of {what}, got {describe(value)}")
        out, problems = [], []
        for key, item in value.items():
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                problems.append((str(key), f"expected a string, got {describe(item)}"))
                continue
            out.append((str(key), str(item)))
        if problems:
            raise Problems(problems)
        return tuple(out)

    return PlainValidator(check)


def _step_name(value: object) -> str:
    if not isinstance(value, str) or not _STEP_NAME_RE.match(value):
        raise ValueError(
            "use lower-case letters, digits, '-' or '_', up to 41 characters; "
            f"got {describe(value)}"
        )
    return value


def _step_url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {describe(value)}")
    if not TEMPLATE_RE.match(value) and not value.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL or a {{{{variable}}}}: {describe(value)}")
    return value


class Credentials(Model):
    """The monitoring account: user name, password, and the TOTP seed if the flow asks."""

    username_env: EnvSecret | None = None
    username_file: FileSecret | None = None
    literal_username: refused_secret("username") = Field(default=None, alias="username")  # type: ignore[valid-type]
    password_env: EnvSecret | None = None
    password_file: FileSecret | None = None
    literal_password: refused_secret("password") = Field(default=None, alias="password")  # type: ignore[valid-type]
    totp_secret_env: EnvSecret | None = None
    totp_secret_file: FileSecret | None = None
    literal_totp: refused_secret("totp_secret") = Field(default=None, alias="totp_secret")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _complete(self) -> Credentials:
        one_secret(self.username_env, self.username_file, stem="username")
        one_secret(self.password_env, self.password_file, stem="password")
        one_secret(self.totp_secret_env, self.totp_secret_file, stem="totp_secret", required=False)
        totp = self.totp_secret
        if totp is not None:
            try:
                base64.b32decode(totp.reveal().upper().replace(" ", ""), casefold=True)
            except (binascii.Error, ValueError):
                raise ValueError(
                    "the TOTP secret is not valid base32 (as shown by the authenticator set-up)"
                ) from None
        if len(self.password.reveal()) < 4:
            raise ValueError("the password is too short to be real")
        return self

    @property
    def username(self) -> Secret:
        found = self.username_env or self.username_file
        assert found is not None
        return found

    @property
    def password(self) -> Secret:
        found = self.password_env or self.password_file
        assert found is not None
        return found

    @property
    def totp_secret(self) -> Secret | None:
        return self.totp_secret_env or self.totp_secret_file


class Extract(Model):
    """Where a step reads a variable from: exactly one source key."""

    regex: Regex | None = None
    json_path: Text | None = Field(default=None, alias="json")
    header: Text | None = None
    cookie: Text | None = None
    form_field: Text | None = None
    final_url: Any = None
    group_: Annotated[int, int_range(0, 20)] | None = Field(default=None, alias="group")
    optional: bool = False

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_source(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [s for s in _EXTRACT_SOURCES if s in data]
            if len(given) != 1:
                raise ValueError(f"give exactly one of {', '.join(_EXTRACT_SOURCES)}")
        return data

    @model_validator(mode="after")
    def _group_exists(self) -> Extract:
        if self.regex is not None and self.group_ is not None and self.group_ > self.regex.groups:
            raise Problems([("group", f"the regex has only {self.regex.groups} group(s)")])
        return self

    @property
    def source(self) -> str:
        for name in ("regex", "header", "cookie", "form_field"):
            if getattr(self, name) is not None:
                return name
        return "json" if self.json_path is not None else "final_url"

    @property
    def arg(self) -> str:
        value = self.json_path or self.header or self.cookie or self.form_field
        return value or ""

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return self.regex

    @property
    def group(self) -> int:
        if self.group_ is not None:
            return self.group_
        return 1 if self.regex is not None and self.regex.groups else 0


def _reject_reason(value: object) -> Reason:
    if value not in {str(r) for r in REJECT_REASONS}:
        raise ValueError(f"expected login_rejected or otp_rejected, got {describe(value)}")
    return Reason(str(value))


class RejectRule(ResponseMatch):
    """An answer that means "the account was refused", not "the flow is broken".

    Unlike an `expect`, a reject rule without `status` matches any status: a refusal is
    often a 200 page or a 401 alike, told apart by its text.
    """

    reason: Annotated[Reason, PlainValidator(_reject_reason)]

    def status_ok(self, status: int) -> bool:
        return not self.status or status in self.status

    @model_validator(mode="after")
    def _has_a_rule(self) -> RejectRule:
        if not self.has_rule():
            raise ValueError("a reject rule needs status, body_contains or body_regex")
        return self


class StepExpect(ResponseMatch):
    """What a step's answer must show; `final_host` is where its redirects end."""

    final_host: Text | None = None


def _listify(value: object) -> object:
    return value if isinstance(value, list) else [value]


def _extracts(value: object) -> object:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of variable names to sources, got {describe(value)}")
    problems = []
    for var in value:
        if not isinstance(var, str) or not _VAR_RE.match(var):
            problems.append((str(var), "not a valid variable name"))
        elif var in BUILTINS:
            problems.append((var, f'"{var}" is a built-in variable and cannot be extracted'))
    if problems:
        raise Problems(problems)
    return value


def _json_body(value: object) -> object:
    if not isinstance(value, (dict, list)):
        raise ValueError(f"expected a mapping or list, got {describe(value)}")
    return value


class Step(Model):
    """One request of the journey and what its answer must show."""

    name: Annotated[str, PlainValidator(_step_name)]
    url: Annotated[str, PlainValidator(_step_url)]
    method: Annotated[Literal["GET", "POST"], UpperCase] = "GET"
    headers: Annotated[tuple[tuple[str, str], ...], _pairs("header values")] = ()
    form: Annotated[tuple[tuple[str, str], ...], _pairs("form fields")] | None = None
    json_body: Annotated[Any, PlainValidator(_json_body)] = Field(default=None, alias="json")
    follow_redirects: bool = True
    expect: StepExpect = StepExpect()
    extractors: Annotated[dict[str, Extract], BeforeValidator(_extracts)] = Field(
        default={}, alias="extract"
    )
    reject: Annotated[tuple[RejectRule, ...], BeforeValidator(_listify)] = ()
    always_run: bool = False
    skip_if_defined: Text | None = None

    @model_validator(mode="after")
    def _body_needs_post(self) -> Step:
        problems = []
        if self.form is not None and self.json_body is not None:
            problems.append(("", "give only one of form and json"))
        if (self.form is not None or self.json_body is not None) and self.method == "GET":
            problems.append(("method", "a step with form or json must use POST"))
        if problems:
            raise Problems(problems)
        return self

    @property
    def json(self) -> Any:
        return self.json_body

    @property
    def extract(self) -> tuple[tuple[str, Extract], ...]:
        """(variable, source) pairs in the order written."""
        return tuple(self.extractors.items())

    def references(self) -> list[tuple[str, Any]]:
        """(relative path, value) of every place a template may appear."""
        refs: list[tuple[str, Any]] = [("url", self.url), ("headers", dict(self.headers))]
        refs += [(f"form.{k}", v) for k, v in self.form or ()]
        if self.json_body is not None:
            refs.append(("json", self.json_body))
        return refs


class SuspendAfter(Model):
    """Rejections in a row before the target pauses itself (never more than two)."""

    login_rejected: Annotated[int, int_range(1, 2)] = 1
    otp_rejected: Annotated[int, int_range(1, 2)] = 2


def _cookie_names(value: object) -> object:
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise ValueError("expected a list of cookie names")
    return tuple(value)


def _steps(value: object) -> object:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a non-empty list of steps, got {describe(value)}")
    return value


class LoginTarget(TargetBase):
    kind: Literal["login"] = "login"
    credentials: Credentials
    steps: Annotated[tuple[Step, ...], BeforeValidator(_steps)]
    vars: Annotated[tuple[tuple[str, str], ...], _pairs("variables")] = ()
    tls: TLSConfig = TLSConfig()
    persistent_cookies: Annotated[tuple[str, ...], PlainValidator(_cookie_names)] = ()
    state_file: Text | None = None
    suspend_for: Duration = DEFAULT_SUSPEND_FOR
    suspend_after: SuspendAfter = SuspendAfter()

    _MIN_DEFAULTS: ClassVar[tuple[float, float]] = (MIN_LOGIN_INTERVAL, MIN_LOGIN_TIMEOUT)

    @field_validator("interval")
    @classmethod
    def _not_too_often(cls, value: float) -> float:
        if value < MIN_LOGIN_INTERVAL:
            raise ValueError(
                "logins run at most once a minute to protect the account; "
                f"got {format_duration(value)}"
            )
        return value

    @model_validator(mode="after")
    def _journey_rules(self) -> LoginTarget:
        problems: list[tuple[str, str]] = []
        for key, _ in self.vars:
            if not _VAR_RE.match(key) or key in BUILTINS:
                problems.append((f"vars.{key}", "not a usable variable name"))
        if self.persistent_cookies and self.state_file is None:
            problems.append(
                (
                    "state_file",
                    "is required with persistent_cookies (a file only the exporter can read)",
                )
            )
        known = set(BUILTINS) | {k for k, _ in self.vars}
        names: set[str] = set()
        for i, step in enumerate(self.steps):
            at = f"steps[{i}]"
            for rel, value in step.references():
                for name in template_names(value):
                    if name not in known:
                        problems.append(
                            (
                                f"{at}.{rel}",
                                f'unknown variable "{name}"; known here: '
                                f"{', '.join(sorted(known)) or 'none'}",
                            )
                        )
            if step.skip_if_defined is not None and step.skip_if_defined not in known:
                problems.append(
                    (
                        f"{at}.skip_if_defined",
                        f'unknown variable "{step.skip_if_defined}"; known here: '
                        f"{', '.join(sorted(known))}",
                    )
                )
            if step.name in names:
                problems.append((f"{at}.name", f'duplicate step name "{step.name}"'))
            names.add(step.name)
            known |= set(step.extractors)
        sends_totp = any("totp" in template_names(v) for s in self.steps for _, v in s.references())
        if sends_totp and self.credentials.totp_secret is None:
            problems.append(
                (
                    "credentials",
                    "a step sends {{totp}} but no totp_secret_env / totp_secret_file is set",
                )
            )
        if problems:
            raise Problems(problems)
        return self

    @property
    def suspend_after_login_rejected(self) -> int:
        return self.suspend_after.login_rejected

    @property
    def suspend_after_otp_rejected(self) -> int:
        return self.suspend_after.otp_rejected

    @property
    def extra_deadline(self) -> float:
        return 31.0 if self.credentials.totp_secret is not None else 0.0

    def secrets(self) -> tuple[Secret, ...]:
        creds = self.credentials
        out = [creds.username, creds.password]
        if creds.totp_secret is not None:
            out.append(creds.totp_secret)
        return tuple(out)

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

import re
from dataclasses import dataclass, field
from typing import Any

from exporter import config as c
from exporter.result import Reason
from exporter.secrets import Secret

TEMPLATE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BUILTINS = ("username", "password", "totp")
REJECT_REASONS = (Reason.LOGIN_REJECTED, Reason.OTP_REJECTED)
DEFAULT_SUSPEND_FOR = 3600.0
_STEP_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    username: Secret
    password: Secret
    totp_secret: Secret | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Extract:
    source: str  # regex | json | header | cookie | form_field | final_url
    arg: str = ""
    pattern: re.Pattern[str] | None = None
    group: int = 1
    optional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectRule:
    reason: Reason
    status: tuple[int, ...] = ()
    body_contains: str | None = None
    body_regex: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepExpect:
    status: tuple[int, ...] = ()
    body_contains: str | None = None
    body_regex: re.Pattern[str] | None = None
    final_host: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    name: str
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] | None = None
    json: Any = None
    follow_redirects: bool = True
    expect: StepExpect = field(default_factory=StepExpect)
    extract: tuple[tuple[str, Extract], ...] = ()
    reject: tuple[RejectRule, ...] = ()
    always_run: bool = False
    skip_if_defined: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginTarget(c.TargetBase):
    credentials: Credentials
    steps: tuple[Step, ...]
    vars: tuple[tuple[str, str], ...] = ()
    tls: c.TLSConfig = field(default_factory=c.TLSConfig)
    persistent_cookies: tuple[str, ...] = ()
    state_file: str | None = None
    # Stop after this many rejections in a row, then pause for `suspend_for`.
    suspend_after_login_rejected: int = 1
    suspend_after_otp_rejected: int = 2
    suspend_for: float = DEFAULT_SUSPEND_FOR

    @property
    def kind(self) -> str:
        return "login"

    @property
    def extra_deadline(self) -> float:
        return 31.0 if self.credentials.totp_secret is not None else 0.0

    def secrets(self) -> tuple[Secret, ...]:
        creds = self.credentials
        out = [creds.username, creds.password]
        if creds.totp_secret is not None:
            out.append(creds.totp_secret)
        return tuple(out)


def template_names(value: Any) -> list[str]:
    """Every `{{name}}` referenced anywhere in a string / list / mapping."""
    if isinstance(value, str):
        return TEMPLATE_RE.findall(value)
    if isinstance(value, dict):
        return [n for v in value.values() for n in template_names(v)]
    if isinstance(value, list):
        return [n for v in value for n in template_names(v)]
    return []


def _check_refs(value: Any, path: str, errs: c._Errors, known: set[str]) -> None:
    for name in template_names(value):
        if name not in known:
            errs.add(
                path,
                f'unknown variable "{name}"; known here: {", ".join(sorted(known)) or "none"}',
            )


def _str_pairs(node: Any, path: str, errs: c._Errors, what: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, dict):
        errs.add(path, f"expected a mapping of {what}, got {c._describe(node)}")
        return ()
    out = []
    for k, v in node.items():
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            errs.add(c._join(path, str(k)), f"expected a string, got {c._describe(v)}")
            continue
        out.append((str(k), str(v)))
    return tuple(out)


def _parse_extract(node: Any, path: str, errs: c._Errors) -> Extract | None:
    sources = {"regex", "json", "header", "cookie", "form_field", "final_url"}
    m = c._mapping(node, path, errs, allowed=sources | {"group", "optional"})
    if m is None:
        return None
    given = [s for s in sources if s in m]
    if len(given) != 1:
        errs.add(path, f"give exactly one of {', '.join(sorted(sources))}")
        return None
    source = given[0]
    optional = (
        bool(c._bool(m["optional"], c._join(path, "optional"), errs)) if "optional" in m else False
    )
    if source == "final_url":
        return Extract(source=source, optional=optional)
    if source == "regex":
        pattern = c.parse_regex(m["regex"], c._join(path, "regex"), errs)
        group = (
            c._int(m["group"], c._join(path, "group"), errs, lo=0, hi=20)
            if "group" in m
            else (1 if pattern is not None and pattern.groups else 0)
        )
        if pattern is None or group is None:
            return None
        if group > pattern.groups:
            errs.add(c._join(path, "group"), f"the regex has only {pattern.groups} group(s)")
            return None
        return Extract(source=source, pattern=pattern, group=group, optional=optional)
    arg = c._str(m[source], c._join(path, source), errs)
    return None if arg is None else Extract(source=source, arg=arg, optional=optional)


def _parse_reject(node: Any, path: str, errs: c._Errors) -> tuple[RejectRule, ...]:
    items = node if isinstance(node, list) else [node]
    out = []
    for i, item in enumerate(items):
        p = c._join(path, i) if isinstance(node, list) else path
        m = c._mapping(
            item,
            p,
            errs,
            allowed={"reason", "status", "body_contains", "body_regex"},
            required={"reason"},
        )
        if m is None:
            continue
        reason = m.get("reason")
        if reason not in {str(r) for r in REJECT_REASONS}:
            errs.add(
                c._join(p, "reason"),
                f"expected login_rejected or otp_rejected, got {c._describe(reason)}",
            )
            continue
        kw: dict[str, Any] = {"reason": Reason(reason)}
        if "status" in m:
            kw["status"] = c.parse_status_list(m["status"], c._join(p, "status"), errs)
        if "body_contains" in m:
            kw["body_contains"] = c._str(m["body_contains"], c._join(p, "body_contains"), errs)
        if "body_regex" in m:
            kw["body_regex"] = c.parse_regex(m["body_regex"], c._join(p, "body_regex"), errs)
        if not {"status", "body_contains", "body_regex"} & set(m):
            errs.add(p, "a reject rule needs status, body_contains or body_regex")
            continue
        out.append(RejectRule(**{k: v for k, v in kw.items() if v is not None}))
    return tuple(out)


def _parse_step(node: Any, path: str, errs: c._Errors, known: set[str]) -> Step | None:
    m = c._mapping(
        node,
        path,
        errs,
        allowed={
            "name",
            "method",
            "url",
            "headers",
            "form",
            "json",
            "follow_redirects",
            "expect",
            "extract",
            "reject",
            "always_run",
            "skip_if_defined",
        },
        required={"name", "url"},
    )
    if m is None:
        return None
    before = len(errs.items)
    name = c._str(m["name"], c._join(path, "name"), errs) if "name" in m else None
    if name is not None and not _STEP_NAME_RE.match(name):
        errs.add(
            c._join(path, "name"),
            "use lower-case letters, digits, '-' or '_', up to 41 characters; "
            f"got {c._describe(name)}",
        )
    kw: dict[str, Any] = {}
    if "url" in m:
        url = c._str(m["url"], c._join(path, "url"), errs)
        if url is not None:
            _check_refs(url, c._join(path, "url"), errs, known)
            if not TEMPLATE_RE.match(url) and not url.startswith(("http://", "https://")):
                errs.add(
                    c._join(path, "url"),
                    f"not an http(s) URL or a {{{{variable}}}}: {c._describe(url)}",
                )
            kw["url"] = url
    method = str(m.get("method", "GET")).upper()
    if method not in ("GET", "POST"):
        errs.add(
            c._join(path, "method"), f"expected GET or POST, got {c._describe(m.get('method'))}"
        )
    kw["method"] = method
    if "headers" in m:
        kw["headers"] = _str_pairs(m["headers"], c._join(path, "headers"), errs, "header values")
        _check_refs(dict(kw["headers"]), c._join(path, "headers"), errs, known)
    if "form" in m and "json" in m:
        errs.add(path, "give only one of form and json")
    if "form" in m:
        kw["form"] = _str_pairs(m["form"], c._join(path, "form"), errs, "form fields")
        for k, v in kw["form"]:
            _check_refs(v, c._join(c._join(path, "form"), k), errs, known)
    if "json" in m:
        if not isinstance(m["json"], (dict, list)):
            errs.add(
                c._join(path, "json"), f"expected a mapping or list, got {c._describe(m['json'])}"
            )
        else:
            _check_refs(m["json"], c._join(path, "json"), errs, known)
            kw["json"] = m["json"]
    if ("form" in m or "json" in m) and method == "GET":
        errs.add(c._join(path, "method"), "a step with form or json must use POST")
    if "follow_redirects" in m:
        kw["follow_redirects"] = c._bool(
            m["follow_redirects"], c._join(path, "follow_redirects"), errs
        )
    if "always_run" in m:
        kw["always_run"] = c._bool(m["always_run"], c._join(path, "always_run"), errs)
    if "skip_if_defined" in m:
        var = c._str(m["skip_if_defined"], c._join(path, "skip_if_defined"), errs)
        if var is not None and var not in known:
            errs.add(
                c._join(path, "skip_if_defined"),
                f'unknown variable "{var}"; known here: {", ".join(sorted(known))}',
            )
        kw["skip_if_defined"] = var
    if "expect" in m:
        e = c._mapping(
            m["expect"],
            c._join(path, "expect"),
            errs,
            allowed={"status", "body_contains", "body_regex", "final_host"},
        )
        if e is not None:
            ep = c._join(path, "expect")
            ekw: dict[str, Any] = {}
            if "status" in e:
                ekw["status"] = c.parse_status_list(e["status"], c._join(ep, "status"), errs)
            if "body_contains" in e:
                ekw["body_contains"] = c._str(
                    e["body_contains"], c._join(ep, "body_contains"), errs
                )
            if "body_regex" in e:
                ekw["body_regex"] = c.parse_regex(e["body_regex"], c._join(ep, "body_regex"), errs)
            if "final_host" in e:
                ekw["final_host"] = c._str(e["final_host"], c._join(ep, "final_host"), errs)
            kw["expect"] = StepExpect(**{k: v for k, v in ekw.items() if v is not None})
    if "reject" in m:
        kw["reject"] = _parse_reject(m["reject"], c._join(path, "reject"), errs)
    extracted: list[tuple[str, Extract]] = []
    if "extract" in m:
        ep = c._join(path, "extract")
        if not isinstance(m["extract"], dict):
            errs.add(
                ep,
                f"expected a mapping of variable names to sources, got {c._describe(m['extract'])}",
            )
        else:
            for var, spec in m["extract"].items():
                vp = c._join(ep, str(var))
                if not isinstance(var, str) or not _VAR_RE.match(var):
                    errs.add(vp, "not a valid variable name")
                    continue
                if var in BUILTINS:
                    errs.add(vp, f'"{var}" is a built-in variable and cannot be extracted')
                    continue
                ex = _parse_extract(spec, vp, errs)
                if ex is not None:
                    extracted.append((var, ex))
    kw["extract"] = tuple(extracted)
    if len(errs.items) != before or name is None or "url" not in kw:
        return None
    return Step(name=name, **kw)


def _parse_credentials(node: Any, path: str, errs: c._Errors) -> Credentials | None:
    m = c._mapping(
        node,
        path,
        errs,
        allowed={
            "username",
            "username_env",
            "username_file",
            "password",
            "password_env",
            "password_file",
            "totp_secret",
            "totp_secret_env",
            "totp_secret_file",
        },
    )
    if m is None:
        return None
    user = c._secret_from(m, path, errs, stem="username")
    pw = c._secret_from(m, path, errs, stem="password")
    totp = c._secret_from(m, path, errs, stem="totp_secret", required=False)
    if totp is not None:
        import base64
        import binascii

        try:
            base64.b32decode(totp.reveal().upper().replace(" ", ""), casefold=True)
        except (binascii.Error, ValueError):
            errs.add(
                path, "the TOTP secret is not valid base32 (as shown by the authenticator set-up)"
            )
            return None
    if pw is not None and len(pw.reveal()) < 4:
        errs.add(path, "the password is too short to be real")
        return None
    if user is None or pw is None:
        return None
    return Credentials(username=user, password=pw, totp_secret=totp)


def parse_login(
    m: dict[str, Any], path: str, errs: c._Errors, common: dict[str, Any]
) -> LoginTarget | None:
    before = len(errs.items)
    kw: dict[str, Any] = {}
    if "interval" in m and common["interval"] < c.MIN_LOGIN_INTERVAL:
        errs.add(
            c._join(path, "interval"),
            "logins run at most once a minute to protect the account; "
            f"got {c._fmt(common['interval'])}",
        )
    elif "interval" not in m:
        common = {**common, "interval": max(common["interval"], c.MIN_LOGIN_INTERVAL)}
    if "timeout" not in m:
        common = {**common, "timeout": max(common["timeout"], 30.0)}
    creds = (
        _parse_credentials(m["credentials"], c._join(path, "credentials"), errs)
        if "credentials" in m
        else None
    )
    variables: tuple[tuple[str, str], ...] = ()
    if "vars" in m:
        variables = _str_pairs(m["vars"], c._join(path, "vars"), errs, "variables")
        for k, _ in variables:
            if not _VAR_RE.match(k) or k in BUILTINS:
                errs.add(c._join(c._join(path, "vars"), k), "not a usable variable name")
    if "tls" in m:
        kw["tls"] = c._parse_tls(m["tls"], c._join(path, "tls"), errs, tcp=False)
    if "persistent_cookies" in m:
        pc = m["persistent_cookies"]
        if not isinstance(pc, list) or not all(isinstance(x, str) and x for x in pc):
            errs.add(c._join(path, "persistent_cookies"), "expected a list of cookie names")
        else:
            kw["persistent_cookies"] = tuple(pc)
            if "state_file" not in m:
                errs.add(
                    c._join(path, "state_file"),
                    "is required with persistent_cookies (a file only the exporter can read)",
                )
    if "state_file" in m:
        kw["state_file"] = c._str(m["state_file"], c._join(path, "state_file"), errs)
    if "suspend_for" in m:
        kw["suspend_for"] = c._duration(m["suspend_for"], c._join(path, "suspend_for"), errs)
    if "suspend_after" in m:
        sp = c._join(path, "suspend_after")
        s = c._mapping(m["suspend_after"], sp, errs, allowed={"login_rejected", "otp_rejected"})
        if s is not None and "login_rejected" in s:
            kw["suspend_after_login_rejected"] = c._int(
                s["login_rejected"], c._join(sp, "login_rejected"), errs, lo=1, hi=2
            )
        if s is not None and "otp_rejected" in s:
            kw["suspend_after_otp_rejected"] = c._int(
                s["otp_rejected"], c._join(sp, "otp_rejected"), errs, lo=1, hi=2
            )
    known = set(BUILTINS) | {k for k, _ in variables}
    steps: list[Step] = []
    raw = m.get("steps")
    if not isinstance(raw, list) or not raw:
        errs.add(
            c._join(path, "steps"), f"expected a non-empty list of steps, got {c._describe(raw)}"
        )
    else:
        names: set[str] = set()
        for i, node in enumerate(raw):
            sp = c._join(c._join(path, "steps"), i)
            step = _parse_step(node, sp, errs, known)
            if step is None:
                continue
            if step.name in names:
                errs.add(c._join(sp, "name"), f'duplicate step name "{step.name}"')
            names.add(step.name)
            known |= {var for var, _ in step.extract}
            steps.append(step)
        if (
            creds is not None
            and creds.totp_secret is None
            and "totp"
            in {n for node in raw if isinstance(node, dict) for n in template_names(node)}
        ):
            errs.add(
                c._join(path, "credentials"),
                "a step sends {{totp}} but no totp_secret_env / totp_secret_file is set",
            )
    if len(errs.items) != before or creds is None:
        return None
    return LoginTarget(
        **common,
        credentials=creds,
        steps=tuple(steps),
        vars=variables,
        **{k: v for k, v in kw.items() if v is not None},
    )


c.register_kind(
    "login",
    {
        "credentials",
        "steps",
        "vars",
        "tls",
        "persistent_cookies",
        "state_file",
        "suspend_for",
        "suspend_after",
    },
    {"credentials", "steps"},
    parse_login,
)

"""Pure message rendering: an Alertmanager group becomes template values and SMS texts.

`group_values()` derives the placeholder values for one webhook: FIRING/RESOLVED,
*what* is affected (Parichay, e-Office, or the network of a vantage), scope, the
IST start time, and how many alerts the group holds, in English and Hindi.
`render()` fills a compiled template with them. `dedup_key()` identifies a
notification across Alertmanager retries and HA peers; `alert_ids()` identifies each alert
of one incident. `resolved_email()` is the RESOLVED email of a page group, worded as
Alertmanager's own template (alertmanager/templates/) words it. Nothing here does I/O.

Example: for a ParichayDown group that started at 04:12Z, ``group_values(...)`` gives
``what="Parichay"``, ``what_hi="परिचय"`` and ``since="25 Nov 09:42"`` (IST).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from servicekit import phrasebook as words

from .payload import Alert, WebhookMessage
from .templates import CompiledTemplate, FilledText, fill


def dedup_key(message: WebhookMessage) -> str:
    """(groupKey, status, sorted fingerprint+startsAt) hashed: equal for AM retries and HA peers."""
    alerts = sorted(f"{a.fingerprint}@{a.starts_at.isoformat()}" for a in message.alerts)
    material = "\x1f".join([message.group_key, message.status, *alerts])
    return hashlib.sha256(material.encode()).hexdigest()


def alert_ids(alerts: tuple[Alert, ...]) -> set[str]:
    """`fingerprint@startsAt` of each alert: one alert of one incident (a re-fire has a new
    startsAt)."""
    return {f"{a.fingerprint}@{a.starts_at.isoformat()}" for a in alerts}


def counted_alerts(message: WebhookMessage) -> tuple[Alert, ...]:
    """The alerts the SMS talks about: those sharing the group's status (all, if none do)."""
    same = tuple(a for a in message.alerts if a.status == message.status)
    return same or message.alerts


def _label(message: WebhookMessage, name: str) -> str:
    if name in message.common_labels:
        return message.common_labels[name]
    values = {a.labels.get(name, "") for a in message.alerts} - {""}
    if len(values) == 1:
        return values.pop()
    if len(values) > 1:
        return f"{len(values)} {name}s"
    return ""


def _annotation(message: WebhookMessage, alerts: tuple[Alert, ...], name: str) -> str:
    if name in message.common_annotations:
        return message.common_annotations[name]
    return alerts[0].annotations.get(name, "")


def _service(alertname: str, role: str, scope: str, target: str) -> tuple[str, str] | None:
    if role == "sso" or alertname.startswith("Parichay") or scope == "central":
        return (words.PARICHAY.en, words.PARICHAY.hi)
    if role == "app" or alertname.startswith("EOffice") or scope == "app":
        suffix = f" {target}" if target else ""
        return (f"{words.EOFFICE.en}{suffix}", f"{words.EOFFICE.hi}{suffix}")
    return None


def _short_site(vantage: str) -> str:
    """``district-haridwar`` -> ``haridwar``: the place, without the kind of office."""
    return vantage.rsplit("-", 1)[-1]


def _path_what(
    service: tuple[str, str], target: str, vantages: list[str], max_chars: int
) -> tuple[str, str]:
    """Name the failing sites as fully as the DLT variable limit allows.

    Tries full vantage names, then the short place names, then a terser form, and
    finally a count: ``Parichay from district-haridwar, secretariat-dehradun`` ->
    ``Parichay from haridwar, dehradun`` -> ``Parichay: haridwar, dehradun`` ->
    ``Parichay from 2 sites``. English and Hindi are chosen independently.
    """
    en, hi = service
    bases = [(en, hi)]
    if target and en.endswith(f" {target}"):
        # e-Office's target name is the first thing to drop: the alertname says e-Office.
        bases.append((en.removesuffix(f" {target}"), hi.removesuffix(f" {target}")))
    forms = [", ".join(vantages)]
    short = [_short_site(v) for v in vantages]
    if len(set(short)) == len(short) and short != vantages:
        forms.append(", ".join(short))

    def fits(text: str) -> bool:
        return max_chars <= 0 or len(text) <= max_chars

    english = [f"{b} from {f}" for b, _ in bases for f in forms]
    english += [f"{b}: {f}" for b, _ in bases for f in forms[1:]]
    hindi = [f"{f} से {h}" for _, h in bases for f in forms]
    count = len(vantages)
    fallback_en = f"{bases[-1][0]} from {count} site{'s' if count != 1 else ''}"
    fallback_hi = f"{count} {'स्थानों' if count != 1 else 'स्थान'} से {bases[-1][1]}"
    return (
        next((t for t in english if fits(t)), fallback_en),
        next((t for t in hindi if fits(t)), fallback_hi),
    )


def _what(
    alertname: str,
    labels: Mapping[str, str],
    scope: str,
    *,
    vantages: list[str] | None = None,
    max_chars: int = 0,
) -> tuple[str, str]:
    role = labels.get("role", "")
    target = labels.get("target", "")
    vantage = labels.get("vantage", "")
    service = _service(alertname, role, scope, target)
    if scope == "path" and service is not None and vantages:
        return _path_what(service, target, vantages, max_chars)
    if alertname == "VantageNetworkDown" or scope == "local":
        network = words.SITE_NETWORK.format(site=vantage)
        return (network.en, network.hi)
    if service is not None:
        return service
    if scope == "monitoring":
        where = vantage or labels.get("job", "")
        suffix = f" {where}" if where else ""
        monitoring = words.SCOPE["monitoring"]
        return (f"{monitoring.en}{suffix}", f"{monitoring.hi}{suffix}")
    return (alertname, alertname)


_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def format_time(moment: datetime, tz: ZoneInfo) -> str:
    """``25 Nov 09:42`` in `tz`; month names fixed in English whatever the process locale."""
    local = moment.astimezone(tz)
    return f"{local.day:02d} {_MONTHS[local.month - 1]} {local.hour:02d}:{local.minute:02d}"


def group_values(
    message: WebhookMessage, *, tz: ZoneInfo, max_var_chars: int = 0
) -> dict[str, str]:
    """Placeholder values for every template field (see templates.FIELDS).

    `max_var_chars` (the DLT per-variable limit, 0 = none) lets `what` for a `path`
    alert pick a list of sites that fits rather than one cut off mid-name.
    """
    alerts = counted_alerts(message)
    labels = {
        name: _label(message, name)
        for name in ("alertname", "severity", "scope", "target", "vantage", "role", "job")
    }
    alertname = labels["alertname"] or alerts[0].labels.get("alertname", "alert")
    scope = labels["scope"]
    vantages = sorted({a.labels["vantage"] for a in alerts if a.labels.get("vantage")})
    what, what_hi = _what(alertname, labels, scope, vantages=vantages, max_chars=max_var_chars)
    count = len(alerts) + (message.truncated_alerts if message.status == "firing" else 0)
    since = min(a.starts_at for a in alerts)
    ends = [a.ends_at for a in alerts if a.ends_at is not None]
    values = {
        "status": words.STATUS[message.status].en,
        "status_hi": words.STATUS[message.status].hi,
        "alertname": alertname,
        "what": what,
        "what_hi": what_hi,
        "scope": scope,
        "scope_hi": words.SCOPE[scope].hi if scope in words.SCOPE else scope,
        "severity": labels["severity"],
        "target": labels["target"],
        "vantage": labels["vantage"],
        "since": format_time(since, tz),
        "ended": format_time(max(ends), tz) if ends else "",
        "count": str(count),
        "more": f" (+{count - 1} more)" if count > 1 else "",
        "more_hi": f" (+{count - 1} अन्य)" if count > 1 else "",
        "summary": _annotation(message, alerts, "summary"),
        "summary_hi": _annotation(message, alerts, "summary_hi"),
    }
    for name, value in message.common_labels.items():
        values[f"label.{name}"] = value
    return values


def render(template: CompiledTemplate, values: Mapping[str, str], *, max_parts: int) -> FilledText:
    """The SMS text for one template; always matches the template's DLT registration."""
    return fill(template, values, max_parts=max_parts)


# The RESOLVED email: the same subject grammar and lines as alertmanager/templates/parichay.tmpl,
# from the same phrasebook entries (tests/servicekit/test_phrasebook.py checks the template).
RESOLVED_LINES: Final = (words.EMAIL_ALL_RESOLVED.en, words.EMAIL_ALL_RESOLVED.hi)
EVERY_VANTAGE: Final = f"{words.EMAIL_ALL_VANTAGES.en} / {words.EMAIL_ALL_VANTAGES.hi}"
_RULE: Final = "-" * 60


def _email_time(moment: datetime, tz: ZoneInfo) -> str:
    """``07 Dec 2026 09:42 IST (04:12 UTC)``, as the Alertmanager template prints it."""
    local = moment.astimezone(tz)
    utc = moment.astimezone(ZoneInfo("UTC"))
    month = _MONTHS[local.month - 1]
    return f"{local:%d} {month} {local:%Y %H:%M} {local.tzname()} ({utc:%H:%M} UTC)"


def _vantages(labels: Mapping[str, str]) -> str:
    if labels.get("vantage"):
        return labels["vantage"]
    if labels.get("scope") in ("central", "app"):
        return EVERY_VANTAGE
    return "-"


def _field(name: str, width: int = 0) -> str:
    """`Target / लक्ष्य`, or `Target / लक्ष्य:` padded to `width` as the template aligns it."""
    label = words.EMAIL_FIELDS[name]
    text = f"{label.en} / {label.hi}"
    return f"{text}:".ljust(width) if width else text


def _status(status: str) -> str:
    word = words.STATUS[status]
    return f"{word.en} / {word.hi}"


def resolved_email(message: WebhookMessage, *, tz: ZoneInfo) -> tuple[str, str]:
    """(subject, plain text) of the RESOLVED email of a page group."""
    alertname, scope = _label(message, "alertname"), _label(message, "scope")
    target = _label(message, "target")
    head = f"{alertname} | scope: {scope}"
    if target:
        head += f" | target: {target}"
    done = words.STATUS_SUBJECT["resolved"]
    subject = f"[{done.en}] {_label(message, 'severity').upper()} {head} | {done.hi}"
    lines = [
        f"{done.en} / {done.hi}: {alertname}",
        f"{_field('scope')}: {scope}" + (f"    {_field('target')}: {target}" if target else ""),
        "",
        *RESOLVED_LINES,
        "",
    ]
    for alert in message.alerts:
        labels, notes = alert.labels, alert.annotations
        name, level = labels.get("alertname", ""), labels.get("severity", "")
        lines += [
            _RULE,
            f"{name} [{_status('resolved')}] severity: {level}",
            notes.get("summary", ""),
            notes.get("summary_hi", ""),
            "",
            f"{_field('target', 24)}{labels.get('target') or labels.get('instance') or '-'}",
            f"{_field('vantages', 24)}{_vantages(labels)}",
            f"{_field('since', 24)}{_email_time(alert.starts_at, tz)}",
        ]
        if alert.ends_at is not None:
            lines.append(f"{_field('resolved', 24)}{_email_time(alert.ends_at, tz)}")
        lines.append(f"{_field('runbook', 24)}{notes.get('runbook_url', '')}")
    lines += [_RULE, f"Alertmanager: {message.external_url}"]
    return subject, "\n".join(lines) + "\n"

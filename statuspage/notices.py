"""Maintenance windows and operator notices, stored as Alertmanager silences.

Alertmanager is the only store: a window is a silence created by `parichay-status` with
`createdBy: parichay-status` and a structured comment, so it silences the service's alerts,
is shared by the Alertmanager cluster, and any operator can see it in Alertmanager's UI::

    parichay-status:v1 {"kind": "maintenance", "service": "parichay",
                        "note_en": "...", "note_hi": "..."}      (one line)

A free-text notice is the same with `"kind": "notice"` and a matcher no alert carries
(`alertname="ParichayStatusNotice"`), so it silences nothing. Alertmanager forgets expired
silences after a few days; the history of windows lives in Prometheus instead, through the
`parichay_maintenance_active` metric that `parichay-status serve` exports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from statuspage.alertmanager import AlertmanagerAPI, Matcher, Silence
from statuspage.reading import SITE_PREFIX, SSO_SERVICE

CREATED_BY = "parichay-status"
COMMENT_PREFIX = "parichay-status:v1 "
NOTICE_ALERTNAME = "ParichayStatusNotice"


@dataclass(frozen=True, slots=True)
class Notice:
    """A maintenance window (kind `maintenance`) or a free-text notice (kind `notice`)."""

    id: str
    kind: str
    service: str
    note_en: str
    note_hi: str
    start: datetime
    end: datetime
    state: str  # active | pending | expired

    def active_at(self, now: datetime) -> bool:
        return self.state != "expired" and self.start <= now < self.end

    def upcoming_at(self, now: datetime) -> bool:
        return self.state != "expired" and now < self.start


def under_maintenance(
    notices: Iterable[Notice], *, now: datetime, sso_dependents: Sequence[str] = ()
) -> frozenset[str]:
    """The rows in maintenance at `now`: each active window's service and, for a window of
    Parichay, the e-Office rows that log in through it (`sso_dependents`), which cannot
    work while Parichay is in maintenance."""
    out = {n.service for n in notices if n.kind == "maintenance" and n.active_at(now)}
    if SSO_SERVICE in out:
        out.update(sso_dependents)
    return frozenset(out)


def matchers_for(*, kind: str, service: str) -> list[Matcher]:
    """The silence matchers: the service's alerts for maintenance, nothing for a notice."""
    if kind == "notice":
        return [Matcher(name="alertname", value=NOTICE_ALERTNAME)]
    if service == SSO_SERVICE:
        return [Matcher(name="alertname", value="Parichay.*", is_regex=True)]
    if service.startswith(SITE_PREFIX):
        return [Matcher(name="vantage", value=service.removeprefix(SITE_PREFIX))]
    return [Matcher(name="target", value=service)]


def comment_for(*, kind: str, service: str, note_en: str, note_hi: str) -> str:
    body = {"kind": kind, "service": service, "note_en": note_en, "note_hi": note_hi}
    return COMMENT_PREFIX + json.dumps(body, ensure_ascii=False, sort_keys=True)


def from_silence(silence: Silence) -> Notice | None:
    """The notice a silence carries, or None if `parichay-status` did not create it."""
    if silence.created_by != CREATED_BY or not silence.comment.startswith(COMMENT_PREFIX):
        return None
    try:
        body = json.loads(silence.comment.removeprefix(COMMENT_PREFIX))
    except json.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.get("kind") not in ("maintenance", "notice"):
        return None
    return Notice(
        id=silence.id,
        kind=str(body["kind"]),
        service=str(body.get("service", "")),
        note_en=str(body.get("note_en", "")),
        note_hi=str(body.get("note_hi", "")),
        start=silence.starts_at,
        end=silence.ends_at,
        state=silence.state,
    )


async def list_notices(am: AlertmanagerAPI, *, include_expired: bool = False) -> list[Notice]:
    """Windows and notices held by Alertmanager, soonest first."""
    found = [n for s in await am.silences() if (n := from_silence(s)) is not None]
    if not include_expired:
        found = [n for n in found if n.state != "expired"]
    return sorted(found, key=lambda n: (n.start, n.id))


async def add_notice(
    am: AlertmanagerAPI,
    *,
    kind: str,
    service: str,
    start: datetime,
    end: datetime,
    note_en: str,
    note_hi: str,
) -> str:
    """Create the silence for a window or notice; return its id."""
    return await am.create_silence(
        matchers=matchers_for(kind=kind, service=service),
        starts_at=start,
        ends_at=end,
        created_by=CREATED_BY,
        comment=comment_for(kind=kind, service=service, note_en=note_en, note_hi=note_hi),
    )


class NotOurs(LookupError):
    """The id names no silence created by parichay-status."""


async def remove_notice(am: AlertmanagerAPI, *, notice_id: str) -> Notice:
    """Expire a window or notice; silences created by anyone else are left alone."""
    for notice in await list_notices(am, include_expired=False):
        if notice.id == notice_id:
            await am.expire_silence(notice_id)
            return notice
    raise NotOurs(
        f"no active or pending maintenance window or notice has id {notice_id!r}; "
        "see `parichay-status maintenance list`"
    )

"""Alertmanager's API v2: alerts with their silenced / inhibited state, and silences.

`AlertmanagerClient` reads one member; `AlertmanagerCluster` asks the members of a cluster
in turn and answers from the first that can be read (they share alerts and silences through
gossip). Requests, credentials, TLS and errors are `statuspage.sources`' (`ApiClient`,
`SourceError`). `Matcher.matches` decides a label set as Alertmanager does.

Example::

    async with AlertmanagerClient(url="http://127.0.0.1:9093") as am:
        silenced = [a for a in await am.alerts() if a.silenced_by]
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from statuspage.sources import ApiClient, AsyncClosing, SourceError, label_map


@dataclass(frozen=True, slots=True)
class Matcher:
    """An Alertmanager label matcher (`name="value"`, `!=`, `=~`, `!~`)."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set matches, as Alertmanager decides it (regexes are anchored)."""
        actual = labels.get(self.name, "")
        hit = (
            re.fullmatch(self.value, actual) is not None if self.is_regex else actual == self.value
        )
        return hit == self.is_equal


AlertState = Literal["active", "suppressed", "unprocessed"]


@dataclass(frozen=True, slots=True)
class AmAlert:
    """An alert as Alertmanager holds it."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    state: str
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    fingerprint: str = ""

    @property
    def notified(self) -> bool:
        """Active and neither silenced nor inhibited: Alertmanager sends (or sent) it."""
        return self.state == "active" and not self.silenced_by and not self.inhibited_by


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence: matchers, a window, who created it and a free-text comment."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: str = field(default="active")  # active | pending | expired


def _time(raw: Any) -> datetime:
    text = str(raw)
    # Alertmanager writes nanoseconds ("...:00.123456789Z"); Python parses microseconds.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("silence times must be timezone-aware")
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


class AlertmanagerClient(ApiClient):
    """Alertmanager API v2: alerts with their state, and silences."""

    source = "Alertmanager"

    async def alerts(
        self,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        filters: Sequence[Matcher] = (),
    ) -> list[AmAlert]:
        """Alerts Alertmanager holds now (by default every one, muted or not)."""
        params = [
            ("active", str(active).lower()),
            ("silenced", str(silenced).lower()),
            ("inhibited", str(inhibited).lower()),
        ]
        for m in filters:
            op = ("=~" if m.is_regex else "=") if m.is_equal else ("!~" if m.is_regex else "!=")
            params.append(("filter", f"{m.name}{op}{json.dumps(m.value)}"))
        payload = await self._request("GET", "/api/v2/alerts", params=params)
        if not isinstance(payload, list):
            raise self.error("the answer is not an Alertmanager alert list", reached=True)
        out = []
        for raw in payload:
            status = raw.get("status") or {}
            ends = raw.get("endsAt")
            out.append(
                AmAlert(
                    labels=label_map(raw.get("labels")),
                    annotations=label_map(raw.get("annotations")),
                    starts_at=_time(raw.get("startsAt")),
                    ends_at=_time(ends) if ends else None,
                    state=str(status.get("state", "unprocessed")),
                    silenced_by=tuple(status.get("silencedBy") or ()),
                    inhibited_by=tuple(status.get("inhibitedBy") or ()),
                    fingerprint=str(raw.get("fingerprint", "")),
                )
            )
        return out

    async def silences(self) -> list[Silence]:
        """Every silence Alertmanager still remembers (active, pending and recently expired)."""
        payload = await self._request("GET", "/api/v2/silences")
        if not isinstance(payload, list):
            raise self.error("the answer is not an Alertmanager silence list", reached=True)
        out = []
        for raw in payload:
            out.append(
                Silence(
                    id=str(raw.get("id", "")),
                    matchers=tuple(
                        Matcher(
                            name=str(m.get("name", "")),
                            value=str(m.get("value", "")),
                            is_regex=bool(m.get("isRegex", False)),
                            is_equal=bool(m.get("isEqual", True)),
                        )
                        for m in raw.get("matchers") or ()
                    ),
                    starts_at=_time(raw.get("startsAt")),
                    ends_at=_time(raw.get("endsAt")),
                    created_by=str(raw.get("createdBy", "")),
                    comment=str(raw.get("comment", "")),
                    state=str((raw.get("status") or {}).get("state", "active")),
                )
            )
        return out

    async def create_silence(
        self,
        *,
        matchers: Sequence[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """Create a silence and return its id."""
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        if ends_at <= starts_at:
            raise ValueError("a silence must end after it starts")
        payload = await self._request(
            "POST",
            "/api/v2/silences",
            body={
                "matchers": [m.to_api() for m in matchers],
                "startsAt": _iso(starts_at),
                "endsAt": _iso(ends_at),
                "createdBy": created_by,
                "comment": comment,
            },
        )
        if not isinstance(payload, dict) or "silenceID" not in payload:
            raise self.error("the answer carries no silence id", reached=True)
        return str(payload["silenceID"])

    async def expire_silence(self, silence_id: str) -> None:
        """Expire (end now) a silence; an unknown id is a `SourceError` naming it."""
        await self._request("DELETE", f"/api/v2/silence/{silence_id}")

    async def config_text(self) -> str:
        """The running configuration as YAML (`/api/v2/status`), secrets already hidden."""
        payload = await self._request("GET", "/api/v2/status")
        config = payload.get("config") if isinstance(payload, dict) else None
        if not isinstance(config, dict) or not isinstance(config.get("original"), str):
            raise self.error("the status answer carries no configuration", reached=True)
        return str(config["original"])


class AlertmanagerAPI(Protocol):
    """What the page, the notices and the CLI need from Alertmanager (one member or a cluster)."""

    public_url: str

    async def alerts(
        self,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        filters: Sequence[Matcher] = (),
    ) -> list[AmAlert]: ...

    async def silences(self) -> list[Silence]: ...

    async def create_silence(
        self,
        *,
        matchers: Sequence[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str: ...

    async def expire_silence(self, silence_id: str) -> None: ...

    async def config_text(self) -> str: ...

    async def aclose(self) -> None: ...


T = TypeVar("T")


class AlertmanagerCluster(AsyncClosing):
    """The members of one Alertmanager cluster: each call goes to the first member that answers.

    Members share silences by gossip and each receives every alert from Prometheus, so any
    one of them is enough; the page keeps working while one member is down.
    """

    def __init__(self, members: Sequence[AlertmanagerClient]) -> None:
        if not members:
            raise ValueError("an Alertmanager cluster needs at least one member URL")
        self.members = tuple(members)
        self.public_url = ", ".join(m.public_url for m in self.members)

    async def aclose(self) -> None:
        for member in self.members:
            await member.aclose()

    async def _first(self, call: Callable[[AlertmanagerClient], Awaitable[T]]) -> T:
        errors: list[SourceError] = []
        for member in self.members:
            try:
                return await call(member)
            except SourceError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        parts = "; ".join(f"{e.url}: {e.reason}" for e in errors)
        raise SourceError(
            source="Alertmanager",
            url=self.public_url,
            reason=parts,
            reached=any(e.reached for e in errors),
            message=f"could not read any Alertmanager ({parts})",
        )

    async def alerts(
        self,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        filters: Sequence[Matcher] = (),
    ) -> list[AmAlert]:
        return await self._first(
            lambda m: m.alerts(
                active=active, silenced=silenced, inhibited=inhibited, filters=filters
            )
        )

    async def silences(self) -> list[Silence]:
        return await self._first(lambda m: m.silences())

    async def create_silence(
        self,
        *,
        matchers: Sequence[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        return await self._first(
            lambda m: m.create_silence(
                matchers=matchers,
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=created_by,
                comment=comment,
            )
        )

    async def expire_silence(self, silence_id: str) -> None:
        await self._first(lambda m: m.expire_silence(silence_id))

    async def config_text(self) -> str:
        return await self._first(lambda m: m.config_text())

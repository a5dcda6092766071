"""Whether and when an incident paged: maintenance silences and Alertmanager's group_wait.

The page and the report both ask this, so the answer lives here once. A maintenance window
of a row is the silence `statuspage.notices.matchers_for` creates; applied to the windows
Prometheus recorded (`parichay_maintenance_active`, which also covers the e-Office login
rows during a window of Parichay, see `notices.under_maintenance`), it tells which instants
of an incident were silenced. Alertmanager sends a first page only after `group_wait`, read
from its running config (`read_group_wait`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import yaml

from statuspage.alertmanager import AlertmanagerAPI
from statuspage.history import Incident, Window
from statuspage.notices import matchers_for

# alertmanager/alertmanager.yml: the page routes inherit the root's group_wait.
SHIPPED_GROUP_WAIT_S = 10.0
# Alertmanager's own default when a config sets no group_wait.
ALERTMANAGER_DEFAULT_GROUP_WAIT_S = 30.0


def page_group_wait(config_text: str) -> float | None:
    """The group_wait of the first route that takes `severity="page"`, from a config's YAML."""
    try:
        config = yaml.safe_load(config_text) or {}
    except yaml.YAMLError:
        return None
    route = config.get("route") if isinstance(config, dict) else None
    if not isinstance(route, dict):
        return None
    wait = _duration(route.get("group_wait"), ALERTMANAGER_DEFAULT_GROUP_WAIT_S)
    for child in route.get("routes") or ():
        if isinstance(child, dict) and _takes_pages(child):
            return _duration(child.get("group_wait"), wait)
    return wait


def _takes_pages(route: Mapping[str, Any]) -> bool:
    match = route.get("match") or {}
    if isinstance(match, dict) and match.get("severity") == "page":
        return True
    for matcher in route.get("matchers") or ():
        text = str(matcher).replace(" ", "")
        if text in ('severity="page"', "severity=page", "severity='page'"):
            return True
    return False


def _duration(raw: Any, default: float) -> float:
    if raw is None:
        return default
    total = 0.0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", str(raw))
    if not parts:
        return default
    for number, unit in parts:
        total += int(number) * units[unit]
    return total


async def read_group_wait(am: AlertmanagerAPI | None) -> tuple[float, str]:
    """Page group_wait from Alertmanager's running config, or the shipped value."""
    if am is None:
        return SHIPPED_GROUP_WAIT_S, "shipped alertmanager.yml (no --alertmanager-url given)"
    text = await am.config_text()
    wait = page_group_wait(text)
    if wait is None:
        return SHIPPED_GROUP_WAIT_S, "shipped alertmanager.yml (Alertmanager's config unreadable)"
    return wait, f"Alertmanager at {am.public_url}"


def silenced_by(window: Window, labels: Mapping[str, str]) -> bool:
    """Whether the silence of a maintenance window of `window.service` matches an alert.

    The matchers are those `parichay-status maintenance add` gives the silence
    (`statuspage.notices.matchers_for`), applied as Alertmanager does (regexes anchored).
    """
    return all(
        m.matches(labels) for m in matchers_for(kind="maintenance", service=window.service)
    )


def paging_start(
    incident: Incident, windows: Sequence[Window], *, group_wait: float
) -> float | None:
    """When an incident could first page despite maintenance silences; None: it never could.

    The incident fires from `paged_at` to `end`. At an instant it is silenced when each of its
    alerts (label sets) is matched by a maintenance window covering that instant. With no
    silenced instant, it paged at `paged_at`. Otherwise it paged at the start of the first
    unsilenced firing stretch that lasts at least `group_wait` (Alertmanager waits that long
    before the first notification, so a shorter tail at a window's edge pages nobody); with no
    such stretch it fired only inside maintenance and nobody was paged (None).
    """
    labels = incident.labels or ({"alertname": incident.alertname, "scope": incident.scope},)
    start, end = incident.paged_at, incident.end
    covering = [
        [w for w in windows if silenced_by(w, lb) and w.end > start and w.start < end]
        for lb in labels
    ]
    if not all(covering):
        return start
    inside = {t for ws in covering for w in ws for t in (w.start, w.end) if start < t < end}
    cuts = sorted({start, end} | inside)
    stretches: list[list[float]] = []  # unsilenced [from, to]
    silenced_any = False
    for a, b in pairwise(cuts):
        mid = (a + b) / 2
        if all(any(w.start <= mid < w.end for w in ws) for ws in covering):
            silenced_any = True
            continue
        if stretches and stretches[-1][1] == a:
            stretches[-1][1] = b
        else:
            stretches.append([a, b])
    if not silenced_any:
        return start
    return next((a for a, b in stretches if b - a >= group_wait), None)

"""One vantage's own page: the exporter's `/` (bilingual, English / Hindi) and `/status.json`.

The state-wide page over every vantage and 90 days is the `statuspage` package
(`parichay-status`); this one shows what this exporter sees now, for secretariat staff.

It answers one question in one sentence at the top ("e-Office login is down because
Parichay (NIC, Delhi) is down since 09:42 IST; ITDA is checking"), then lists each
check. It shows only target names, roles, states and reasons in words: never URLs, details
or anything from the config that could be a secret. Times are IST.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exporter.config import Role
from exporter.kinds import kind_of
from exporter.store import Store, TargetState
from servicekit import phrasebook as words
from servicekit.clock import IST

REASON_TEXT: dict[str, tuple[str, str]] = {
    "dns_error": ("name lookup (DNS) failed", "नाम खोज (DNS) विफल"),
    "connect_refused": ("connection refused or closed", "कनेक्शन अस्वीकार या बंद"),
    "connect_timeout": ("no answer to connect", "कनेक्ट करने पर कोई उत्तर नहीं"),
    "tls_error": ("secure connection (TLS) failed", "सुरक्षित कनेक्शन (TLS) विफल"),
    "cert_expired": ("security certificate expired", "सुरक्षा प्रमाणपत्र की अवधि समाप्त"),
    "timeout": ("too slow, timed out", "बहुत धीमा, समय सीमा समाप्त"),
    "http_5xx": ("server error", "सर्वर त्रुटि"),
    "http_4xx": ("request refused by the server", "सर्वर ने अनुरोध अस्वीकार किया"),
    "unexpected_status": ("unexpected answer", "अप्रत्याशित उत्तर"),
    "content_mismatch": ("page content wrong", "पृष्ठ की सामग्री गलत"),
    "redirect_error": ("wrong redirect", "गलत रीडायरेक्ट"),
    "login_rejected": ("monitoring login rejected", "निगरानी लॉगिन अस्वीकृत"),
    "otp_rejected": ("one-time password rejected", "ओटीपी अस्वीकृत"),
    "login_flow_broken": ("login steps broken", "लॉगिन प्रक्रिया टूटी हुई"),
}
ROLE_TEXT = {
    Role.SSO: ("Parichay sign-on (NIC, Delhi)", "परिचय साइन-ऑन (NIC, दिल्ली)"),
    Role.APP: ("e-Office", "ई-ऑफिस"),
    Role.CONTROL: ("this site's network", "इस कार्यालय का नेटवर्क"),
}


@dataclass(frozen=True, slots=True)
class LocalHeadline:
    level: str  # ok | down | unknown
    en: str
    hi: str


def _ist(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, IST).strftime("%d %b %H:%M IST")


def _earliest_down(states: list[TargetState]) -> float | None:
    times = [s.since for s in states if s.latest and not s.latest.success and s.since]
    return min(times) if times else None


def local_headline(store: Store) -> LocalHeadline:
    states = [s for s in store.states() if s.latest is not None]
    if not states:
        return _say("unknown", words.LOCAL_STARTING)
    by_role = {r: [s for s in states if s.target.role == r] for r in Role}

    def all_down(xs: list[TargetState]) -> bool:
        return bool(xs) and all(s.latest is not None and not s.latest.success for s in xs)

    def since(xs: list[TargetState]) -> words.Phrase:
        return words.SINCE.format(time=_ist(_earliest_down(xs)))

    # This exporter cannot see Alertmanager, so it never claims that ITDA was told: the
    # state-wide status page (parichay-status) says so only when a page actually went out.
    if all_down(by_role[Role.CONTROL]):
        said = words.LOCAL_OWN_NETWORK_DOWN.format(since=since(by_role[Role.CONTROL]))
        return _say("down", said + words.LOCAL_ITDA_CHECKING)
    sso_down = [s for s in by_role[Role.SSO] if s.latest and not s.latest.success]
    if sso_down:
        return _say(
            "down", words.CENTRAL_DOWN.format(since=since(sso_down)) + words.LOCAL_ITDA_CHECKING
        )
    app = [s for s in by_role[Role.APP] if not kind_of(s.target).uses_account]
    app_down = [s for s in app if s.latest and not s.latest.success]
    if app_down:
        said = words.APP_DOWN.format(what=words.EOFFICE, since=since(app_down))
        return _say("down", said + words.LOCAL_ITDA_CHECKING)
    login_down = [
        s
        for s in by_role[Role.APP]
        if kind_of(s.target).uses_account and s.latest and not s.latest.success
    ]
    if login_down:
        said = words.APP_LOGIN_FAILING.format(since=since(login_down))
        return _say("down", said + words.LOCAL_ITDA_CHECKING)
    return _say("ok", words.ALL_WORKING)


def _say(level: str, said: words.Phrase) -> LocalHeadline:
    return LocalHeadline(level, said.en, said.hi)


def status_json(store: Store) -> dict[str, Any]:
    h = local_headline(store)
    rows = []
    for s in store.states():
        r = s.latest
        rows.append(
            {
                "target": s.target.name,
                "role": str(s.target.role),
                "kind": s.target.kind,
                "up": None if r is None else r.success,
                "reason": None if r is None or r.reason is None else str(r.reason),
                "since": s.since,
                "last_run": None if r is None else r.started_at,
                "duration_seconds": None if r is None else round(r.duration, 4),
                "login_suspended": s.suspended,
                "suspension": None
                if s.suspension is None
                else {
                    "reason": s.suspension.reason,
                    "since": s.suspension.since,
                    "until": s.suspension.until,
                    "step": s.suspension.step,
                },
            }
        )
    return {
        "vantage": store.vantage,
        "level": h.level,
        "headline": {"en": h.en, "hi": h.hi},
        "targets": rows,
    }


_CSS = """
body{font-family:system-ui,'Noto Sans Devanagari',sans-serif;margin:2rem auto;max-width:60rem;
padding:0 1rem;color:#222}
.banner{padding:1rem 1.25rem;border-radius:.5rem;font-size:1.2rem;margin-bottom:1.5rem}
.ok{background:#e6f4ea;border:1px solid #34a853}.down{background:#fce8e6;border:1px solid #d93025}
.unknown{background:#f1f3f4;border:1px solid #999}
.hi{font-size:1.1rem;margin-top:.4rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.45rem;
text-align:left;vertical-align:top}
.up{color:#137333;font-weight:600}.dn{color:#b3261e;font-weight:600}
small{color:#555}
"""


def render_local_page(store: Store, *, now: float) -> str:
    h = local_headline(store)
    e = html.escape
    rows = []
    for s in store.states():
        r = s.latest
        role_en, role_hi = ROLE_TEXT[s.target.role]
        if kind_of(s.target).uses_account:
            role_en, role_hi = "e-Office login (test account)", "ई-ऑफिस लॉगिन (परीक्षण खाता)"
        if r is None:
            state = "<span>waiting / प्रतीक्षा</span>"
            why = ""
        elif r.success:
            state = '<span class="up">Up / चालू</span>'
            why = ""
        else:
            state = '<span class="dn">Down / बंद</span>'
            en, hi = REASON_TEXT.get(str(r.reason), (str(r.reason), str(r.reason)))
            why = f"{e(en)}<br><small>{e(hi)}</small>"
        if s.suspension is not None:
            sus_en, sus_hi = REASON_TEXT.get(s.suspension.reason, (s.suspension.reason,) * 2)
            until = e(_ist(s.suspension.until))
            why += (
                "<br><small>login checks paused to protect the account / "
                "खाते की सुरक्षा हेतु लॉगिन जाँच रोकी गई: "
                f"{e(sus_en)} / {e(sus_hi)}, {e(_ist(s.suspension.since))}; "
                f"until {until} / {until} तक</small>"
            )
        rows.append(
            f"<tr><td>{e(s.target.name)}</td><td>{e(role_en)}<br><small>{e(role_hi)}</small></td>"
            f"<td>{state}</td><td>{why}</td><td>{e(_ist(s.since))}</td>"
            f"<td>{e(_ist(r.started_at) if r else '-')}</td></tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parichay &amp; e-Office status / स्थिति</title><style>{_CSS}</style></head>
<body><h1>Parichay &amp; e-Office status <small>/ स्थिति</small></h1>
<div class="banner {h.level}" role="status"><div lang="en">{e(h.en)}</div>
<div class="hi" lang="hi">{e(h.hi)}</div></div>
<table><thead><tr><th>Check / जाँच</th><th>Service / सेवा</th><th>State / स्थिति</th>
<th>Reason / कारण</th><th>Since / कब से</th><th>Last checked / अंतिम जाँच</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<p><small>Checked from {e(store.vantage)} · updated {e(_ist(now))} · refreshes every 30 s.
 / {e(store.vantage)} से जाँचा गया · हर 30 सेकंड में ताज़ा होता है।</small></p>
</body></html>
"""

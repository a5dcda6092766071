"""HTML pages served by the simulated Parichay and e-Office: the login form, the public
e-Office page, the inbox, and the marker-free error and maintenance pages.
Markers that probes look for live only on the healthy pages: ``Parichay - Single Sign On``
on the login page and ``e-Office`` on the app pages. Error and maintenance pages carry
neither, so ``bad_content`` and ``http_5xx`` faults are visible to a content check.
Every interpolated value is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Final

LOGIN_MARKER: Final[str] = "Parichay - Single Sign On"
APP_MARKER: Final[str] = "e-Office"

_SHELL: Final[str] = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
{body}
</body>
</html>
"""


def _page(title: str, body: str) -> str:
    return _SHELL.format(title=escape(title), body=body)


def login_page(*, sid: str, csrf_token: str | None) -> str:
    """The Parichay login form; ``csrf_token=None`` leaves the hidden field out."""
    csrf = (
        ""
        if csrf_token is None
        else f'<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">\n'
    )
    body = (
        f"<h1>{LOGIN_MARKER}</h1>\n"
        "<p>परिचय - एकल साइन ऑन (Simulator)</p>\n"
        '<form id="loginForm" method="post" action="/pnv1/api/login">\n'
        f'<input type="hidden" name="sid" value="{escape(sid)}">\n'
        f"{csrf}"
        '<label>Username / उपयोगकर्ता नाम <input type="text" name="username"></label>\n'
        '<label>Password / पासवर्ड <input type="password" name="password"></label>\n'
        '<button type="submit">Sign in / साइन इन</button>\n'
        "</form>"
    )
    return _page("Parichay | परिचय", body)


def public_page(*, org: str) -> str:
    """The e-Office public page, reachable without logging in."""
    body = (
        f"<h1>{APP_MARKER} ({escape(org)})</h1>\n"
        "<p>ई-ऑफिस: Government of India, NIC. Sign in through Parichay.</p>\n"
        '<p><a href="/">Sign in / साइन इन</a></p>'
    )
    return _page(f"{APP_MARKER} | ई-ऑफिस", body)


def inbox_page(*, org: str, username: str) -> str:
    """The e-Office inbox of a logged-in user."""
    body = (
        f"<h1>{APP_MARKER} ({escape(org)}): Inbox</h1>\n"
        f'<p id="user">Signed in as {escape(username)}</p>\n'
        '<p><a href="/eoffice/logout">Sign out / साइन आउट</a></p>'
    )
    return _page(f"Inbox | {APP_MARKER}", body)


def error_page(*, status: int, reason: str) -> str:
    """A small marker-free error page such as a load balancer would serve."""
    return _page(f"{status} {reason}", f"<h1>{status} {escape(reason)}</h1>")


def maintenance_page() -> str:
    """A 200 page without any marker: the ``bad_content`` fault."""
    return _page(
        "Scheduled maintenance",
        "<h1>Scheduled maintenance</h1>\n<p>This service will be back shortly.</p>",
    )

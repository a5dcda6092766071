"""Built-in simulator of Parichay SSO and the e-Office app, with fault injection, for demos,
integration tests and end-to-end tests; it owns nothing outside this package.

Three listeners: the SSO (``sso_url``), the app (``app_url``), and a plain-HTTP control API
(``control_url``). The synthetic login flow, step by step (``{sso}``/``{app}`` are the base
URLs, ``{sid}`` is ``eOffice{org}``, e.g. ``eOfficeUKSec``):

1. ``GET {app}/`` -> 302, ``Location: {sso}/pnv1/assets/login?sid={sid}``.
2. ``GET {sso}/pnv1/assets/login?sid={sid}`` -> 200 HTML (title contains "Parichay", body
   ``Parichay - Single Sign On``) with ``<input type="hidden" name="csrf_token" value=...>``,
   a hidden ``sid``, and ``username``/``password`` fields; sets ``PARICHAY_SESSION``
   (HttpOnly, Path=/) when the request has no known session. Each page load rotates the CSRF
   token of that session; only the latest one is accepted.
3. ``POST {sso}/pnv1/api/login``, form-encoded ``username``, ``password``, ``csrf_token``,
   ``sid``, with the session cookie. Checked in this order:
   no/unknown session or wrong csrf -> 403 ``{"status": "error", "code": "CSRF_INVALID"}``;
   ``sid`` not ``{sid}`` -> 400 ``INVALID_SID``; the user name already had 3 wrong
   passwords in a row -> 403 ``CAPTCHA_REQUIRED`` (until ``reset``; attempts 1-3 get 401);
   wrong credentials -> 401 ``INVALID_CREDENTIALS``; correct credentials and a
   ``PARICHAY_DEVICE`` cookie remembered for the user -> 200
   ``{"status": "ok", "redirect": "{app}/eoffice/sso/callback?code=<one-time code>"}``
   (skip to step 5); otherwise 200 ``{"status": "otp_required", "txn": "<id>"}``.
4. ``POST {sso}/pnv1/api/verify-otp``, JSON ``{"txn": "<id>", "otp": "123456",
   "remember_device": false}``, with the same session cookie. Malformed body -> 400
   ``BAD_REQUEST``; unknown, expired (5 min) or other-session txn -> 401 ``TXN_EXPIRED``;
   a wrong TOTP (pyotp, ``valid_window=1``) or a code already used once (replay) -> 401
   ``INVALID_OTP``, and the 3rd wrong OTP invalidates the txn (later calls: ``TXN_EXPIRED``,
   start again at step 2); success -> 200 ``{"status": "ok", "redirect":
   "{app}/eoffice/sso/callback?code=<one-time code>"}``, plus a ``PARICHAY_DEVICE`` cookie
   (HttpOnly, 30 days) when ``remember_device`` is true. Because used codes are remembered,
   two logins inside one 30 s TOTP step need the next code (or a remembered device).
5. ``GET {app}/eoffice/sso/callback?code=...`` -> the app redeems the code (single use,
   60 s), sets ``EOFFICE_SESSION`` (HttpOnly) and answers 302 ``Location: /eoffice/inbox``;
   a missing/used/expired code -> 302 to the SSO login page; SSO down -> 502.
6. ``GET {app}/eoffice/inbox`` -> 200 HTML with ``Inbox`` and the user name; without a
   valid ``EOFFICE_SESSION`` -> 302 ``Location: /``.
7. ``GET {app}/eoffice/logout`` -> session dropped, cookie cleared, 302 ``Location: /``.

Other routes: ``GET {sso}/`` -> 302 to the login page; ``GET {app}/eoffice/`` and
``/eoffice/about`` -> public page with ``e-Office``; ``GET /healthz`` on both -> 200. With
``tls=True`` cookies are ``Secure``. Both apps usually share a host, and cookies ignore
ports, so one cookie jar carries both apps' cookies; the names never collide.

Fault modes (:data:`FAULT_MODES`), set per app with ``Simulator.set_fault`` or the control
API. Network modes act on every route of the app: ``refuse`` (port closed; leaving it
re-binds the same port), ``hang`` (request read, never answered; the connection closes when
the mode changes), ``slow`` (every response delayed by ``delay_ms``, default 200),
``http_500``, ``http_503`` (with ``Retry-After: 120``), ``bad_content`` (200 maintenance
page without markers). ``cert_expired`` (TLS only) serves an expired leaf from the same CA.
Login modes act on the SSO: ``login_reject`` (correct credentials -> 401
``INVALID_CREDENTIALS``, not counted toward the lockout), ``otp_reject`` (any OTP -> 401
``INVALID_OTP``), ``csrf_missing`` (form without ``csrf_token``; login -> 403
``CSRF_INVALID``). ``redirect_broken`` on ``sso``: the redirect after a correct OTP (or a
device login) has no ``code``, so the callback sends the browser back to the SSO login page;
on ``app``: the callback redeems the code and then redirects to the SSO login page instead
of the inbox. Login modes set on ``app`` have no effect (other than ``redirect_broken``).

Control API (plain HTTP): ``GET /_sim/faults``; ``POST /_sim/faults/{sso|app}`` with
``{"mode": ..., "delay_ms": N}``; ``POST /_sim/faults`` with ``{"app": ..., "mode": ...}``;
``GET /_sim/stats``; ``POST /_sim/reset``. Stats keys: see ``simulator.stats``.
``simulator.testing`` has the login steps as coroutines for tests, and
``python -m simulator`` (``simulator.cli``) runs it from a shell.
"""

from simulator.account import SimAccount
from simulator.faults import FAULT_MODES
from simulator.simulator import Simulator

__all__ = ["FAULT_MODES", "SimAccount", "Simulator"]

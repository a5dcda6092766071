"""The simulator's synthetic login flow over real sockets: the happy path, every
rejection the SSO can give (credentials, lockout, CSRF, OTP, replay, expired txn), the
remembered device, the one-time code and session handling of the app, and the login
fault modes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pyotp
import pytest

from simulator import Simulator
from simulator.testing import (
    client_for,
    login_until_redirect,
    open_login_page,
    submit_otp,
    submit_password,
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(tls=True) as s:
        yield s


@pytest.fixture
async def plain_sim() -> AsyncIterator[Simulator]:
    async with Simulator() as s:
        yield s


async def test_full_login_flow_reaches_the_inbox(sim: Simulator) -> None:
    """App root -> login page (session cookie, csrf) -> password -> TOTP -> callback ->
    inbox with the user name; logout drops the session; counters follow each step."""
    async with client_for(sim) as client:
        verified = await login_until_redirect(client, sim)
        assert verified.status_code == 200
        body = verified.json()
        assert body["status"] == "ok"
        assert body["redirect"].startswith(f"{sim.app_url}/eoffice/sso/callback?code=")
        assert "PARICHAY_SESSION" in client.cookies
        callback = await client.get(body["redirect"])
        assert callback.status_code == 302
        assert callback.headers["location"] == "/eoffice/inbox"
        assert "EOFFICE_SESSION" in client.cookies
        inbox = await client.get(f"{sim.app_url}/eoffice/inbox")
        assert inbox.status_code == 200
        assert "Inbox" in inbox.text and sim.account.username in inbox.text
        logout = await client.get(f"{sim.app_url}/eoffice/logout")
        assert logout.status_code == 302 and logout.headers["location"] == "/"
        after = await client.get(f"{sim.app_url}/eoffice/inbox")
        assert after.status_code == 302 and after.headers["location"] == "/"
    stats = sim.stats()
    assert stats["app.root"] == 1
    assert stats["sso.login_page"] == 1
    assert stats["sso.api_login"] == 1
    assert stats["sso.api_verify_otp"] == 1
    assert stats["sso.otp_required"] == 1
    assert stats["sso.otp_accepted"] == 1
    assert stats["app.callback_ok"] == 1
    assert stats["app.inbox"] == 2 and stats["app.inbox_ok"] == 1


async def test_session_and_device_cookies_are_httponly_and_secure_with_tls(
    sim: Simulator,
) -> None:
    """The session cookie is HttpOnly (and Secure over TLS); the page has the form fields."""
    async with client_for(sim) as client:
        page = await client.get(f"{sim.sso_url}/pnv1/assets/login?sid=eOfficeUKSec")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("PARICHAY_SESSION=")
    assert "HttpOnly" in cookie and "Secure" in cookie
    for field in ('name="username"', 'name="password"', 'name="csrf_token"', 'type="hidden"'):
        assert field in page.text


async def test_wrong_password_is_401_invalid_credentials(plain_sim: Simulator) -> None:
    """A wrong password answers 401 INVALID_CREDENTIALS and counts a login_rejected."""
    async with client_for(plain_sim) as client:
        csrf = await open_login_page(client, plain_sim)
        resp = await submit_password(client, plain_sim, csrf=csrf, password="wrong")
    assert resp.status_code == 401
    assert resp.json() == {"status": "error", "code": "INVALID_CREDENTIALS"}
    assert plain_sim.stats()["sso.login_rejected"] == 1


async def test_three_wrong_passwords_lock_the_account_until_reset(plain_sim: Simulator) -> None:
    """Attempts 1-3 with a wrong password get 401; from then on even the right password
    gets 403 CAPTCHA_REQUIRED, until the simulator is reset."""
    async with client_for(plain_sim) as client:
        csrf = await open_login_page(client, plain_sim)
        for _ in range(3):
            resp = await submit_password(client, plain_sim, csrf=csrf, password="wrong")
            assert resp.status_code == 401
        locked = await submit_password(client, plain_sim, csrf=csrf)
        assert locked.status_code == 403
        assert locked.json() == {"status": "error", "code": "CAPTCHA_REQUIRED"}
        plain_sim.reset()
        csrf = await open_login_page(client, plain_sim)
        assert (await submit_password(client, plain_sim, csrf=csrf)).status_code == 200


async def test_a_correct_password_resets_the_wrong_password_streak(plain_sim: Simulator) -> None:
    """Only wrong passwords *in a row* lock: 2 wrong, 1 right, 2 wrong is not locked."""
    async with client_for(plain_sim) as client:
        csrf = await open_login_page(client, plain_sim)
        for password in ("x", "y", None, "x", "y"):
            await submit_password(client, plain_sim, csrf=csrf, password=password)
        assert (await submit_password(client, plain_sim, csrf=csrf)).status_code == 200


@pytest.mark.parametrize(
    "csrf", [pytest.param("forged", id="wrong"), pytest.param("", id="missing")]
)
async def test_login_without_the_session_csrf_token_is_403(
    plain_sim: Simulator, csrf: str
) -> None:
    """A wrong or missing csrf_token answers 403 CSRF_INVALID."""
    async with client_for(plain_sim) as client:
        await open_login_page(client, plain_sim)
        resp = await submit_password(client, plain_sim, csrf=csrf)
    assert resp.status_code == 403
    assert resp.json()["code"] == "CSRF_INVALID"


async def test_csrf_token_is_bound_to_the_session_cookie(plain_sim: Simulator) -> None:
    """A valid token posted without its session cookie (another client) is CSRF_INVALID,
    and only the latest token of a session is accepted."""
    async with client_for(plain_sim) as client, client_for(plain_sim) as stranger:
        first = await open_login_page(client, plain_sim)
        second = await open_login_page(client, plain_sim)
        assert first != second
        assert (await submit_password(stranger, plain_sim, csrf=second)).status_code == 403
        assert (await submit_password(client, plain_sim, csrf=first)).status_code == 403
        assert (await submit_password(client, plain_sim, csrf=second)).status_code == 200


async def test_wrong_otp_is_401_and_three_wrong_expire_the_txn(plain_sim: Simulator) -> None:
    """A wrong OTP answers 401 INVALID_OTP; after three, the txn is gone (TXN_EXPIRED)
    even for the right code."""
    async with client_for(plain_sim) as client:
        csrf = await open_login_page(client, plain_sim)
        txn = (await submit_password(client, plain_sim, csrf=csrf)).json()["txn"]
        for _ in range(3):
            resp = await submit_otp(client, plain_sim, txn=txn, otp="000000")
            assert resp.status_code == 401
            assert resp.json() == {"status": "error", "code": "INVALID_OTP"}
        expired = await submit_otp(client, plain_sim, txn=txn)
    assert expired.status_code == 401
    assert expired.json()["code"] == "TXN_EXPIRED"
    assert plain_sim.stats()["sso.otp_rejected"] == 3


async def test_an_otp_code_is_accepted_only_once(plain_sim: Simulator) -> None:
    """Replaying a TOTP code that already logged in is rejected with INVALID_OTP."""
    code = pyotp.TOTP(plain_sim.account.totp_secret).now()
    async with client_for(plain_sim) as client:
        assert (await login_until_redirect(client, plain_sim, otp=code)).status_code == 200
    async with client_for(plain_sim) as client:
        replay = await login_until_redirect(client, plain_sim, otp=code)
    assert replay.status_code == 401
    assert replay.json()["code"] == "INVALID_OTP"
    assert plain_sim.stats()["sso.otp_replayed"] == 1


async def test_txn_is_bound_to_its_session(plain_sim: Simulator) -> None:
    """A txn used from another session (no PARICHAY_SESSION) is TXN_EXPIRED."""
    async with client_for(plain_sim) as client, client_for(plain_sim) as stranger:
        csrf = await open_login_page(client, plain_sim)
        txn = (await submit_password(client, plain_sim, csrf=csrf)).json()["txn"]
        resp = await submit_otp(stranger, plain_sim, txn=txn)
    assert resp.status_code == 401 and resp.json()["code"] == "TXN_EXPIRED"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[1, 2]", id="not-object"),
        pytest.param(b'{"txn": 5, "otp": "123456"}', id="txn-not-string"),
    ],
)
async def test_verify_otp_rejects_a_malformed_body(plain_sim: Simulator, body: bytes) -> None:
    """verify-otp answers 400 BAD_REQUEST for a body that is not the documented JSON."""
    async with client_for(plain_sim) as client:
        resp = await client.post(f"{plain_sim.sso_url}/pnv1/api/verify-otp", content=body)
    assert resp.status_code == 400 and resp.json()["code"] == "BAD_REQUEST"


async def test_remembered_device_skips_the_otp(sim: Simulator) -> None:
    """remember_device sets PARICHAY_DEVICE; the next password login from that client gets
    status ok with a callback redirect directly, and that redirect logs in."""
    async with client_for(sim) as client:
        csrf = await open_login_page(client, sim)
        txn = (await submit_password(client, sim, csrf=csrf)).json()["txn"]
        verified = await submit_otp(client, sim, txn=txn, remember_device=True)
        assert "PARICHAY_DEVICE" in verified.headers["set-cookie"]
        csrf = await open_login_page(client, sim)
        direct = await submit_password(client, sim, csrf=csrf)
        assert direct.status_code == 200 and direct.json()["status"] == "ok"
        callback = await client.get(direct.json()["redirect"])
        assert callback.headers["location"] == "/eoffice/inbox"
    assert sim.stats()["sso.device_login"] == 1


async def test_the_callback_code_is_single_use(plain_sim: Simulator) -> None:
    """Redeeming a callback code twice sends the second attempt back to the SSO login."""
    async with client_for(plain_sim) as client:
        redirect = (await login_until_redirect(client, plain_sim)).json()["redirect"]
        assert (await client.get(redirect)).headers["location"] == "/eoffice/inbox"
        again = await client.get(redirect)
    assert again.status_code == 302
    assert again.headers["location"] == plain_sim.login_url
    assert plain_sim.stats()["app.callback_rejected"] == 1


async def test_inbox_without_a_session_redirects_to_the_root(plain_sim: Simulator) -> None:
    """The inbox redirects an anonymous request to / (which leads to Parichay)."""
    async with client_for(plain_sim) as client:
        resp = await client.get(f"{plain_sim.app_url}/eoffice/inbox")
    assert resp.status_code == 302 and resp.headers["location"] == "/"


async def test_login_reject_rejects_correct_credentials_without_locking(
    plain_sim: Simulator,
) -> None:
    """login_reject answers 401 INVALID_CREDENTIALS to the right password, and these
    forced rejections do not lock the account once the mode is back to ok."""
    plain_sim.set_fault("sso", "login_reject")
    async with client_for(plain_sim) as client:
        csrf = await open_login_page(client, plain_sim)
        for _ in range(4):
            resp = await submit_password(client, plain_sim, csrf=csrf)
            assert resp.status_code == 401
            assert resp.json()["code"] == "INVALID_CREDENTIALS"
        plain_sim.set_fault("sso", "ok")
        assert (await submit_password(client, plain_sim, csrf=csrf)).status_code == 200


async def test_otp_reject_rejects_the_correct_code(plain_sim: Simulator) -> None:
    """otp_reject answers 401 INVALID_OTP to a valid TOTP code."""
    plain_sim.set_fault("sso", "otp_reject")
    async with client_for(plain_sim) as client:
        resp = await login_until_redirect(client, plain_sim)
    assert resp.status_code == 401 and resp.json()["code"] == "INVALID_OTP"


async def test_csrf_missing_drops_the_field_and_rejects_the_login(plain_sim: Simulator) -> None:
    """csrf_missing serves the form without csrf_token and the login API answers 403."""
    plain_sim.set_fault("sso", "csrf_missing")
    async with client_for(plain_sim) as client:
        page = await client.get(plain_sim.login_url)
        assert page.status_code == 200
        assert "Parichay - Single Sign On" in page.text and "csrf_token" not in page.text
        resp = await submit_password(client, plain_sim, csrf="")
    assert resp.status_code == 403 and resp.json()["code"] == "CSRF_INVALID"


async def test_redirect_broken_on_sso_drops_the_code(plain_sim: Simulator) -> None:
    """redirect_broken on sso: after a correct OTP the redirect has no code and the
    callback sends the browser back to the SSO login page."""
    plain_sim.set_fault("sso", "redirect_broken")
    async with client_for(plain_sim) as client:
        verified = await login_until_redirect(client, plain_sim)
        assert verified.status_code == 200
        redirect = verified.json()["redirect"]
        assert redirect == f"{plain_sim.app_url}/eoffice/sso/callback"
        callback = await client.get(redirect)
    assert callback.status_code == 302
    assert callback.headers["location"] == plain_sim.login_url


async def test_redirect_broken_on_app_bounces_the_callback(plain_sim: Simulator) -> None:
    """redirect_broken on app: the callback with a valid code redirects to the SSO login
    page instead of the inbox, and no app session is created."""
    plain_sim.set_fault("app", "redirect_broken")
    async with client_for(plain_sim) as client:
        redirect = (await login_until_redirect(client, plain_sim)).json()["redirect"]
        callback = await client.get(redirect)
        assert callback.status_code == 302
        assert callback.headers["location"] == plain_sim.login_url
        assert "EOFFICE_SESSION" not in client.cookies


async def test_callback_fails_with_502_while_the_sso_is_down(plain_sim: Simulator) -> None:
    """The app cannot redeem a code while the SSO answers 503: the callback answers 502."""
    async with client_for(plain_sim) as client:
        redirect = (await login_until_redirect(client, plain_sim)).json()["redirect"]
        plain_sim.set_fault("sso", "http_503")
        resp = await client.get(redirect)
    assert resp.status_code == 502


async def test_network_modes_apply_to_login_steps(plain_sim: Simulator) -> None:
    """A network fault on the SSO hits the login API too (http_500 on the password post)."""
    async with client_for(plain_sim) as client:
        csrf = await open_login_page(client, plain_sim)
        plain_sim.set_fault("sso", "http_500")
        resp = await submit_password(client, plain_sim, csrf=csrf)
    assert resp.status_code == 500


async def test_wrong_sid_is_400(plain_sim: Simulator) -> None:
    """A login for another application id (sid) is refused with 400 INVALID_SID."""
    async with client_for(plain_sim) as client:
        csrf = await open_login_page(client, plain_sim)
        resp = await client.post(
            f"{plain_sim.sso_url}/pnv1/api/login",
            data={
                "username": plain_sim.account.username,
                "password": plain_sim.account.password,
                "csrf_token": csrf,
                "sid": "eOfficeOther",
            },
        )
    assert resp.status_code == 400 and resp.json()["code"] == "INVALID_SID"

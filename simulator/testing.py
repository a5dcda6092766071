"""Helpers for tests that drive the simulator: an httpx client that trusts the simulator's
CA, and the synthetic login flow's steps as small coroutines (the same steps a login probe
scripts), so integration tests can put the simulator in a known state with a few lines.
They assert on the simulator's documented answers and are meant for tests only."""

from __future__ import annotations

import re
import ssl

import httpx
import pyotp

from simulator.simulator import Simulator

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def client_for(sim: Simulator, *, timeout: float = 5.0) -> httpx.AsyncClient:
    """A client that trusts ``sim``'s CA (when TLS is on) and does not follow redirects."""
    verify: ssl.SSLContext | bool = True
    if sim.ca_pem is not None:
        verify = ssl.create_default_context(cadata=sim.ca_pem.decode())
    return httpx.AsyncClient(verify=verify, timeout=timeout, trust_env=False)


async def open_login_page(client: httpx.AsyncClient, sim: Simulator) -> str:
    """Steps 1-2: app root -> SSO login page; returns the CSRF token of the form."""
    root = await client.get(f"{sim.app_url}/")
    assert root.status_code == 302, root.status_code
    page = await client.get(root.headers["location"])
    assert page.status_code == 200, page.status_code
    match = CSRF_RE.search(page.text)
    assert match is not None, "login page without csrf_token"
    return match.group(1)


async def submit_password(
    client: httpx.AsyncClient,
    sim: Simulator,
    *,
    csrf: str,
    password: str | None = None,
    username: str | None = None,
) -> httpx.Response:
    """Step 3: the password form post."""
    return await client.post(
        f"{sim.sso_url}/pnv1/api/login",
        data={
            "username": sim.account.username if username is None else username,
            "password": sim.account.password if password is None else password,
            "csrf_token": csrf,
            "sid": f"eOffice{sim.org}",
        },
    )


async def submit_otp(
    client: httpx.AsyncClient,
    sim: Simulator,
    *,
    txn: str,
    otp: str | None = None,
    remember_device: bool = False,
) -> httpx.Response:
    """Step 4: the OTP post (the current TOTP code unless ``otp`` is given)."""
    code = pyotp.TOTP(sim.account.totp_secret).now() if otp is None else otp
    return await client.post(
        f"{sim.sso_url}/pnv1/api/verify-otp",
        json={"txn": txn, "otp": code, "remember_device": remember_device},
    )


async def login_until_redirect(
    client: httpx.AsyncClient, sim: Simulator, *, otp: str | None = None
) -> httpx.Response:
    """Steps 1-4; returns the verify-otp response."""
    csrf = await open_login_page(client, sim)
    step3 = await submit_password(client, sim, csrf=csrf)
    assert step3.status_code == 200, step3.text
    assert step3.json()["status"] == "otp_required"
    return await submit_otp(client, sim, txn=step3.json()["txn"], otp=otp)

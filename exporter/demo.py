"""`parichay-exporter demo`: the simulator and an exporter probing it, in one process.

The embedded config below is the same shape a real deployment uses (see
config/exporter.yml), pointed at the simulator on loopback with HTTPS from a throw-away
CA. It is written to a temporary file so `POST /-/reload` works as in production, with a
random admin token in a file beside it; the printed lines say where everything is, how to
reload (`-H "Authorization: Bearer $(cat FILE)"`, the token itself is never printed) and
how to inject a fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from exporter.app import Exporter
from exporter.config import load_config
from simulator import Simulator

DEMO_CONFIG = """\
# Demo config written by `parichay-exporter demo` (targets are the built-in simulator).
vantage: demo
listen: {listen}
defaults: {{interval: 10s, timeout: 5s}}
targets:
  # Parichay's login page must load and look like Parichay.
  - name: parichay-login-page
    role: sso
    kind: http
    url: {sso}/pnv1/assets/login?sid=eOffice{org}
    expect: {{status: [200], body_contains: Parichay}}
    tls: {{ca_file: {ca}}}
  # e-Office's root redirects to Parichay: stop at the redirect, so a Parichay outage
  # does not also count as an e-Office outage.
  - name: eoffice-root
    role: app
    kind: http
    url: {app}/
    follow_redirects: false
    expect: {{status: [302], redirect_host: "{sso_hostport}"}}
    tls: {{ca_file: {ca}}}
  - name: eoffice-public-page
    role: app
    kind: http
    url: {app}/eoffice/
    expect: {{status: [200], body_contains: e-Office}}
    tls: {{ca_file: {ca}}}
  # Control targets tell "our own network is down" apart from a real outage.
  - name: local-resolver
    role: control
    kind: dns
    host: localhost
  - name: simulator-control-port
    role: control
    kind: tcp
    host: 127.0.0.1
    port: {control_port}
  # The synthetic login, step by step, with the simulator's generated test account.
  - name: eoffice-login
    role: app
    kind: login
    interval: 1m
    timeout: 20s
    credentials:
      username_env: PARICHAY_DEMO_USERNAME
      password_env: PARICHAY_DEMO_PASSWORD
      totp_secret_env: PARICHAY_DEMO_TOTP_SECRET
    tls: {{ca_file: {ca}}}
    state_file: {state_file}
    vars: {{app: "{app}", sso: "{sso}"}}
    steps:
{login_steps}"""

# The login journey through the simulator (the same shape as Parichay's real flow); used
# by the demo and the tests. `{{...}}` are login variables, not Python format fields.
LOGIN_STEPS = """  - name: open-eoffice
    url: "{{app}}/"
    expect: {status: [200], body_contains: Parichay}
    extract:
      csrf: {form_field: csrf_token}
      sid: {form_field: sid}
  - name: submit-password
    method: POST
    url: "{{sso}}/pnv1/api/login"
    form:
      username: "{{username}}"
      password: "{{password}}"
      csrf_token: "{{csrf}}"
      sid: "{{sid}}"
    reject:
      - {reason: login_rejected, body_regex: "INVALID_CREDENTIALS|CAPTCHA_REQUIRED"}
    expect: {status: [200]}
    extract:
      txn: {json: txn, optional: true}
      redirect: {json: redirect, optional: true}
  - name: submit-otp
    method: POST
    url: "{{sso}}/pnv1/api/verify-otp"
    skip_if_defined: redirect
    json: {txn: "{{txn}}", otp: "{{totp}}", remember_device: false}
    reject:
      - {reason: otp_rejected, body_contains: INVALID_OTP}
    expect: {status: [200]}
    extract:
      redirect: {json: redirect}
  - name: open-inbox
    url: "{{redirect}}"
    expect: {status: [200], body_contains: Inbox}
  - name: logout
    url: "{{app}}/eoffice/logout"
    follow_redirects: false
    always_run: true
    expect: {status: [302]}
"""


def indent(text: str, spaces: int) -> str:
    return "".join(
        " " * spaces + line if line.strip() else line for line in text.splitlines(keepends=True)
    )


def render_demo_config(
    *, sso: str, app: str, control: str, ca: str, listen: str, org: str, state_file: str
) -> str:
    sso_parts = urlsplit(sso)
    return DEMO_CONFIG.format(
        sso=sso,
        app=app,
        ca=ca,
        listen=listen,
        org=org,
        state_file=state_file,
        sso_hostport=f"{sso_parts.hostname}:{sso_parts.port}",
        control_port=urlsplit(control).port,
        login_steps=indent(LOGIN_STEPS, 4),
    )


def demo_environment(sim: Simulator) -> dict[str, str]:
    """The simulator's generated test account, as the env variables the config names."""
    return {
        "PARICHAY_DEMO_USERNAME": sim.account.username,
        "PARICHAY_DEMO_PASSWORD": sim.account.password,
        "PARICHAY_DEMO_TOTP_SECRET": sim.account.totp_secret,
    }


async def run_demo(
    *, listen: str, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None
) -> None:
    with tempfile.TemporaryDirectory(prefix="parichay-demo-") as tmp:
        sim = Simulator(tls=True)
        await sim.start()
        try:
            ca = Path(tmp) / "simulator-ca.pem"
            sim.write_ca(ca)
            cfg_path = Path(tmp) / "demo.yml"
            cfg_path.write_text(
                render_demo_config(
                    sso=sim.sso_url,
                    app=sim.app_url,
                    control=sim.control_url,
                    ca=str(ca),
                    listen=listen,
                    org="UKSec",
                    state_file=str(Path(tmp) / "login-state.json"),
                ),
                encoding="utf-8",
            )
            # The generated account is a simulator-only test value, passed the way real
            # credentials are: through the environment.
            os.environ.update(demo_environment(sim))
            # Admin endpoints need a bearer token, in the demo too: a random one in a 0600
            # file of the temporary directory. Only the file's path is ever printed.
            token_file = Path(tmp) / "admin-token"
            token_file.touch(mode=0o600)
            token_file.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
            exporter = Exporter(
                config=load_config(cfg_path), config_path=cfg_path, admin_token_file=str(token_file)
            )
            await exporter.start()
            try:
                base = exporter.url
                print(
                    f"""
Parichay & e-Office monitoring demo
  status page     {base}/
  metrics         {base}/metrics
  status (JSON)   {base}/status.json
  simulator SSO   {sim.sso_url}/pnv1/assets/login?sid=eOfficeUKSec
  simulator app   {sim.app_url}/
  fault control   {sim.control_url}/_sim/faults
  config in use   {cfg_path}
  admin token     {token_file}

Edit the config, then reload it (admin actions need the token; reading does not):
  curl -X POST -H "Authorization: Bearer $(cat {token_file})" {base}/-/reload
After a login_reject fault the login pauses; resume it explicitly with:
  curl -X POST -H "Authorization: Bearer $(cat {token_file})" {base}/-/resume/eoffice-login

Try a Parichay outage, then recover:
  curl -X POST -d '{{"mode":"http_503"}}' {sim.control_url}/_sim/faults/sso
  curl -X POST -d '{{"mode":"ok"}}' {sim.control_url}/_sim/faults/sso
Modes: ok refuse hang slow http_500 http_503 bad_content cert_expired
       login_reject otp_reject csrf_missing redirect_broken (login faults, on sso)
Press Ctrl-C to stop.
""",
                    flush=True,
                )
                if ready is not None:
                    ready.set()
                await (stop or asyncio.Event()).wait()
            finally:
                await exporter.stop()
        finally:
            await sim.stop()


def main(*, listen: str) -> int:
    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_demo(listen=listen, stop=stop)

    try:
        asyncio.run(_main())
    except OSError as exc:
        print(f"demo could not start: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(Exception):
        print("demo stopped.")
    return 0

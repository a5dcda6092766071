"""Demo profile only: generate every demo secret at random, once.

Run once (as root) before the other demo services; existing files are kept, so a restart
does not change them. Nothing generated here is committed anywhere: the SMS bridge token
(shared by Alertmanager's credentials_file and the bridge), the SMTP password
Alertmanager would use if the mail catcher offered AUTH, the Grafana admin password, and
the simulator's test account (user name, password, TOTP secret) that the exporter's
synthetic login uses.

`demo_init.py DIR` writes all of them into DIR (tests, a developer's machine);
`demo_init.py --split ROOT` writes each consumer's files into ROOT/<consumer>/ (compose
mounts one volume per consumer there, see CONSUMERS), so Grafana never sees an SMS or a
login secret. Files are world-readable because the containers run as different users
(Alertmanager nobody, Grafana 472, the exporter 10001); that is acceptable for throw-away
demo values and never done for production secrets (see docs/deployment.md).
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

OWNER_UID = 10001  # the `parichay` user of the image: the simulator writes its CA here


def generators() -> dict[str, str]:
    return {
        "smsbridge_token": secrets.token_urlsafe(32),
        "smtp_password": secrets.token_urlsafe(24),
        "grafana_admin_password": secrets.token_urlsafe(18),
        "sim_username": f"monitor.{secrets.token_hex(3)}@uk.gov.in",
        # Parichay-like complexity: upper, lower, digit and a symbol.
        "sim_password": f"Demo-{secrets.token_urlsafe(12)}-9a",
        "sim_totp_secret": base64.b32encode(secrets.token_bytes(20)).decode(),
    }


# consumer (a demo volume) -> the files it gets. `login` is shared by the simulator (the
# fake SSO checks that account, and writes its CA there) and the demo exporter.
CONSUMERS: dict[str, tuple[str, ...]] = {
    "login": ("sim_username", "sim_password", "sim_totp_secret"),
    "alertmanager": ("smtp_password", "smsbridge_token"),
    "smsbridge": ("smsbridge_token",),
    "grafana": ("grafana_admin_password",),
}


def _prepare(directory: Path, *, owner: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if owner and os.geteuid() == 0:  # in the container; a test run keeps its own uid
        os.chown(directory, OWNER_UID, OWNER_UID)
    directory.chmod(0o755)


def _write(directory: Path, values: dict[str, str]) -> None:
    for name, value in values.items():
        path = directory / name
        if not path.exists():
            path.write_text(value + "\n", encoding="utf-8")
        path.chmod(0o644)


def _existing(root: Path, name: str) -> str | None:
    """A value already generated for another consumer (so shared tokens stay equal)."""
    for consumer, names in CONSUMERS.items():
        path = root / consumer / name
        if name in names and path.exists():
            return path.read_text(encoding="utf-8").strip()
    return None


def main(directory: str, *, split: bool = False) -> int:
    root = Path(directory)
    values = generators()
    if split:
        for name in values:
            values[name] = _existing(root, name) or values[name]
        for consumer, names in CONSUMERS.items():
            target = root / consumer
            _prepare(target, owner=consumer == "login")
            _write(target, {n: values[n] for n in names})
        password_file = root / "grafana" / "grafana_admin_password"
    else:
        _prepare(root, owner=True)
        _write(root, values)
        password_file = root / "grafana_admin_password"
    password = password_file.read_text(encoding="utf-8").strip()
    print(f"demo secrets ready in {root}")
    print(f"Grafana (demo): http://127.0.0.1:3000  user admin  password {password}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    split = "--split" in args
    rest = [a for a in args if a != "--split"]
    sys.exit(main(rest[0] if rest else "/run/secrets", split=split))

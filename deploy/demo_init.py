"""Demo profile only: generate every demo secret at random into the demo-secrets volume.

Run once (as root) before the other demo services; existing files are kept, so a restart
does not change them. Nothing generated here is committed anywhere: the SMS bridge token
(shared by Alertmanager's credentials_file and the bridge), the SMTP password
Alertmanager would use if the mail catcher offered AUTH, the Grafana admin password, and
the simulator's test account (user name, password, TOTP secret) that the exporter's
synthetic login uses. Files are world-readable because Alertmanager (nobody), Grafana
(uid 472) and the exporter (uid 10001) all read them; that is acceptable for throw-away
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


def main(directory: str) -> int:
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # in the container; a developer's test run keeps its own uid
        os.chown(root, OWNER_UID, OWNER_UID)
    root.chmod(0o755)
    for name, value in generators().items():
        path = root / name
        if not path.exists():
            path.write_text(value + "\n", encoding="utf-8")
        path.chmod(0o644)
    password = (root / "grafana_admin_password").read_text(encoding="utf-8").strip()
    print(f"demo secrets ready in {root}")
    print(f"Grafana (demo): http://127.0.0.1:3000  user admin  password {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/run/secrets"))

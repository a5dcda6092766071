"""The compose demo's own files outside containers: `run_demo_init` writes the demo secrets
(deploy/demo_init.py) into a directory, `bridge_config_for` points the demo SMS bridge
config (deploy/smsbridge-demo.yml) at that directory instead of the container paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BRIDGE_DEMO = DEPLOY / "smsbridge-demo.yml"


def run_demo_init(directory: Path) -> str:
    """Run deploy/demo_init.py into `directory`; its standard output."""
    proc = subprocess.run(
        [sys.executable, str(DEPLOY / "demo_init.py"), str(directory)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return proc.stdout


def bridge_config_for(tmp: Path, source: Path, *, url: str | None = None) -> Path:
    """A copy of a bridge config in `tmp` reading its secrets and outbox from `tmp`, and
    sending to `url` instead of the demo's stand-in gateway when given."""
    text = source.read_text(encoding="utf-8")
    text = text.replace("/run/secrets", str(tmp)).replace("/var/lib/parichay-smsbridge", str(tmp))
    if url is not None:
        text = text.replace("http://sms-gateway:9480/send", url)
    path = tmp / source.name
    path.write_text(text, encoding="utf-8")
    return path

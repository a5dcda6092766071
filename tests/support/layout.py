"""Where the repository's files are, and the names of the end-to-end topology.

Three vantages probe one simulated Parichay and e-Office, each through its own network
path (`tests/support/world.py`); the alerting stack (`tests/support/stack.py`) runs the
repository's Prometheus, Alertmanager and SMS bridge files against them.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "prometheus"
ALERTMANAGER_DIR = REPO / "alertmanager"
SMSBRIDGE_CONFIG = REPO / "config" / "smsbridge.yml"
EXPORTER_CONFIG = REPO / "config" / "exporter.yml"

ORG = "UKSec"
VANTAGES = ("secretariat-dehradun", "district-haridwar", "cloud-mumbai")
# The vantage whose network the tests cut, and the one that runs the synthetic login (the
# simulator has one monitoring account; two vantages sharing it would race for TOTP codes).
CUTTABLE_VANTAGE = "district-haridwar"
LOGIN_VANTAGE = "cloud-mumbai"
# Partial reachability: the vantages whose route to Parichay the tests and the bench cut
# (`World.cut_sso`), two of three; the login vantage keeps its route.
PARTIAL_VANTAGES = ("district-haridwar", "secretariat-dehradun")
SSO_TARGET = "parichay-login-page"
APP_TARGET = "eoffice-root"
LOGIN_TARGET = "eoffice-login"
CONTROL_TARGETS = ("control-india-gov-in", "control-portal-tcp")

# Numbers and DLT template ids of config/smsbridge.yml (read from it, see `bridge_plan`).
WEBHOOK_TOKEN = "e2e-webhook-token-7c41"
NIC_PIN = "e2e-nic-pin-5521"

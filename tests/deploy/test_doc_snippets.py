"""Compose snippets in docs/ describe docker-compose.yml as it is: their services, images,
mounted paths and volumes exist there, and the docs use Docker Compose v2's command."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCS = [*sorted((REPO / "docs").rglob("*.md")), REPO / "README.md"]
SERVICE_KEYS = {"image", "build", "command", "entrypoint", "volumes", "healthcheck", "profiles"}
FENCE = re.compile(r"^```ya?ml\n(.*?)^```", re.M | re.S)
# The v1 command line (`docker-compose up`); Debian's tool only validates the file in tests.
V1_COMMAND = re.compile(
    r"docker-compose\s+(?:--profile|-f|up|down|logs|run|kill|ps|build|exec|restart|pull|stop)\b"
)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def compose_snippets() -> list[tuple[str, str, dict[str, Any]]]:
    """(doc, service name, service) for every YAML block in the docs that is compose services."""
    found = []
    for doc in DOCS:
        for block in FENCE.findall(doc.read_text(encoding="utf-8")):
            try:
                data = yaml.safe_load(textwrap.dedent(block))
            except yaml.YAMLError:
                continue
            if not isinstance(data, dict):
                continue
            services = data.get("services", data)
            if not isinstance(services, dict):
                continue
            for name, svc in services.items():
                if isinstance(svc, dict) and SERVICE_KEYS & set(svc):
                    found.append((str(doc.relative_to(REPO)), str(name), svc))
    return found


SNIPPETS = compose_snippets()


def snippet_id(snippet: tuple[str, str, dict[str, Any]]) -> str:
    return f"{snippet[0]}:{snippet[1]}"


def test_the_docs_have_compose_snippets() -> None:
    """The snippet scan finds the documented services (so the checks below check something)."""
    assert ("docs/smsbridge.md", "smsbridge") in {(d, n) for d, n, _ in SNIPPETS}


@pytest.mark.parametrize("snippet", SNIPPETS, ids=snippet_id)
def test_compose_snippet_matches_docker_compose_yml(snippet: tuple[str, str, dict[str, Any]]) -> None:
    """Service, image, entrypoint, volumes and config paths of a snippet exist in compose."""
    doc, name, svc = snippet
    services: dict[str, dict[str, Any]] = compose()["services"]
    where = f"{doc}, service {name}"
    assert name in services, f"{where}: no such service in docker-compose.yml"
    real = services[name]
    if "image" in svc:
        assert svc["image"] == real.get("image"), f"{where}: image {svc['image']!r}"
    for key in ("entrypoint", "command"):
        if key in svc:
            assert svc[key] == real.get(key), f"{where}: {key} {svc[key]!r}"
    real_volumes = set(real.get("volumes", []))
    for volume in svc.get("volumes", []):
        assert volume in real_volumes, f"{where}: volume {volume!r} is not mounted so"
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (REPO / source).exists(), f"{where}: {source} does not exist"
        elif not source.startswith("$"):
            assert source in compose()["volumes"], f"{where}: no named volume {source!r}"
    mounted = {v.split(":")[1] for v in real_volumes}
    args = [a for a in [*svc.get("command", []), *svc.get("entrypoint", [])] if isinstance(a, str)]
    for arg in args:
        if arg.startswith("/etc/") or arg.startswith("/opt/"):
            assert arg in mounted, f"{where}: {arg} is not a mount target of the service"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_use_the_docker_compose_v2_command(doc: Path) -> None:
    """Commands read `docker compose ...` (v2), not the end-of-life `docker-compose ...`."""
    text = doc.read_text(encoding="utf-8")
    assert V1_COMMAND.findall(text) == []

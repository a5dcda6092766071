"""docker-compose.yml: valid for the Debian docker-compose with every profile, mounts
exactly the repository config files the test suites load, at the paths those configs
expect, gives each service only the secrets it reads, keeps demo and production volumes
apart, and the demo profile needs no secret at all."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from grafana import common as grafana_common
from grafana.build import OUT_DIR as DASHBOARDS_OUT_DIR
from tests.support.yaml_tree import suffixed

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"

# Every repository path the stack mounts (or reads as an env file), and the test files
# that load the very same path. A new mount needs a test that exercises it.
MOUNTED_AND_TESTED: dict[str, tuple[tuple[str, str], ...]] = {
    "prometheus/prometheus.yml": (
        ("tests/rules/test_promtool.py", '"prometheus.yml"'),
        ("tests/grafana/test_dashboard_queries.py", '"prometheus.yml"'),
    ),
    "prometheus/rules": (
        ("tests/rules/test_promtool.py", "promtool"),
        ("tests/grafana/test_dashboard_queries.py", 'REPO / "prometheus" / "rules"'),
    ),
    "alertmanager/alertmanager.yml": (
        ("tests/rules/test_alertmanager_config.py", '"alertmanager.yml"'),
    ),
    "alertmanager/templates": (("tests/rules/test_alertmanager_config.py", "templates"),),
    "grafana/provisioning": (("tests/grafana/test_dashboards.py", '"provisioning"'),),
    "grafana/dashboards": (
        ("tests/grafana/test_dashboard_queries.py", 'REPO / "grafana" / "dashboards"'),
    ),
    "config/exporter.yml": (("tests/deploy/test_demo_stack.py", '"config" / "exporter.yml"'),),
    "config/smsbridge.yml": (
        ("tests/smsbridge/test_sms_config.py", '"config" / "smsbridge.yml"'),
        ("tests/deploy/test_demo_stack.py", '"config" / "smsbridge.yml"'),
    ),
    "deploy/exporter-demo.yml": (("tests/deploy/test_demo_stack.py", "exporter-demo.yml"),),
    "deploy/smsbridge-demo.yml": (("tests/deploy/test_demo_stack.py", "smsbridge-demo.yml"),),
    "deploy/demo_init.py": (("tests/deploy/test_demo_stack.py", "demo_init.py"),),
    "deploy/simulator_demo.py": (("tests/deploy/test_demo_stack.py", "simulator_demo.py"),),
    "deploy/sms_gateway_standin.py": (
        ("tests/deploy/test_demo_stack.py", "sms_gateway_standin.py"),
    ),
    "deploy/grafana.env.example": (("tests/deploy/test_compose.py", "grafana.env.example"),),
}


# Host paths a service may mount besides repository files and named volumes.
HOST_SYSTEM_MOUNTS = {"/usr/share/zoneinfo"}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def services(profile: str | None = None) -> dict[str, dict[str, Any]]:
    """Services that run with `--profile profile` (None: only the profile-less ones)."""
    return {
        name: svc
        for name, svc in compose()["services"].items()
        if not svc.get("profiles") or (profile is not None and profile in svc["profiles"])
    }


def default(value: str) -> str:
    """`${VAR:-fallback}` -> fallback (what compose uses with no .env)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def mounts(svc: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for spec in svc.get("volumes", []):
        source, target = default(spec).split(":")[:2]
        out.append((source, target))
    return out


def repo_mounts() -> dict[str, set[str]]:
    """Repository path -> the container paths it is mounted at."""
    out: dict[str, set[str]] = {}
    for svc in compose()["services"].values():
        for source, target in mounts(svc):
            if source.startswith("./"):
                out.setdefault(source[2:].rstrip("/"), set()).add(target)
    return out


def secret_targets(svc: dict[str, Any]) -> dict[str, str]:
    """Container path -> Compose secret name, for the service's `secrets:` list."""
    out = {}
    for item in svc.get("secrets", []):
        name, target = (item, None) if isinstance(item, str) else (item["source"], item.get("target"))
        out[target or f"/run/secrets/{name}"] = name
    return out


# Who reads which production secret (docs/deployment.md has the same table).
SECRETS_BY_SERVICE: dict[str, set[str]] = {
    "prometheus": set(),
    "alertmanager-1": {"smtp_password", "smsbridge_token"},
    "alertmanager-2": {"smtp_password", "smsbridge_token"},
    "grafana": {"grafana_admin_password"},
    "exporter": {
        "exporter_admin_token",
        "parichay_monitor_username",
        "parichay_monitor_password",
        "parichay_monitor_totp",
    },
    "smsbridge": {"smsbridge_token", "nic_sms_pin", "smtp_password"},
}
SMS_AND_LOGIN_SECRETS = {
    "smsbridge_token",
    "nic_sms_pin",
    "smtp_password",
    "exporter_admin_token",
    "parichay_monitor_username",
    "parichay_monitor_password",
    "parichay_monitor_totp",
}


def mount_of(svc: dict[str, Any], source: str) -> str:
    (target,) = [t for s, t in mounts(svc) if s.rstrip("/") == source]
    return target


def hosts(profile: str) -> set[str]:
    """Names other containers resolve in `profile`: service names and network aliases."""
    names = set()
    for name, svc in services(profile).items():
        names.add(name)
        for net in (svc.get("networks") or {}).values():
            names.update((net or {}).get("aliases", []))
    return names


def compose_env() -> dict[str, str]:
    # A developer's shell or .env must not change what is checked.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "PARICHAY_"))}
    env.pop("GRAFANA_ENV_FILE", None)
    return env


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose --env-file ENV -f docker-compose.yml ARGS...` in the checkout, under
    compose_env(); the test fails when docker-compose is missing or the command fails."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is missing: apt-get install docker-compose (.ci/run)")
    proc = subprocess.run(
        [binary, "--env-file", str(env_file), "-f", "docker-compose.yml", *args],
        cwd=REPO,
        env=compose_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("profile", [None, "demo", "prod"], ids=["core", "demo", "prod"])
def test_docker_compose_config_is_valid(profile: str | None, tmp_path: Path) -> None:
    """`docker-compose -f docker-compose.yml [--profile P] config -q` passes (as in CI)."""
    # An empty env file: a site's .env in the checkout must not change what is checked.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    chosen = ["--profile", profile] if profile is not None else []
    proc = run_compose(empty, *chosen, "config", "-q")
    assert proc.stderr.strip() == "", proc.stderr


def test_compose_mounts_exactly_the_config_files_the_tests_use() -> None:
    """Every mounted repository file exists and is the path a test suite loads."""
    mounted = set(repo_mounts())
    # ./secrets is the site's own secret directory (Compose secrets of the prod profile),
    # never a repository file, and never bind-mounted whole.
    assert not any(m == "secrets" or m.startswith("secrets/") for m in mounted)
    for name, spec in compose()["secrets"].items():
        assert default(spec["file"]) == f"./secrets/{name}", name
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "secrets/smtp_password"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, "secrets/ must stay ignored by git"
    mounted |= {
        default(f)[2:] for svc in compose()["services"].values() for f in svc.get("env_file", [])
    }
    assert mounted == set(MOUNTED_AND_TESTED)
    for path, loaders in MOUNTED_AND_TESTED.items():
        assert (REPO / path).exists(), path
        for test_file, needle in loaders:
            text = (REPO / test_file).read_text(encoding="utf-8")
            assert needle in text, f"{test_file} does not load {path}"


def test_prometheus_finds_its_rules_and_scrape_targets() -> None:
    """rule_files resolve inside the rules mount; every scrape host runs in both profiles."""
    prom = compose()["services"]["prometheus"]
    config_target = PurePosixPath(mount_of(prom, "./prometheus/prometheus.yml"))
    rules_target = PurePosixPath(mount_of(prom, "./prometheus/rules"))
    cfg = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    for pattern in cfg["rule_files"]:
        assert (config_target.parent / pattern).parent == rules_target, pattern
    assert list((REPO / "prometheus" / "rules").glob("*.yml"))
    for profile in ("demo", "prod"):
        names = hosts(profile) | {"localhost"}
        for job in cfg["scrape_configs"]:
            for sc in job["static_configs"]:
                for addr in sc["targets"]:
                    assert addr.rsplit(":", 1)[0] in names, (profile, job["job_name"], addr)
        for am in cfg["alerting"]["alertmanagers"]:
            for addr in am["static_configs"][0]["targets"]:
                assert addr.rsplit(":", 1)[0] in names, (profile, addr)


def test_listen_ports_match_the_scrape_config() -> None:
    """The exporter and SMS bridge configs listen where prometheus.yml scrapes them."""
    cfg = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    addrs = {
        a for job in cfg["scrape_configs"] for sc in job["static_configs"] for a in sc["targets"]
    }
    for path, host in [
        ("config/exporter.yml", "exporter"),
        ("deploy/exporter-demo.yml", "exporter"),
        ("config/smsbridge.yml", "smsbridge"),
        ("deploy/smsbridge-demo.yml", "smsbridge"),
    ]:
        listen = yaml.safe_load((REPO / path).read_text(encoding="utf-8"))["listen"]
        assert f"{host}:{listen.rsplit(':', 1)[1]}" in addrs, path


def _files_in(node: Any) -> list[str]:
    """Every value of a `*_file` key in a YAML tree."""
    return [value for _, _, value in suffixed(node, "_file")]


def test_alertmanager_templates_and_secrets_are_mounted_where_the_config_reads_them() -> None:
    """templates/*.tmpl and every *_file of alertmanager.yml lie under a mount."""
    cfg_text = (REPO / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(cfg_text)
    for name in ("alertmanager-1", "alertmanager-2", "alertmanager-1-demo", "alertmanager-2-demo"):
        svc = compose()["services"][name]
        config_dir = PurePosixPath(mount_of(svc, "./alertmanager/alertmanager.yml")).parent
        templates = PurePosixPath(mount_of(svc, "./alertmanager/templates"))
        for pattern in cfg["templates"]:
            assert (config_dir / pattern).parent == templates
        targets = [PurePosixPath(t) for _, t in mounts(svc)]
        files = _files_in(cfg)
        assert files, "alertmanager.yml reads no secret file?"
        for f in files:
            assert f in secret_targets(svc) or any(
                PurePosixPath(f).parent == t for t in targets
            ), (name, f)
        # Both members know each other: one gossip cluster.
        peers = [a for a in svc["command"] if a.startswith("--cluster.peer=")]
        assert sorted(peers) == [
            "--cluster.peer=alertmanager-1:9094",
            "--cluster.peer=alertmanager-2:9094",
        ]
    for url in re.findall(r"url: (http://[^\s]+)", cfg_text):
        host = url.split("/")[2].rsplit(":", 1)[0]
        assert host in hosts("demo") and host in hosts("prod"), url
    assert cfg["global"]["smtp_smarthost"].split(":")[0] in hosts("demo")


def test_secret_files_of_every_config_are_inside_the_secrets_mount() -> None:
    """Exporter and SMS bridge configs read their *_file secrets from a mounted directory."""
    for service, source in [
        ("exporter", "./config/exporter.yml"),
        ("smsbridge", "./config/smsbridge.yml"),
        ("exporter-demo", "./deploy/exporter-demo.yml"),
        ("smsbridge-demo", "./deploy/smsbridge-demo.yml"),
    ]:
        svc = compose()["services"][service]
        cfg = yaml.safe_load((REPO / source[2:]).read_text(encoding="utf-8"))
        targets = [PurePosixPath(t) for _, t in mounts(svc)]
        for f in _files_in(cfg):
            assert f in secret_targets(svc) or any(
                t in PurePosixPath(f).parents for t in targets
            ), (service, f)


def test_grafana_is_provisioned_from_the_repository() -> None:
    """Provisioning and the generated dashboards are mounted where the provider looks."""
    svc = compose()["services"]["grafana"]
    provider = yaml.safe_load(
        (REPO / "grafana" / "provisioning" / "dashboards" / "parichay.yml").read_text(
            encoding="utf-8"
        )
    )["providers"][0]
    assert mount_of(svc, "./grafana/dashboards") == provider["options"]["path"]
    assert DASHBOARDS_OUT_DIR == REPO / "grafana" / "dashboards"
    assert mount_of(svc, "./grafana/provisioning") == "/etc/grafana/provisioning"
    home = svc["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/overview.json"
    assert svc["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    datasources = yaml.safe_load(
        (REPO / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text(
            encoding="utf-8"
        )
    )["datasources"]
    for ds in datasources:
        host = ds["url"].split("/")[2].rsplit(":", 1)[0]
        assert host in hosts("demo") and host in hosts("prod"), ds["url"]
    assert {ds["uid"] for ds in datasources} == {
        grafana_common.PROMETHEUS_DS_UID,
        grafana_common.ALERTMANAGER_DS_UID,
    }


def test_grafana_admin_password_comes_from_the_env_file() -> None:
    """The env file names the admin password (here: a file in the secrets mount)."""
    svc = compose()["services"]["grafana"]
    (env_file,) = [default(f) for f in svc["env_file"]]
    assert env_file == "./deploy/grafana.env.example"
    env = dict(
        line.split("=", 1)
        for line in (REPO / env_file).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env, "no literal password in a committed file"
    password_file = env["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    assert secret_targets(svc) == {password_file: "grafana_admin_password"}
    demo = compose()["services"]["grafana-demo"]
    assert any(PurePosixPath(t) == PurePosixPath(password_file).parent for _, t in mounts(demo))


def test_demo_profile_needs_no_secret() -> None:
    """With no .env, nothing the demo runs mounts ./secrets or a site env file."""
    for name, svc in services("demo").items():
        for source, _ in mounts(svc):
            assert not source.startswith("./secrets"), name
        assert not secret_targets(svc), f"{name} would need ./secrets files"
        for f in svc.get("env_file", []):
            assert default(f).endswith(".example"), name


def test_demo_and_production_share_no_volume_and_every_service_has_one_profile() -> None:
    """Running the demo on a production host never touches production data."""
    # Repository files and the host's read-only time-zone database are shared on purpose.
    def volumes(profile: str) -> set[str]:
        return {
            s
            for svc in services(profile).values()
            for s, _ in mounts(svc)
            if not s.startswith(("./", "/usr/share/zoneinfo"))
        }

    demo, prod = volumes("demo"), volumes("prod")
    assert demo and prod and not demo & prod, demo & prod
    assert all(v.startswith("demo-") for v in demo)
    for name, svc in compose()["services"].items():
        assert svc.get("profiles") in (["demo"], ["prod"]), name


def _demo_volume_files() -> dict[str, set[str]]:
    """Demo secret volume -> the files demo-init writes into it."""
    init = compose()["services"]["demo-init"]
    assert init["entrypoint"][-2:] == ["--split", "/demo"]
    consumers = _demo_init().CONSUMERS
    out = {}
    for source, target in mounts(init):
        if source.startswith("demo-"):
            consumer = PurePosixPath(target).relative_to("/demo").as_posix()
            out[source] = set(consumers[consumer])
    return out


def _demo_init() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_init", REPO / "deploy" / "demo_init.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grafana_is_given_no_sms_or_login_secret_in_either_profile() -> None:
    """Production: only grafana_admin_password; demo: only the volume holding that file."""
    prod = compose()["services"]["grafana"]
    assert set(secret_targets(prod).values()) == {"grafana_admin_password"}
    assert not [s for s, _ in mounts(prod) if "secret" in s]
    demo = compose()["services"]["grafana-demo"]
    files = _demo_volume_files()
    given = set().union(*(files.get(s, set()) for s, _ in mounts(demo)))
    assert given == {"grafana_admin_password"}
    assert not given & SMS_AND_LOGIN_SECRETS


def test_each_demo_service_gets_only_its_demo_secrets() -> None:
    """Demo volumes: the bridge gets its token, Alertmanager SMTP + token, Grafana its password."""
    files = _demo_volume_files()
    expected = {
        "grafana-demo": {"grafana_admin_password"},
        "alertmanager-1-demo": {"smtp_password", "smsbridge_token"},
        "alertmanager-2-demo": {"smtp_password", "smsbridge_token"},
        "smsbridge-demo": {"smsbridge_token"},
        "exporter-demo": {"sim_username", "sim_password", "sim_totp_secret"},
        "simulator": {"sim_username", "sim_password", "sim_totp_secret"},
        "prometheus-demo": set(),
        "sms-gateway": set(),
        "mailcatcher": set(),
    }
    for name, want in expected.items():
        svc = compose()["services"][name]
        given = set().union(*(files.get(s, set()) for s, _ in mounts(svc)))
        assert given == want, name


def test_data_lives_in_named_volumes_and_every_service_is_health_checked() -> None:
    """Prometheus and Grafana keep data in named volumes; long-running services have checks."""
    volumes = set(compose()["volumes"])
    assert ("prometheus-data", "/prometheus") in mounts(compose()["services"]["prometheus"])
    assert ("grafana-data", "/var/lib/grafana") in mounts(compose()["services"]["grafana"])
    for name, svc in compose()["services"].items():
        for source, _ in mounts(svc):
            if not source.startswith("./") and source not in HOST_SYSTEM_MOUNTS:
                assert source in volumes, (name, source)
        if name == "demo-init":  # a one-shot job
            assert svc["restart"] == "no"
            continue
        assert svc["healthcheck"]["test"][0] == "CMD-SHELL", name


def test_every_healthcheck_is_one_shell_command() -> None:
    """Each check is `["CMD-SHELL", "<command>"]`, the one form Docker and podman agree on.

    podman 4.3's Docker API splits the arguments of a `["CMD", ...]` check on spaces
    (containers/podman#26519), so `python -c "import ..."` would reach python as many
    arguments; a shell command string runs the same under both engines."""
    checked = 0
    for name, svc in compose()["services"].items():
        check = svc.get("healthcheck", {})
        if check.get("disable"):
            assert "test" not in check, name
            continue
        test = check["test"]
        assert isinstance(test, list) and len(test) == 2, (name, test)
        assert test[0] == "CMD-SHELL" and isinstance(test[1], str) and test[1].strip(), name
        checked += 1
    assert checked == len(compose()["services"]) - 1  # all but the one-shot demo-init


def test_dockerfile_builds_a_non_root_image_with_a_healthcheck() -> None:
    """python:3.11-slim, the project installed, a non-root USER, HEALTHCHECK, entrypoint."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert froms and all(f == "python:3.11-slim" for f in froms)
    (user,) = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert user not in ("root", "0")
    assert re.search(r"^HEALTHCHECK ", text, flags=re.M)
    assert 'ENTRYPOINT ["parichay-exporter"]' in text
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*")] == "*", "the build context is an allow-list"
    assert "!secrets/" not in ignore


def test_production_settings_example_gives_a_valid_prod_stack(tmp_path: Path) -> None:
    """deploy/prod.env.example as .env: the prod profile, ./secrets mounted everywhere."""
    text = (REPO / "deploy" / "prod.env.example").read_text(encoding="utf-8")
    # The site's copy of the Grafana env file does not exist in the checkout.
    text = text.replace("./deploy/grafana.env\n", "./deploy/grafana.env.example\n")
    env_file = tmp_path / "site.env"
    env_file.write_text(text)
    proc = run_compose(env_file, "config")
    resolved = yaml.safe_load(proc.stdout)["services"]
    assert "COMPOSE_PROFILES=prod\n" in text
    # docker-compose 1.29 prints every service; the profile decides which ones run.
    assert resolved["exporter"]["profiles"] == resolved["smsbridge"]["profiles"] == ["prod"]
    secrets_dir = REPO / "secrets"
    for name, wanted in SECRETS_BY_SERVICE.items():
        given = {s["source"] for s in resolved[name].get("secrets", [])}
        assert given == wanted, (name, given)
        for vol in resolved[name]["volumes"]:
            assert "secret" not in vol.split(":")[0], (name, vol)
    files = yaml.safe_load(proc.stdout)["secrets"]
    for name, spec in files.items():
        assert spec["file"] == str(secrets_dir / name), name
    assert not set(SECRETS_BY_SERVICE["grafana"]) & SMS_AND_LOGIN_SECRETS


def test_each_production_service_gets_exactly_the_secret_files_its_config_reads() -> None:
    """Bridge and Alertmanager: given secrets == the *_file paths of their configs; the
    exporter's are its admin token plus the login credentials of the documented login."""
    svcs = compose()["services"]
    for name, cfg_path in [
        ("smsbridge", "config/smsbridge.yml"),
        ("alertmanager-1", "alertmanager/alertmanager.yml"),
        ("alertmanager-2", "alertmanager/alertmanager.yml"),
    ]:
        cfg = yaml.safe_load((REPO / cfg_path).read_text(encoding="utf-8"))
        assert set(secret_targets(svcs[name])) == set(_files_in(cfg)), name
    exporter_text = (REPO / "config" / "exporter.yml").read_text(encoding="utf-8")
    reads = set(_files_in(yaml.safe_load(exporter_text)))
    reads |= set(re.findall(r"_file: (/run/secrets/\S+)", exporter_text))  # commented login
    assert set(secret_targets(svcs["exporter"])) == reads
    for name, wanted in SECRETS_BY_SERVICE.items():
        assert set(secret_targets(svcs[name]).values()) == wanted, name


def test_the_image_contains_every_package_the_distribution_ships() -> None:
    """Each package of pyproject's find list is in the build context and copied (servicekit too)."""
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    include = re.search(r"\[tool\.setuptools\.packages\.find\]\ninclude = \[([^\]]*)\]", pyproject)
    assert include is not None
    packages = [p.strip().strip('"').rstrip("*") for p in include.group(1).split(",")]
    assert "servicekit" in packages
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
        assert f"!{package}/" in ignore, package



def test_prometheus_keeps_a_year_of_monthly_reports() -> None:
    """Retention (compose default and the production example) covers 12 reports plus one month."""
    command = services("prod")["prometheus"]["command"]
    flag = next(c for c in command if c.startswith("--storage.tsdb.retention.time="))
    value = default(flag.partition("=")[2])
    example = Path(__file__).resolve().parents[2] / "deploy" / "prod.env.example"
    env = dict(
        line.split("=", 1)
        for line in example.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    for retention in (value, env["PROMETHEUS_RETENTION"]):
        match = re.fullmatch(r"(\d+)d", retention)
        # 12 months and the month before each: at most 365 + 31 days.
        assert match and int(match[1]) >= 365 + 31, retention


def test_alertmanagers_read_the_time_zone_database() -> None:
    """The Alertmanager image has no tz database; IST in the templates and the time intervals
    needs it, so every Alertmanager mounts the host's read-only at the standard path."""
    templates = "".join(
        p.read_text(encoding="utf-8") for p in (REPO / "alertmanager" / "templates").glob("*.tmpl")
    )
    assert 'tz "Asia/Kolkata"' in templates
    for name, svc in compose()["services"].items():
        if str(svc.get("image", "")).startswith("prom/alertmanager:"):
            assert "/usr/share/zoneinfo:/usr/share/zoneinfo:ro" in svc["volumes"], name

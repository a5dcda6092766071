"""The http probe's checks, with httpx.MockTransport standing in for the network."""

from __future__ import annotations

import httpx
import pytest

from exporter.config import HttpTarget, load_config_text
from exporter.probes import ProbeContext, run_probe
from exporter.result import PHASES, Reason


def _target(yaml_target: str) -> HttpTarget:
    cfg = load_config_text(f"vantage: v\ntargets:\n  - {yaml_target}\n")
    t = cfg.targets[0]
    assert isinstance(t, HttpTarget)
    return t


def _ctx(handler: object) -> ProbeContext:
    return ProbeContext(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


LOGIN = "https://parichay.nic.in/pnv1/assets/login?sid=eOfficeUK"


@pytest.mark.parametrize(
    ("status", "location", "expect_host", "reason"),
    [
        pytest.param(302, LOGIN, "parichay.nic.in", None, id="redirects-to-parichay"),
        pytest.param(
            302,
            "https://evil.example/login",
            "parichay.nic.in",
            Reason.REDIRECT_ERROR,
            id="redirects-elsewhere",
        ),
        pytest.param(302, None, "parichay.nic.in", Reason.REDIRECT_ERROR, id="no-location"),
        pytest.param(
            200, None, "parichay.nic.in", Reason.UNEXPECTED_STATUS, id="no-redirect-at-all"
        ),
        pytest.param(503, None, "parichay.nic.in", Reason.HTTP_5XX, id="app-down"),
        pytest.param(
            302,
            "https://parichay.nic.in:8443/x",
            "parichay.nic.in:443",
            Reason.REDIRECT_ERROR,
            id="port-must-match-when-given",
        ),
    ],
)
async def test_app_root_stops_at_the_redirect_to_parichay(
    status: int, location: str | None, expect_host: str, reason: Reason | None
) -> None:
    """An app probe checks where e-Office sends users without following into Parichay."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        headers = {"location": location} if location else {}
        return httpx.Response(status, headers=headers)

    t = _target(
        "{name: root, role: app, kind: http, url: 'https://eoffice.uk.gov.in/', "
        f"follow_redirects: false, expect: {{status: [302], redirect_host: '{expect_host}'}}}}"
    )
    result = await run_probe(t, _ctx(handler))
    assert result.reason is reason
    assert result.success is (reason is None)
    assert seen == ["https://eoffice.uk.gov.in/"], "must never follow into Parichay"
    assert result.http_status == status


@pytest.mark.parametrize(
    ("body", "expect", "reason"),
    [
        pytest.param("<title>Parichay</title>", "body_contains: Parichay", None, id="contains"),
        pytest.param(
            "Under maintenance",
            "body_contains: Parichay",
            Reason.CONTENT_MISMATCH,
            id="missing-marker",
        ),
        pytest.param("csrf_token=abc", "body_regex: 'csrf_token=[a-z]+'", None, id="regex"),
        pytest.param(
            "nothing", "body_regex: 'csrf_token=[a-z]+'", Reason.CONTENT_MISMATCH, id="regex-miss"
        ),
    ],
)
async def test_body_checks(body: str, expect: str, reason: Reason | None) -> None:
    """Body expectations turn a 200 with the wrong page into content_mismatch."""
    t = _target(f"{{name: p, role: sso, kind: http, url: '{LOGIN}', expect: {{{expect}}}}}")
    result = await run_probe(t, _ctx(lambda r: httpx.Response(200, text=body)))
    assert result.reason is reason


async def test_follows_redirects_up_to_the_limit() -> None:
    """A redirect loop ends as redirect_error after max_redirects, not a hang."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(302, headers={"location": f"/loop{calls}"})

    t = _target(f"{{name: p, role: sso, kind: http, url: '{LOGIN}', max_redirects: 3}}")
    result = await run_probe(t, _ctx(handler))
    assert result.reason is Reason.REDIRECT_ERROR
    assert calls == 4


async def test_final_url_has_no_query_string() -> None:
    """Final URLs are shown without their query: it may carry session ids."""
    t = _target(f"{{name: p, role: sso, kind: http, url: '{LOGIN}'}}")
    result = await run_probe(t, _ctx(lambda r: httpx.Response(200, text="ok")))
    assert result.final_url == "https://parichay.nic.in/pnv1/assets/login"
    assert set(result.phases) == set(PHASES)


async def test_secret_headers_and_basic_auth_are_sent_but_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Secrets reach the server and nowhere else, not even when the server echoes them."""
    monkeypatch.setenv("PARICHAY_T_TOKEN", "tok-sekrit-9876")
    monkeypatch.setenv("PARICHAY_T_PW", "pw-sekrit-5432")
    got: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        got.update(request.headers)
        # A hostile or buggy server reflecting what we sent into an error message.
        raise httpx.ConnectError(f"boom {request.headers['x-token']}", request=request)

    t = _target(
        f"{{name: p, role: app, kind: http, url: '{LOGIN}', "
        "headers: {X-Token: '${PARICHAY_T_TOKEN}'}, "
        "basic_auth: {username: mon, password_env: PARICHAY_T_PW}}"
    )
    result = await run_probe(t, _ctx(handler))
    assert got["x-token"] == "tok-sekrit-9876"
    assert got["authorization"].startswith("Basic ")
    assert result.reason is Reason.CONNECT_REFUSED
    assert "tok-sekrit-9876" not in result.detail
    assert "<secret>" in result.detail
    assert "tok-sekrit-9876" not in repr(result) and "pw-sekrit-5432" not in repr(t)

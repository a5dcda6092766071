"""Prometheus and Alertmanager clients: credentials from files, clear errors, no secret leaks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
import respx

from statuspage.alertmanager import AlertmanagerClient, Matcher
from statuspage.sources import MAX_POINTS_PER_QUERY, Auth, PrometheusClient, SourceError
from tests.statuspage.conftest import History
from tests.support.stack import Alertmanager

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROM = "http://prom.test:9090"
OK_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}


@respx.mock
async def test_bearer_token_is_read_from_its_file_at_each_request(tmp_path: Path) -> None:
    """A rotated token file is picked up without a restart."""
    token = tmp_path / "token"
    token.write_text("first-token-value\n")
    route = respx.post(f"{PROM}/api/v1/query").mock(
        return_value=httpx.Response(200, json=OK_VECTOR)
    )
    async with PrometheusClient(url=PROM, auth=Auth(bearer_token_file=token)) as prom:
        await prom.query("up")
        token.write_text("second-token-value")
        await prom.query("up")
    seen = [c.request.headers["Authorization"] for c in route.calls]
    assert seen == ["Bearer first-token-value", "Bearer second-token-value"]


@respx.mock
async def test_basic_auth_password_comes_from_a_file(tmp_path: Path) -> None:
    """user:password from the file, base64 as HTTP basic auth."""
    pw = tmp_path / "pw"
    pw.write_text("s3cret-pass")
    route = respx.get("http://am.test:9093/api/v2/silences").mock(
        return_value=httpx.Response(200, json=[])
    )
    async with AlertmanagerClient(
        url="http://am.test:9093", auth=Auth(username="ops", password_file=pw)
    ) as am:
        assert await am.silences() == []
    expected = "Basic " + base64.b64encode(b"ops:s3cret-pass").decode()
    assert route.calls[0].request.headers["Authorization"] == expected


@respx.mock
async def test_refused_credentials_are_named_without_the_secret(tmp_path: Path) -> None:
    """HTTP 401: 'access refused ... check the credentials file'; the token appears nowhere."""
    token = tmp_path / "token"
    token.write_text("very-secret-token")
    respx.post(f"{PROM}/api/v1/query").mock(
        return_value=httpx.Response(401, text="bad token very-secret-token")
    )
    async with PrometheusClient(url=PROM, auth=Auth(bearer_token_file=token)) as prom:
        with pytest.raises(SourceError) as err:
            await prom.query("up")
    assert str(err.value) == (
        f"Prometheus at {PROM} answered with an error: access refused (HTTP 401); check the credentials file"
    )
    assert "very-secret-token" not in repr(err.value) + str(err.value.__cause__)


@respx.mock
async def test_a_bad_query_reports_prometheus_own_error_text() -> None:
    """HTTP 400 with Prometheus's error body: the message carries its error text."""
    respx.post(f"{PROM}/api/v1/query").mock(
        return_value=httpx.Response(
            400, json={"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
        )
    )
    async with PrometheusClient(url=PROM) as prom:
        with pytest.raises(
            SourceError, match=r"answered with an error: HTTP 400: parse error at char 3$"
        ):
            await prom.query("up{")


@respx.mock
async def test_a_timeout_says_how_long_it_waited() -> None:
    """A source that does not answer: 'no answer within N s'."""
    respx.post(f"{PROM}/api/v1/query").mock(side_effect=httpx.ReadTimeout("slow"))
    async with PrometheusClient(url=PROM, timeout=3) as prom:
        with pytest.raises(
            SourceError, match=rf"^could not reach Prometheus at {PROM}: no answer within 3 s$"
        ):
            await prom.query("up")


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://user:pw@prom.test:9090", id="credentials-in-url"),
        pytest.param("ftp://prom.test", id="scheme"),
        pytest.param("prom.test:9090", id="no-scheme"),
    ],
)
async def test_bad_urls_are_refused_at_construction(url: str) -> None:
    """Only http(s) URLs with a host and no credentials; the message says what to do."""
    with pytest.raises(ValueError, match="Prometheus URL must"):
        PrometheusClient(url=url)


@pytest.mark.binaries
async def test_long_range_queries_are_split_under_the_point_limit(history: History) -> None:
    """90 days at one-minute steps (129,600 points) come back whole from one call."""
    start = history.now - timedelta(days=90) + timedelta(minutes=1)
    async with PrometheusClient(url=history.url) as prom:
        (series,) = await prom.query_range(
            'count_over_time(service:parichay_up:min{service="eoffice-web"}[1m])',
            start=start,
            end=history.now,
            step=timedelta(minutes=1),
        )
    times = [t for t, _ in series.points]
    assert len(times) > MAX_POINTS_PER_QUERY * 12
    assert len(times) == len(set(times)) and times == sorted(times)
    assert all(b - a == 60 for a, b in pairwise(times))


@pytest.mark.binaries
async def test_silences_round_trip_through_a_real_alertmanager(
    alertmanager: Alertmanager,
) -> None:
    """create_silence, silences and expire_silence against the real API v2."""
    now = datetime.now(UTC)
    async with AlertmanagerClient(url=alertmanager.url) as am:
        sid = await am.create_silence(
            matchers=[Matcher("alertname", "Parichay.*", is_regex=True)],
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            created_by="test",
            comment="c",
        )
        (s,) = await am.silences()
        assert (s.id, s.created_by, s.comment, s.state) == (sid, "test", "c", "active")
        assert s.matchers == (Matcher("alertname", "Parichay.*", is_regex=True),)
        await am.expire_silence(sid)
        (s,) = await am.silences()
        assert s.state == "expired"


@respx.mock
async def test_a_missing_credentials_file_is_named_and_nothing_is_sent(tmp_path: Path) -> None:
    """The token file cannot be read: the error names the file; no request goes out."""
    missing = tmp_path / "no-such-token"
    route = respx.post(f"{PROM}/api/v1/query").mock(
        return_value=httpx.Response(200, json=OK_VECTOR)
    )
    async with PrometheusClient(url=PROM, auth=Auth(bearer_token_file=missing)) as prom:
        with pytest.raises(SourceError) as err:
            await prom.query("up")
    assert f"cannot read credentials file {missing}: No such file or directory" in str(err.value)
    assert not route.called

"""`kind: dns` with `server`: the probe against a DNS server on loopback, over real sockets."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from exporter.collector import MetricsRenderer
from exporter.config import DnsTarget, load_config_text
from exporter.probes import ProbeContext, run_probe
from exporter.result import PHASES, ProbeResult, Reason
from exporter.scheduler import Scheduler
from exporter.store import Store
from tests.support.dns_server import Behaviour, LoopbackDnsServer, SeenQuery
from tests.support.metrics import parse

NAME = "parichay.nic.in"


@pytest.fixture
async def dns_server() -> AsyncIterator[LoopbackDnsServer]:
    """A DNS server on 127.0.0.1 knowing parichay.nic.in (one IPv4, one IPv6 address)."""
    async with LoopbackDnsServer() as server:
        server.add(NAME, "164.100.1.10", "2001:db8::10")
        yield server


def dns_target(server: LoopbackDnsServer, extra: str = "", *, host: str = NAME) -> DnsTarget:
    cfg = load_config_text(
        "vantage: it\ntargets:\n"
        f"  - {{name: site-resolver, role: control, kind: dns, host: {host}, "
        f"server: '{server.where}', timeout: 2s{extra}}}\n"
    )
    target = cfg.targets[0]
    assert isinstance(target, DnsTarget)
    return target


async def probe(server: LoopbackDnsServer, extra: str = "", *, host: str = NAME) -> ProbeResult:
    return await run_probe(dns_target(server, extra, host=host), ProbeContext())


def assert_phases_are_resolve_only(result: ProbeResult) -> None:
    assert set(result.phases) == set(PHASES)
    assert result.phases["resolve"] > 0
    assert all(result.phases[p] == 0 for p in PHASES if p != "resolve")
    assert sum(result.phases.values()) == pytest.approx(result.duration)


async def test_a_correct_answer_passes_with_the_time_in_resolve(
    dns_server: LoopbackDnsServer,
) -> None:
    """family any asks A and AAAA over UDP; the whole probe time is the resolve phase."""
    result = await probe(dns_server, ", expect: {addresses: ['2001:db8::10']}")
    assert result.success and result.reason is None, result.detail
    assert_phases_are_resolve_only(result)
    assert sorted(dns_server.queries, key=lambda q: q.rdtype) == [
        SeenQuery(name=NAME, rdtype="A", transport="udp"),
        SeenQuery(name=NAME, rdtype="AAAA", transport="udp"),
    ]


async def test_a_cname_is_followed_to_the_addresses(dns_server: LoopbackDnsServer) -> None:
    """An alias answered with its CNAME and the canonical name's address passes."""
    dns_server.add_cname("sso.example.in", NAME)
    result = await probe(
        dns_server, ", family: ipv4, expect: {addresses: ['164.100.1.10']}", host="sso.example.in"
    )
    assert result.success, result.detail


async def test_a_wrong_address_is_a_content_mismatch(dns_server: LoopbackDnsServer) -> None:
    """A server answering with none of the expected addresses (stale or hijacked)."""
    result = await probe(dns_server, ", expect: {addresses: ['164.100.1.99']}")
    assert result.reason is Reason.CONTENT_MISMATCH
    assert result.detail == (
        f"{NAME} resolved by server {dns_server.where} to 164.100.1.10, 2001:db8::10, "
        "expected one of 164.100.1.99"
    )


@pytest.mark.parametrize(
    ("behaviour", "outcome"),
    [
        pytest.param(Behaviour.SERVFAIL, "SERVFAIL", id="servfail"),
        pytest.param(Behaviour.REFUSED, "REFUSED", id="refused"),
        pytest.param(Behaviour.NXDOMAIN, "NXDOMAIN", id="nxdomain"),
    ],
)
async def test_an_error_answer_is_a_dns_error_naming_server_and_rcode(
    dns_server: LoopbackDnsServer, behaviour: Behaviour, outcome: str
) -> None:
    """SERVFAIL, REFUSED and NXDOMAIN are dns_error; detail says which, from which server."""
    dns_server.behaviour = behaviour
    result = await probe(dns_server, ", family: ipv4")
    assert result.reason is Reason.DNS_ERROR
    assert result.detail == f"server {dns_server.where}: {outcome} for {NAME} A"
    assert_phases_are_resolve_only(result)


async def test_family_any_reports_the_server_fault_of_both_queries(
    dns_server: LoopbackDnsServer,
) -> None:
    """With family any both queries fail; the detail names the server's answer."""
    dns_server.behaviour = Behaviour.SERVFAIL
    result = await probe(dns_server)
    assert result.reason is Reason.DNS_ERROR
    assert result.detail.startswith(f"server {dns_server.where}: SERVFAIL for {NAME} A")


async def test_an_unknown_name_is_nxdomain(dns_server: LoopbackDnsServer) -> None:
    """A name the server does not know: dns_error saying NXDOMAIN."""
    result = await probe(dns_server, ", family: ipv4", host="nowhere.nic.in")
    assert (result.reason, result.detail) == (
        Reason.DNS_ERROR,
        f"server {dns_server.where}: NXDOMAIN for nowhere.nic.in A",
    )


async def test_a_name_without_records_of_the_family_is_a_dns_error(
    dns_server: LoopbackDnsServer,
) -> None:
    """NOERROR with an empty answer (only AAAA exists, ipv4 asked) is dns_error: no records."""
    dns_server.add("v6only.nic.in", "2001:db8::6")
    result = await probe(dns_server, ", family: ipv4", host="v6only.nic.in")
    assert (result.reason, result.detail) == (
        Reason.DNS_ERROR,
        f"server {dns_server.where}: no A records for v6only.nic.in",
    )
    assert (await probe(dns_server, ", family: ipv6", host="v6only.nic.in")).success


async def test_a_silent_server_is_a_dns_error_before_the_timeout(
    dns_server: LoopbackDnsServer,
) -> None:
    """No answer at all: dns_error from the probe itself, before the target's 1 s timeout."""
    dns_server.behaviour = Behaviour.SILENT
    started = time.monotonic()
    result = await probe(dns_server, ", family: ipv4, timeout: 1s")
    elapsed = time.monotonic() - started
    assert result.reason is Reason.DNS_ERROR
    assert result.detail == f"server {dns_server.where}: no answer within 0.8s for {NAME} A (udp)"
    assert 0.75 < elapsed < 1.0
    assert_phases_are_resolve_only(result)


async def test_a_silent_server_over_tcp_is_a_dns_error(dns_server: LoopbackDnsServer) -> None:
    """A server that accepts TCP but never answers: dns_error, over tcp, within the timeout."""
    dns_server.behaviour = Behaviour.SILENT
    result = await probe(dns_server, ", family: ipv4, transport: tcp, timeout: 1s")
    assert result.reason is Reason.DNS_ERROR
    assert result.detail == f"server {dns_server.where}: no answer within 0.8s for {NAME} A (tcp)"
    assert result.duration < 1.0


async def test_a_truncated_answer_is_asked_again_over_tcp(dns_server: LoopbackDnsServer) -> None:
    """The TC bit makes the probe repeat the query over TCP, which passes."""
    dns_server.behaviour = Behaviour.TRUNCATE
    result = await probe(dns_server, ", family: ipv4, expect: {addresses: ['164.100.1.10']}")
    assert result.success, result.detail
    assert [q.transport for q in dns_server.queries] == ["udp", "tcp"]


async def test_transport_tcp_asks_over_tcp_only(dns_server: LoopbackDnsServer) -> None:
    """`transport: tcp` never sends a datagram."""
    result = await probe(dns_server, ", transport: tcp")
    assert result.success, result.detail
    assert {q.transport for q in dns_server.queries} == {"tcp"}
    assert len(dns_server.queries) == 2


async def test_a_lost_datagram_is_sent_again(dns_server: LoopbackDnsServer) -> None:
    """One dropped UDP query does not fail the probe while time is left (one 2 s retry)."""
    dns_server.drop_udp = 1
    result = await probe(dns_server, ", family: ipv4, timeout: 4s")
    assert result.success, result.detail
    assert [q.transport for q in dns_server.queries] == ["udp", "udp"]
    assert 1.9 < result.duration < 3.2


async def test_a_forged_datagram_does_not_replace_the_answer(
    dns_server: LoopbackDnsServer,
) -> None:
    """A reply with the wrong query id arriving first is ignored, not taken or failed on."""
    dns_server.forge_udp = 1
    result = await probe(dns_server, ", family: ipv4, expect: {addresses: ['164.100.1.10']}")
    assert result.success, result.detail
    assert len(dns_server.queries) == 1


async def test_a_server_on_ipv6_loopback_is_asked() -> None:
    """`server: "[::1]:PORT"` reaches a resolver over IPv6."""
    async with LoopbackDnsServer(host="::1") as server:
        server.add(NAME, "164.100.1.10")
        assert server.where.startswith("[::1]:")
        result = await probe(server, ", family: ipv4, expect: {addresses: ['164.100.1.10']}")
    assert result.success, result.detail


async def test_a_refused_tcp_connection_is_a_dns_error() -> None:
    """No server on the port at all (TCP refused): dns_error at once, naming the refusal."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = load_config_text(
        "vantage: it\ntargets:\n  - {name: r, role: control, kind: dns, host: parichay.nic.in, "
        f"family: ipv4, server: '127.0.0.1:{port}', transport: tcp, timeout: 2s}}\n"
    ).targets[0]
    result = await run_probe(target, ProbeContext())
    assert result.reason is Reason.DNS_ERROR
    assert result.detail == f"server 127.0.0.1:{port}: Connection refused for parichay.nic.in A"
    assert result.duration < 1.0


async def test_site_and_public_resolvers_are_told_apart_in_the_metrics() -> None:
    """The scheduler probes a silent site resolver and a working public one; the metrics show
    dns_error (not timeout) for the site's only, with the query time in the resolve phase."""
    async with LoopbackDnsServer() as site, LoopbackDnsServer() as public:
        site.behaviour = Behaviour.SILENT
        public.add(NAME, "164.100.1.10")
        cfg = load_config_text(f"""
vantage: district-haridwar
defaults: {{interval: 2s, timeout: 500ms}}
targets:
  - {{name: site-resolver, role: control, kind: dns, host: {NAME}, server: '{site.where}'}}
  - {{name: public-resolver, role: control, kind: dns, host: {NAME}, server: '{public.where}'}}
""")
        store = Store(vantage=cfg.vantage)
        store.set_targets(cfg.targets)
        renderer = MetricsRenderer(store)
        done: dict[str, ProbeResult] = {}
        finished = asyncio.Event()

        def on_result(target: object, result: ProbeResult) -> None:
            done.setdefault(result.target, result)
            if len(done) == 2:
                finished.set()

        scheduler = Scheduler(
            store=store, ctx=ProbeContext(), max_concurrency=4, on_result=on_result
        )
        async with asyncio.TaskGroup() as tg:
            tg.create_task(scheduler.run(cfg.targets))
            async with asyncio.timeout(5):
                await finished.wait()
            scheduler.stop()

    metrics = parse(renderer.render())

    def sample(name: str, **labels: str) -> float | None:
        return metrics.value(name, {"vantage": "district-haridwar", **labels})

    site_l = {"target": "site-resolver", "role": "control"}
    public_l = {"target": "public-resolver", "role": "control"}
    assert sample("parichay_probe_success", **site_l, kind="dns") == 0
    assert sample("parichay_probe_success", **public_l, kind="dns") == 1
    assert sample("parichay_probes_total", **site_l, result="dns_error") == 1
    assert sample("parichay_probes_total", **site_l, result="timeout") == 0
    assert sample("parichay_probes_total", **public_l, result="success") == 1
    assert sample("parichay_probes_total", **public_l, result="dns_error") == 0
    site_resolve = sample(
        "parichay_probe_phase_duration_seconds", target="site-resolver", phase="resolve"
    )
    # About the 500 ms timeout: the query waited for it in the resolve phase (the upper
    # bound leaves room for the event loop on a machine running four test workers).
    assert site_resolve is not None and 0.35 < site_resolve < 0.75
    assert (
        sample("parichay_probe_phase_duration_seconds", target="site-resolver", phase="connect")
        == 0
    )
    assert done["site-resolver"].detail.startswith(f"server {site.where}: no answer within 0.4s")

"""`kind: dns` targets: the `server` and `transport` keys, and the query's time budget."""

from __future__ import annotations

import pytest

from exporter.config import ConfigError, DnsServer, DnsTarget, load_config_text
from exporter.probes.dns import query_lifetime


def dns_target(extra: str) -> DnsTarget:
    cfg = load_config_text(
        "vantage: it\ntargets:\n"
        f"  - {{name: r, role: control, kind: dns, host: india.gov.in{extra}}}\n"
    )
    target = cfg.targets[0]
    assert isinstance(target, DnsTarget)
    return target


def errors(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        dns_target(extra)
    return info.value.errors


@pytest.mark.parametrize(
    ("server", "address", "port", "shown"),
    [
        pytest.param("10.0.0.53", "10.0.0.53", 53, "10.0.0.53:53", id="ipv4"),
        pytest.param('"10.0.0.53:5353"', "10.0.0.53", 5353, "10.0.0.53:5353", id="ipv4-port"),
        pytest.param('"fd00::53"', "fd00::53", 53, "[fd00::53]:53", id="ipv6-bare"),
        pytest.param('"[fd00::53]:5353"', "fd00::53", 5353, "[fd00::53]:5353", id="ipv6-port"),
        pytest.param('"[FD00:0::53]"', "fd00::53", 53, "[fd00::53]:53", id="ipv6-normalised"),
    ],
)
def test_server_takes_an_ip_literal_with_an_optional_port(
    server: str, address: str, port: int, shown: str
) -> None:
    """IPv4 and IPv6 literals parse to a normalised address, port 53 unless given."""
    target = dns_target(f", server: {server}")
    assert target.server == DnsServer(address=address, port=port)
    assert str(target.server) == shown
    assert target.transport == "udp"


def test_without_server_the_system_resolver_is_used() -> None:
    """No `server` keeps today's behaviour: no server, default transport."""
    target = dns_target("")
    assert (target.server, target.transport, target.family) == (None, "udp", "any")


def test_transport_tcp_is_kept() -> None:
    """`transport: tcp` with a server asks over TCP only."""
    assert dns_target(", server: 10.0.0.53, transport: tcp").transport == "tcp"


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("resolver.local", id="host-name"),
        pytest.param('"resolver.local:53"', id="host-name-port"),
        pytest.param('"10.0.0.53:"', id="empty-port"),
        pytest.param('"10.0.0.53:dns"', id="named-port"),
        pytest.param('"[10.0.0.53]"', id="ipv4-in-brackets"),
        pytest.param("53", id="a-number"),
        pytest.param("[10.0.0.53]", id="a-list"),
    ],
)
def test_a_server_that_is_not_an_ip_literal_is_refused(server: str) -> None:
    """Anything but an IP literal (and port) is one error naming the key and the fix."""
    [error] = errors(f", server: {server}")
    assert error.startswith(
        "targets[0].server: expected an IP address with optional port, like 10.0.0.53 or "
        '"[fd00::53]:5353", got '
    )


@pytest.mark.parametrize("port", [0, 65536])
def test_a_port_outside_1_to_65535_is_refused(port: int) -> None:
    """Port 0 and ports above 65535 are named as such."""
    assert errors(f', server: "10.0.0.53:{port}"') == [
        f"targets[0].server: expected a port 1-65535 after the address, got {port}"
    ]


def test_a_bad_server_does_not_hide_other_mistakes() -> None:
    """A bad server, a bad family and a bad transport are all reported at once."""
    assert errors(", server: resolver.local, family: ipv5, transport: quic") == [
        "targets[0].server: expected an IP address with optional port, like 10.0.0.53 or "
        '"[fd00::53]:5353", got "resolver.local"',
        'targets[0].transport: expected udp or tcp, got "quic"',
        'targets[0].family: expected any, ipv4 or ipv6, got "ipv5"',
    ]


@pytest.mark.parametrize(
    ("timeout", "lifetime"),
    [
        pytest.param(10.0, 9.0, id="10s-less-1s"),
        pytest.param(4.0, 3.2, id="4s-less-20pc"),
        pytest.param(1.0, 0.8, id="1s"),
        pytest.param(0.1, 0.08, id="100ms"),
    ],
)
def test_the_query_gives_up_before_the_target_times_out(timeout: float, lifetime: float) -> None:
    """A silent server must be reported by the probe (dns_error) before its deadline."""
    assert query_lifetime(timeout) == pytest.approx(lifetime)
    assert 0 < query_lifetime(timeout) < timeout

"""The shared duration grammar and listen-address parser."""

from __future__ import annotations

import pytest

from servicekit.durations import format_duration, parse_duration
from servicekit.listen import ListenAddress, parse_listen


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("15s", 15.0, id="seconds"),
        pytest.param("2m", 120.0, id="minutes"),
        pytest.param("1h", 3600.0, id="hours"),
        pytest.param("1d", 86400.0, id="days"),
        pytest.param("1m30s", 90.0, id="compound"),
        pytest.param("1.5s", 1.5, id="decimal"),
        pytest.param(" 30s ", 30.0, id="blanks-around"),
    ],
)
def test_every_service_accepts_the_same_durations(text: str, seconds: float) -> None:
    """The union of what the exporter and the bridge accepted before, as seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["15", "s", "1x", "", "1 m", "m1", "1m 30s", "-5s"])
def test_anything_else_is_refused_with_the_grammar_named(text: str) -> None:
    """A bare number (seconds or minutes?) and unknown units are errors that show examples."""
    with pytest.raises(ValueError, match=r"expected a duration such as 15s, 2m, 1m30s or 500ms"):
        parse_duration(text)


def test_durations_are_shown_back_in_the_grammar() -> None:
    """Messages quote durations the way the file would write them."""
    assert [format_duration(s) for s in (120.0, 90.0, 0.5)] == ["2m", "90s", "0.5s"]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        pytest.param("0.0.0.0:10071", ("0.0.0.0", 10071), id="ipv4"),
        pytest.param("[::1]:10072", ("::1", 10072), id="ipv6"),
        pytest.param("localhost:10073", ("localhost", 10073), id="name"),
        pytest.param(":9000", ("0.0.0.0", 9000), id="empty-host"),
        pytest.param("127.0.0.1:0", ("127.0.0.1", 0), id="any-free-port"),
    ],
)
def test_listen_addresses(text: str, parsed: tuple[str, int]) -> None:
    """HOST:PORT, IPv6 in brackets; an empty host means every IPv4 interface."""
    assert parse_listen(text) == ListenAddress(*parsed)


@pytest.mark.parametrize("text", ["10071", "host:", "host:99999", "bad host!:80", "[::1]"])
def test_bad_listen_addresses_say_what_to_write(text: str) -> None:
    """A missing or out-of-range port, or a host that is no host, is a ValueError."""
    with pytest.raises(ValueError, match=r"HOST:PORT such as 127.0.0.1:1|not a host name"):
        parse_listen(text, example="127.0.0.1:1")


def test_listen_address_prints_back_with_brackets() -> None:
    """An IPv6 listen address is shown the way it is written."""
    assert str(parse_listen("[::1]:10072")) == "[::1]:10072"

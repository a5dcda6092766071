"""Maintenance windows and notices as Alertmanager silences, through the CLI, against a real Alertmanager."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from statuspage.alertmanager import AlertmanagerClient, Matcher
from statuspage.cli import main
from statuspage.notices import COMMENT_PREFIX, CREATED_BY
from tests.support.net import free_port
from tests.support.stack import Alertmanager

pytestmark = [pytest.mark.binaries, pytest.mark.asyncio(loop_scope="module")]


async def _cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_add_list_remove_a_maintenance_window(
    alertmanager: Alertmanager, capsys: pytest.CaptureFixture[str]
) -> None:
    """add creates a marked silence on Parichay's alerts; list shows it in IST; remove expires it."""
    am_url = ["--alertmanager-url", alertmanager.url]
    code = await _cli(
        "maintenance",
        "add",
        *am_url,
        "--service",
        "parichay",
        "--start",
        "2031-03-01T20:00",
        "--end",
        "2031-03-01T23:00",
        "--note-en",
        "NIC upgrade",
        "--note-hi",
        "NIC उन्नयन",
    )
    assert code == 0
    new_id = capsys.readouterr().out.strip()
    async with AlertmanagerClient(url=alertmanager.url) as am:
        (s,) = await am.silences()
    assert s.id == new_id and s.created_by == CREATED_BY and s.state == "pending"
    assert s.matchers == (Matcher("alertname", "Parichay.*", is_regex=True),)
    assert json.loads(s.comment.removeprefix(COMMENT_PREFIX)) == {
        "kind": "maintenance",
        "service": "parichay",
        "note_en": "NIC upgrade",
        "note_hi": "NIC उन्नयन",
    }
    # Times without a zone are IST: 20:00 IST is 14:30 UTC.
    assert s.starts_at == datetime(2031, 3, 1, 14, 30, tzinfo=UTC)

    assert await _cli("maintenance", "list", *am_url) == 0
    listed = capsys.readouterr().out
    assert (
        f"{new_id}  pending   01 Mar 20:00 IST - 01 Mar 23:00 IST  parichay  NIC upgrade" in listed
    )

    assert await _cli("maintenance", "remove", *am_url, new_id) == 0
    assert capsys.readouterr().out == f"removed {new_id} (parichay)\n"
    assert await _cli("maintenance", "list", *am_url) == 0
    assert new_id not in capsys.readouterr().out


async def test_remove_leaves_other_peoples_silences_alone(
    alertmanager: Alertmanager, capsys: pytest.CaptureFixture[str]
) -> None:
    """An engineer's own silence cannot be removed through parichay-status (exit 2, message)."""
    now = datetime.now(UTC)
    async with AlertmanagerClient(url=alertmanager.url) as am:
        sid = await am.create_silence(
            matchers=[Matcher("alertname", "ParichayDown")],
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            created_by="engineer",
            comment="x",
        )
        assert await _cli("maintenance", "remove", "--alertmanager-url", alertmanager.url, sid) == 2
        assert (
            f"no active or pending maintenance window or notice has id '{sid}'"
            in capsys.readouterr().err
        )
        (s,) = await am.silences()
    assert s.state == "active"


async def test_a_notice_silences_no_alert(alertmanager: Alertmanager) -> None:
    """A free-text notice is a silence that matches nothing: a firing page stays active."""
    now = datetime.now(UTC)
    labels = {"alertname": "ParichayDown", "severity": "page", "scope": "central"}
    await alertmanager.post_alerts(
        [
            {
                "labels": labels,
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
            }
        ]
    )
    code = await _cli(
        "notice",
        "add",
        "--alertmanager-url",
        alertmanager.url,
        "--start",
        (now - timedelta(minutes=1)).isoformat(),
        "--end",
        (now + timedelta(hours=1)).isoformat(),
        "--note-en",
        "New e-Office version tonight",
        "--note-hi",
        "आज रात ई-ऑफिस का नया संस्करण",
    )
    assert code == 0
    async with AlertmanagerClient(url=alertmanager.url) as am:
        for _ in range(50):
            (alert,) = await am.alerts()
            if alert.state != "unprocessed":
                break
            await asyncio.sleep(0.1)
    assert alert.state == "active" and alert.notified


async def test_maintenance_silences_the_service_alerts(alertmanager: Alertmanager) -> None:
    """A Parichay window mutes ParichayDown; a site window mutes only that site's alerts."""
    now = datetime.now(UTC)
    end = (now + timedelta(hours=1)).isoformat()
    alerts = [
        {"alertname": "ParichayDown", "severity": "page", "scope": "central"},
        {
            "alertname": "VantageNetworkDown",
            "severity": "page",
            "scope": "local",
            "vantage": "district-haridwar",
        },
        {
            "alertname": "VantageNetworkDown",
            "severity": "page",
            "scope": "local",
            "vantage": "cloud-mumbai",
        },
    ]
    await alertmanager.post_alerts(
        [{"labels": a, "startsAt": now.isoformat(), "endsAt": end} for a in alerts]
    )
    for service in ("parichay", "site:district-haridwar"):
        assert (
            await _cli(
                "maintenance",
                "add",
                "--alertmanager-url",
                alertmanager.url,
                "--service",
                service,
                "--start",
                (now - timedelta(minutes=1)).isoformat(),
                "--end",
                end,
                "--note-en",
                "w",
                "--note-hi",
                "w",
            )
            == 0
        )
    async with AlertmanagerClient(url=alertmanager.url) as am:
        for _ in range(50):
            got = {
                (a.labels["alertname"], a.labels.get("vantage", "")): a.notified
                for a in await am.alerts()
            }
            if got.get(("ParichayDown", "")) is False:
                break
            await asyncio.sleep(0.1)
    assert got == {
        ("ParichayDown", ""): False,
        ("VantageNetworkDown", "district-haridwar"): False,
        ("VantageNetworkDown", "cloud-mumbai"): True,
    }


async def test_a_window_is_added_through_the_member_that_answers(
    alertmanager: Alertmanager, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the first cluster member down, add and list go to the next one."""
    dead = f"http://127.0.0.1:{free_port()}"
    urls = ["--alertmanager-url", dead, "--alertmanager-url", alertmanager.url]
    code = await _cli(
        "notice",
        "add",
        *urls,
        "--start",
        "2031-01-01T10:00",
        "--end",
        "2031-01-01T11:00",
        "--note-en",
        "n",
        "--note-hi",
        "न",
    )
    assert code == 0
    new_id = capsys.readouterr().out.strip()
    assert await _cli("notice", "list", *urls) == 0
    assert new_id in capsys.readouterr().out

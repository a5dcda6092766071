"""Benchmark: time to page for a central Parichay outage or a partial-reachability fault,
with production settings.

Runs the end-to-end chain of tests/e2e (tests/support: world, stack) with the repository's files
as they are: prometheus.yml's scrape and evaluation intervals, the rules' `for:`,
alertmanager.yml's group_wait / group_interval, Alertmanager's default cluster timings,
config/smsbridge.yml's sender settings, and the probe intervals of config/exporter.yml.
Only addresses are substituted. Each run starts a fresh Prometheus, two clustered
Alertmanagers and the SMS bridge, waits for a healthy baseline, stages the fault and
measures:

* outage -> first SMS at the gateway stand-in, outage -> email at the SMTP server;
* recovery -> RESOLVED SMS and email.

Scenarios (`--scenario`):

* `central` (default): Parichay answers 503 to every vantage -> `ParichayDown`;
* `partial`: the route to Parichay of two of the three vantages is cut (their SSO path
  refuses connections; their control targets keep answering) ->
  `ParichayPartiallyUnreachable` (scope path);
* `both`: one central and one partial run per `--runs`, alternating.

Real outages start and end at random moments, so each run starts the outage at a random
phase of Prometheus' scrape/evaluation grid, and ends it a random time (up to one
group_interval) after the page arrived; otherwise the figures would be locked to the grid
(e.g. the RESOLVED always exactly one group_interval after the page).

Not a test, and not run in CI: one run takes 3-5 minutes.

    python bench/time_to_page.py [--scenario partial] [--runs 3] [--seed 1] [--dir /tmp/ttp]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.layout import PARTIAL_VANTAGES
from tests.support.stack import AlertingStack
from tests.support.timing import Timing, production_timing
from tests.support.world import World, wait_for_page

RUN_LIMIT_S = 600.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A fault to stage and undo, and the page it must raise."""

    name: str
    alertname: str
    scope: str
    start: Callable[[World], Awaitable[None]]
    stop: Callable[[World], Awaitable[None]]


async def _sso_503(world: World) -> None:
    world.sim.set_fault("sso", "http_503")


async def _sso_ok(world: World) -> None:
    world.sim.set_fault("sso", "ok")


async def _cut_partial(world: World) -> None:
    await world.cut_sso(PARTIAL_VANTAGES)


async def _restore_partial(world: World) -> None:
    await world.restore_sso(PARTIAL_VANTAGES)


SCENARIOS = {
    "central": Scenario("central", "ParichayDown", "central", _sso_503, _sso_ok),
    "partial": Scenario(
        "partial", "ParichayPartiallyUnreachable", "path", _cut_partial, _restore_partial
    ),
}


@dataclass(frozen=True, slots=True)
class RunResult:
    scenario: str
    to_sms: float
    to_email: float
    to_resolved_sms: float
    to_resolved_email: float


async def one_run(
    world: World, root: Path, timing: Timing, n: int, rng: random.Random, scenario: Scenario
) -> RunResult:
    async with AlertingStack(world, root / f"run-{n}", timing=timing) as stack:
        # A healthy baseline: every probe passed, Prometheus scraped and evaluated it.
        await stack.wait_ready(within=240)
        world.clear_inboxes()
        # wait_ready returns just after an evaluation: start at a random phase instead.
        await asyncio.sleep(rng.uniform(0, max(timing.scrape_s, timing.eval_s)))
        down_at = time.monotonic()
        await scenario.start(world)
        page = await wait_for_page(world, scenario.alertname, scope=scenario.scope, within=300)
        first_sms = min(s.at for s in page.sms)
        await asyncio.sleep(rng.uniform(0, timing.group_interval_s))
        up_at = time.monotonic()
        await scenario.stop(world)
        resolved = await wait_for_page(
            world, scenario.alertname, scope=scenario.scope, status="RESOLVED", within=300
        )
        return RunResult(
            scenario=scenario.name,
            to_sms=first_sms - down_at,
            to_email=page.mail_at - down_at,
            to_resolved_sms=min(s.at for s in resolved.sms) - up_at,
            to_resolved_email=resolved.mail_at - up_at,
        )


async def main(runs: int, root: Path, seed: int, scenarios: list[Scenario]) -> int:
    rng = random.Random(seed)
    timing = production_timing()
    print(
        f"production settings: probes sso {timing.sso_interval:g}s / app "
        f"{timing.app_interval:g}s / control {timing.control_interval:g}s, scrape "
        f"{timing.scrape_s:g}s, evaluation {timing.eval_s:g}s, ParichayDown for "
        f"{timing.page_for_s:g}s (partial: the same), group_wait {timing.group_wait_s:g}s, "
        "group_interval "
        f"{timing.group_interval_s:g}s, peer timeout {timing.peer_timeout_s:g}s",
        flush=True,
    )
    results: list[RunResult] = []
    async with World(root / "world", timing=timing) as world:
        await world.wait_settled(within=180)
        plan = [s for _ in range(runs) for s in scenarios]
        for n, scenario in enumerate(plan, start=1):
            await world.heal()
            await world.wait_healthy(within=180)
            started = time.monotonic()
            try:
                r = await asyncio.wait_for(
                    one_run(world, root, timing, n, rng, scenario), RUN_LIMIT_S
                )
            except (TimeoutError, AssertionError) as exc:
                took = time.monotonic() - started
                print(f"run {n} ({scenario.name}): FAILED after {took:.0f}s: {exc}", flush=True)
                return 1
            results.append(r)
            print(
                f"run {n} ({r.scenario}): outage -> SMS {r.to_sms:6.1f}s  -> email "
                f"{r.to_email:6.1f}s   "
                f"recovery -> resolved SMS {r.to_resolved_sms:6.1f}s  -> email "
                f"{r.to_resolved_email:6.1f}s",
                flush=True,
            )

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):6.1f}s (min {min(values):.1f}, max {max(values):.1f})"

    for scenario in scenarios:
        mine = [r for r in results if r.scenario == scenario.name]
        print(f"\n{scenario.name} ({scenario.alertname}): median of {len(mine)} run(s):")
        print(f"  outage   -> SMS            {med([r.to_sms for r in mine])}")
        print(f"  outage   -> email          {med([r.to_email for r in mine])}")
        print(f"  recovery -> resolved SMS   {med([r.to_resolved_sms for r in mine])}")
        print(f"  recovery -> resolved email {med([r.to_resolved_email for r in mine])}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario",
        choices=[*SCENARIOS, "both"],
        default="central",
        help="central outage, partial reachability (two of three sites cut off), or both",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario")
    parser.add_argument("--seed", type=int, default=1, help="for the random fault timings")
    parser.add_argument("--dir", type=Path, help="keep configs and logs here")
    args = parser.parse_args()
    # The exporters log every state change; only errors matter here.
    logging.basicConfig(level=logging.ERROR)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    chosen = list(SCENARIOS.values()) if args.scenario == "both" else [SCENARIOS[args.scenario]]
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        sys.exit(asyncio.run(main(args.runs, args.dir, args.seed, chosen)))
    with tempfile.TemporaryDirectory(prefix="time-to-page-") as tmp:
        sys.exit(asyncio.run(main(args.runs, Path(tmp), args.seed, chosen)))

"""One record per target kind: its config model, its probe, and what it can do.

Adding a kind means one probe module (`exporter/probes/<kind>.py` with
`async def probe(target, ctx) -> ProbeResult`), its config class, and one line here (plus
the class in `exporter.config.Target`, which a test checks against this table). Code
that behaves differently per kind asks the record (`kind_of(target).can_pause`) instead
of comparing kind names.

The probe module is imported on first use, so modules that only need the capabilities
(the collector, the status page) do not pull in the HTTP client.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from exporter.config import DnsTarget, HttpTarget, LoginTarget, TcpTarget
from exporter.target_base import TargetBase

if TYPE_CHECKING:
    from exporter.result import ProbeResult

ProbeFn = Callable[[Any, Any], Awaitable["ProbeResult"]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Kind:
    """A target kind and its capabilities."""

    name: str
    config: type[TargetBase]
    # `exporter.probes.<name>`.
    module: str
    # Results carry an HTTP status (the `parichay_http_status_code` series).
    has_http_status: bool = False
    # The probe may pause itself (a login that was refused, to protect the account); its
    # pause and state file live in `exporter.account`.
    can_pause: bool = False
    # Results may carry a TLS certificate expiry.
    has_tls_cert: bool = False
    # Runs a user journey as the monitoring account (the status page calls it a login).
    uses_account: bool = False

    def probe_module(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def probe(self) -> ProbeFn:
        fn: ProbeFn = self.probe_module().probe
        return fn


KINDS: Final[dict[str, Kind]] = {
    k.name: k
    for k in (
        Kind(
            name="http",
            config=HttpTarget,
            module="exporter.probes.http",
            has_http_status=True,
            has_tls_cert=True,
        ),
        Kind(name="tcp", config=TcpTarget, module="exporter.probes.tcp", has_tls_cert=True),
        Kind(name="dns", config=DnsTarget, module="exporter.probes.dns"),
        Kind(
            name="login",
            config=LoginTarget,
            module="exporter.probes.login",
            has_http_status=True,
            can_pause=True,
            has_tls_cert=True,
            uses_account=True,
        ),
    )
}


def kind_of(target: TargetBase) -> Kind:
    """The record of `target`'s kind."""
    return KINDS[str(getattr(target, "kind"))]  # noqa: B009

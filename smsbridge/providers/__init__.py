"""SMS gateway providers: one module per kind, one mapping from kind to module.

The config's allowed `kind` values come from `KINDS`, so adding a gateway touches its
own module plus one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..confreader import Node
from . import http, nic
from .base import FailureReason, GatewayRequest, OutgoingSms, Provider, SendResult

ProviderConfig = nic.NicConfig | http.HttpConfig


@dataclass(frozen=True, slots=True)
class ProviderKind:
    parse: Callable[[Node], ProviderConfig | None]


KINDS: Final[dict[str, ProviderKind]] = {
    nic.KIND: ProviderKind(parse=nic.parse_config),
    http.KIND: ProviderKind(parse=http.parse_config),
}


def create(*, name: str, config: ProviderConfig) -> Provider:
    """Instantiate the provider for a parsed config."""
    if isinstance(config, nic.NicConfig):
        return nic.NicProvider(name=name, config=config)
    return http.HttpProvider(name=name, config=config)


__all__ = [
    "KINDS",
    "FailureReason",
    "GatewayRequest",
    "OutgoingSms",
    "Provider",
    "ProviderConfig",
    "SendResult",
    "create",
]

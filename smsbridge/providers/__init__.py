"""SMS gateway providers: one module per kind, one mapping from kind to module.

The config's allowed `kind` values come from `KINDS`, so adding a gateway touches its
own module plus one line here.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field

from . import http, nic
from .base import FailureReason, GatewayRequest, OutgoingSms, Provider, SendResult

# The config's `providers.<name>` value: discriminated on `kind`.
ProviderConfig = Annotated[nic.NicConfig | http.HttpConfig, Field(discriminator="kind")]
KINDS: Final = (nic.KIND, http.KIND)


def create(*, name: str, config: nic.NicConfig | http.HttpConfig) -> Provider:
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

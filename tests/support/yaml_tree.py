"""Walk a parsed YAML config for the settings that name a secret (`*_file`, `*_env`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def suffixed(node: Any, suffix: str) -> Iterator[tuple[dict[Any, Any], str, str]]:
    """(mapping, key, value) for every string value whose key ends in `suffix`, in document
    order, anywhere in a tree of dicts and lists; such a value is not searched further."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.endswith(suffix) and isinstance(value, str):
                yield node, key, value
            else:
                yield from suffixed(value, suffix)
    elif isinstance(node, list):
        for value in node:
            yield from suffixed(value, suffix)

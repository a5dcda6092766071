"""SMS encoding and segment arithmetic: GSM-7 versus UCS-2, parts per message.

A text made only of GSM 03.38 characters is sent as GSM-7: 160 septets in one SMS,
153 per part once it is split (the rest carries the concatenation header); the
extension characters (``^{}\\[~]|€`` and form feed) cost two septets and are never
split across parts. Anything else (Devanagari, curly quotes, emoji) forces UCS-2:
70 UTF-16 code units in one SMS, 67 per part, and a surrogate pair is never split.

>>> segment_count("FIRING: Parichay down")
1
>>> encoding_of("परिचय बंद")
'UCS-2'
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED: Final = frozenset("^{}\\[~]|€\f")

SINGLE_LIMIT: Final = {Encoding.GSM7: 160, Encoding.UCS2: 70}
PART_LIMIT: Final = {Encoding.GSM7: 153, Encoding.UCS2: 67}


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentInfo:
    """How a text goes over the air."""

    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    parts: int


def encoding_of(text: str) -> Encoding:
    """GSM-7 if every character is in the GSM 03.38 basic or extension table, else UCS-2."""
    for ch in text:
        if ch not in _GSM_BASIC and ch not in _GSM_EXTENDED:
            return Encoding.UCS2
    return Encoding.GSM7


def _unit_costs(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM7:
        return [2 if ch in _GSM_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def analyse(text: str) -> SegmentInfo:
    """Encoding, total units and number of parts for `text` (an empty text is one SMS)."""
    encoding = encoding_of(text)
    costs = _unit_costs(text, encoding)
    total = sum(costs)
    if total <= SINGLE_LIMIT[encoding]:
        return SegmentInfo(encoding=encoding, units=total, parts=1)
    limit = PART_LIMIT[encoding]
    parts, used = 1, 0
    for cost in costs:
        if used + cost > limit:  # a character never straddles two parts
            parts += 1
            used = 0
        used += cost
    return SegmentInfo(encoding=encoding, units=total, parts=parts)


def segment_count(text: str) -> int:
    """Number of SMS parts `text` needs."""
    return analyse(text).parts

"""Message templates tied to their DLT registrations: parsing, start-up validation, filling.

Indian operators (TRAI's DLT regime) deliver a commercial SMS only when its text is
the registered template with nothing changed except the ``{#var#}`` slots. A
template in our config therefore carries both texts::

    dlt_text: "ITDA ALERT {#var#}: {#var#} ({#var#}) since {#var#} IST. ITDA Monitoring"
    text:     "ITDA ALERT {status}: {what} ({scope}) since {since} IST. ITDA Monitoring"

`compile_template()` checks at start-up that, once each run of adjacent
``{placeholder}``s is read as one slot, the literal text around the slots is exactly
the registered text around the ``{#var#}``s. `fill()` then only ever changes slot
contents: values are cleaned (no URLs, no control characters, whitespace collapsed),
cut to the DLT variable limit, and shortened further until the SMS fits the part cap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .segments import PART_LIMIT, SINGLE_LIMIT, SegmentInfo, analyse

DLT_VAR: Final = "{#var#}"
ELLIPSIS: Final = ".."

# Every placeholder a template may use; `label.<name>` reads a common label.
FIELDS: Final = frozenset(
    {
        "status",
        "status_hi",
        "alertname",
        "what",
        "what_hi",
        "scope",
        "scope_hi",
        "severity",
        "target",
        "vantage",
        "since",
        "ended",
        "count",
        "more",
        "more_hi",
        "summary",
        "summary_hi",
        "until",
        "limit",
        "silence",
    }
)
_PLACEHOLDER: Final = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")
URL_PATTERN: Final = re.compile(
    r"(?i)\b(?:https?://|ftp://|www\.)\S*|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:in|com|org|net|gov|nic)(?:/\S*)?\b"
)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


class TemplateError(ValueError):
    """A template that cannot be used; the message names the problem, not the YAML path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledTemplate:
    """A validated template: literals[i] surround slots[i]; len(literals) == len(slots) + 1."""

    name: str
    dlt_template_id: str
    dlt_text: str
    literals: tuple[str, ...]
    slots: tuple[tuple[str, ...], ...]
    max_var_chars: int

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(f for slot in self.slots for f in slot)

    def matches_registration(self, text: str) -> bool:
        """True if `text` is the registered template with only the variable slots filled."""
        limit = "*" if self.max_var_chars <= 0 else f"{{0,{self.max_var_chars}}}"
        pattern = f"(?:.{limit})".join(re.escape(lit) for lit in self.literals)
        return re.fullmatch(pattern, text, flags=re.DOTALL) is not None


def _split_text(text: str) -> tuple[list[str], list[tuple[str, ...]]]:
    literals: list[str] = []
    slots: list[tuple[str, ...]] = []
    pos = 0
    current: list[str] = []
    pending_literal = ""
    for match in _PLACEHOLDER.finditer(text):
        literal = text[pos : match.start()]
        if literal or not current:
            if current:
                slots.append(tuple(current))
                current = []
                literals.append(pending_literal)
                pending_literal = literal
            else:
                pending_literal += literal
        current.append(match.group(1))
        pos = match.end()
    tail = text[pos:]
    if current:
        literals.append(pending_literal)
        slots.append(tuple(current))
        literals.append(tail)
    else:
        literals.append(pending_literal + tail)
    for literal in literals:
        if "{" in literal or "}" in literal:
            raise TemplateError(
                "stray '{' or '}': placeholders look like {status}; literal braces are not allowed"
            )
    return literals, slots


def compile_template(
    *, name: str, text: str, dlt_text: str, dlt_template_id: str, max_var_chars: int
) -> CompiledTemplate:
    """Validate `text` against its registered `dlt_text`; raise TemplateError with the reason."""
    literals, slots = _split_text(text)
    unknown = sorted(
        {f for slot in slots for f in slot if f not in FIELDS and not f.startswith("label.")}
    )
    if unknown:
        raise TemplateError(
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"known: {', '.join(sorted(FIELDS))}, label.<name>"
        )
    registered = dlt_text.split(DLT_VAR)
    if len(registered) != len(literals):
        raise TemplateError(
            f"has {len(slots)} variable slot(s) but dlt_text registers "
            f"{len(registered) - 1} {DLT_VAR}"
        )
    for index, (ours, theirs) in enumerate(zip(literals, registered, strict=True)):
        if ours != theirs:
            raise TemplateError(
                f"fixed text {index + 1} is {ours!r} but the registered template has {theirs!r}"
            )
    for literal in literals:
        if URL_PATTERN.search(literal):
            raise TemplateError("contains a URL or domain; operators block unregistered links")
    return CompiledTemplate(
        name=name,
        dlt_template_id=dlt_template_id,
        dlt_text=dlt_text,
        literals=tuple(literals),
        slots=tuple(slots),
        max_var_chars=max_var_chars,
    )


def clean_value(value: str) -> str:
    """Remove URLs and control characters and collapse whitespace in one variable value."""
    value = URL_PATTERN.sub("", value)
    value = _CONTROL.sub(" ", value)
    # Runs of whitespace become one space; edges are kept so " (+2 more)" stays readable.
    return re.sub(r"\s+", " ", value)


def _shorten(value: str, length: int) -> str:
    if len(value) <= length:
        return value
    if length <= len(ELLIPSIS):
        return value[:length]
    return value[: length - len(ELLIPSIS)].rstrip() + ELLIPSIS


@dataclass(frozen=True, slots=True, kw_only=True)
class FilledText:
    """A message ready to send, with its over-the-air shape."""

    text: str
    info: SegmentInfo


def fill(template: CompiledTemplate, values: Mapping[str, str], *, max_parts: int) -> FilledText:
    """Fill the slots from `values` and shorten the longest slot until `max_parts` is met.

    Missing values render as empty. The fixed text is never changed, so the result always
    matches the DLT registration; start-up validation makes sure the fixed text fits.
    """
    slot_values = [
        clean_value("".join(values.get(field, "") for field in slot)) for slot in template.slots
    ]
    if template.max_var_chars > 0:
        slot_values = [_shorten(v, template.max_var_chars) for v in slot_values]

    def assemble() -> str:
        out = [template.literals[0]]
        for value, literal in zip(slot_values, template.literals[1:], strict=True):
            out.append(value)
            out.append(literal)
        return "".join(out)

    text = assemble()
    info = analyse(text)
    # Bounded: every round removes at least one character from some slot.
    while info.parts > max_parts and any(slot_values):
        longest = max(range(len(slot_values)), key=lambda i: len(slot_values[i]))
        current = slot_values[longest]
        budget = (
            SINGLE_LIMIT[info.encoding] if max_parts == 1 else PART_LIMIT[info.encoding] * max_parts
        )
        excess = max(1, info.units - budget)
        slot_values[longest] = _shorten(current, max(0, len(current) - excess))
        if slot_values[longest] == current:  # _shorten could not make progress
            slot_values[longest] = current[:-1]
        text = assemble()
        info = analyse(text)
    return FilledText(text=text, info=info)

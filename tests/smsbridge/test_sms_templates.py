"""DLT template validation and slot filling."""

from __future__ import annotations

import pytest

from smsbridge.segments import Encoding
from smsbridge.templates import TemplateError, compile_template, fill

EN_DLT = "ITDA ALERT {#var#}: {#var#} since {#var#} IST. -ITDA"
EN_TEXT = "ITDA ALERT {status}: {what} since {since} IST. -ITDA"


def _compile(text: str = EN_TEXT, dlt: str = EN_DLT, max_var: int = 30):  # type: ignore[no-untyped-def]
    return compile_template(
        name="t",
        text=text,
        dlt_text=dlt,
        dlt_template_id="1107160000000000001",
        max_var_chars=max_var,
    )


@pytest.mark.parametrize(
    ("text", "dlt", "message"),
    [
        pytest.param(
            "ITDA ALERT {status}: {what} since {since} IST -ITDA",
            EN_DLT,
            "fixed text 4 is ' IST -ITDA' but the registered template has ' IST. -ITDA'",
            id="changed-fixed-text",
        ),
        pytest.param(
            "ITDA ALERT {status}: {what} IST. -ITDA",
            EN_DLT,
            "has 2 variable slot(s) but dlt_text registers 3 {#var#}",
            id="missing-slot",
        ),
        pytest.param(
            "ITDA ALERT {status}: {wat} since {since} IST. -ITDA",
            EN_DLT,
            "unknown placeholder(s) {wat}; known: alertname, count, ended, limit, more, "
            "more_hi, scope, scope_hi, severity, silence, since, status, status_hi, summary, "
            "summary_hi, target, until, vantage, what, what_hi, label.<name>",
            id="unknown-placeholder",
        ),
        pytest.param(
            "ITDA {status} see https://itda.example/x {what}",
            "ITDA {#var#} see https://itda.example/x {#var#}",
            "contains a URL or domain; operators block unregistered links",
            id="url-in-fixed-text",
        ),
        pytest.param(
            "ITDA {status} {{x}}",
            "ITDA {#var#} {x}",
            "stray '{' or '}': placeholders look like {status}; literal braces are not allowed",
            id="literal-braces",
        ),
    ],
)
def test_templates_not_matching_their_registration_are_rejected(
    text: str, dlt: str, message: str
) -> None:
    """A template whose fixed text differs from the DLT registration fails at start-up."""
    with pytest.raises(TemplateError) as info:
        _compile(text, dlt)
    assert str(info.value) == message


def test_adjacent_placeholders_fill_one_dlt_variable() -> None:
    """`{since}{more}` with nothing between them is one {#var#} slot."""
    template = _compile(
        "ITDA {status}: {what} at {since}{more}.", "ITDA {#var#}: {#var#} at {#var#}."
    )
    assert template.slots == (("status",), ("what",), ("since", "more"))
    filled = fill(
        template,
        {"status": "FIRING", "what": "Parichay", "since": "25 Nov 09:42", "more": " (+2 more)"},
        max_parts=1,
    )
    assert filled.text == "ITDA FIRING: Parichay at 25 Nov 09:42 (+2 more)."
    assert template.matches_registration(filled.text)


def test_values_are_cleaned_of_urls_and_capped_at_the_dlt_variable_limit() -> None:
    """URLs are removed from values and each slot is cut to max_var_chars with '..'."""
    template = _compile(max_var=12)
    filled = fill(
        template,
        {"status": "FIRING", "what": "see https://x.example/a\nParichay SSO Delhi", "since": "x"},
        max_parts=3,
    )
    assert filled.text == "ITDA ALERT FIRING: see Parich.. since x IST. -ITDA"
    assert template.matches_registration(filled.text)


def test_long_values_are_shortened_until_the_part_cap_is_met() -> None:
    """Only slots shrink; the result fits max_parts and still matches the registration."""
    template = _compile(max_var=0)
    filled = fill(template, {"status": "FIRING", "what": "x" * 400, "since": "y" * 50}, max_parts=1)
    assert filled.info.parts == 1
    assert filled.info.units == 160
    assert filled.text.startswith("ITDA ALERT FIRING: xxx")
    assert filled.text.endswith(".. since " + "y" * 50 + " IST. -ITDA")
    assert template.matches_registration(filled.text)


def test_hindi_template_is_ucs2_and_capped_in_ucs2_parts() -> None:
    """A Devanagari template is measured in UCS-2 units (70 / 67 per part)."""
    template = _compile("चेतावनी {status_hi}: {what_hi}", "चेतावनी {#var#}: {#var#}", max_var=0)
    filled = fill(template, {"status_hi": "चालू", "what_hi": "क" * 200}, max_parts=2)
    assert filled.info.encoding is Encoding.UCS2
    assert filled.info.parts == 2
    assert filled.info.units == 134

"""SMS encoding and segment counting (GSM-7 160/153, UCS-2 70/67)."""

from __future__ import annotations

import pytest

from smsbridge.segments import Encoding, analyse, encoding_of, segment_count


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        pytest.param("", Encoding.GSM7, 0, 1, id="empty-is-one-sms"),
        pytest.param("a" * 160, Encoding.GSM7, 160, 1, id="gsm-160-fits-one"),
        pytest.param("a" * 161, Encoding.GSM7, 161, 2, id="gsm-161-needs-two"),
        pytest.param("a" * 306, Encoding.GSM7, 306, 2, id="gsm-306-is-two-parts-of-153"),
        pytest.param("a" * 307, Encoding.GSM7, 307, 3, id="gsm-307-needs-three"),
        pytest.param("€" * 80, Encoding.GSM7, 160, 1, id="gsm-extension-chars-cost-two"),
        pytest.param("a" * 152 + "€" + "a" * 10, Encoding.GSM7, 164, 2, id="escape-not-split"),
        pytest.param("a" * 152 + "€" * 77, Encoding.GSM7, 306, 3, id="escape-pair-moves-to-next"),
        pytest.param("क" * 70, Encoding.UCS2, 70, 1, id="ucs2-70-fits-one"),
        pytest.param("क" * 71, Encoding.UCS2, 71, 2, id="ucs2-71-needs-two"),
        pytest.param("क" * 134, Encoding.UCS2, 134, 2, id="ucs2-134-is-two-parts-of-67"),
        pytest.param("क" * 135, Encoding.UCS2, 135, 3, id="ucs2-135-needs-three"),
        pytest.param("a" * 66 + "😀", Encoding.UCS2, 68, 1, id="surrogate-pair-counts-two"),
        pytest.param("a" * 66 + "😀" + "a" * 5, Encoding.UCS2, 73, 2, id="surrogate-not-split"),
        pytest.param("FIRING: e-Office Dehradun @ 09:42", Encoding.GSM7, 33, 1, id="plain-ascii"),
        pytest.param("naïve", Encoding.UCS2, 5, 1, id="i-diaeresis-is-not-gsm"),
        pytest.param("Ça va è", Encoding.GSM7, 7, 1, id="gsm-latin-letters"),
    ],
)
def test_segments_match_the_gsm_and_ucs2_rules(
    text: str, encoding: Encoding, units: int, parts: int
) -> None:
    """Encoding, unit count and part count follow 3GPP TS 23.038 / 23.040 limits."""
    info = analyse(text)
    assert (info.encoding, info.units, info.parts) == (encoding, units, parts)
    assert segment_count(text) == parts


def test_any_devanagari_forces_ucs2() -> None:
    """One Hindi character makes the whole message UCS-2."""
    assert encoding_of("ITDA ALERT FIRING") is Encoding.GSM7
    assert encoding_of("ITDA ALERT चालू") is Encoding.UCS2

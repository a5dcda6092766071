"""One phrasebook: Alertmanager's email template, the SMS values, the status page, the
exporter's local page and the report say the same thing in the same words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from servicekit import phrasebook as words
from smsbridge.render import RESOLVED_LINES
from statuspage.view import headlines

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = (REPO / "alertmanager" / "templates" / "parichay.tmpl").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "phrase",
    [words.EMAIL_ALL_RESOLVED, words.EMAIL_ALL_VANTAGES, *words.STATUS_SUBJECT.values()],
    ids=lambda p: p.en[:30],
)
def test_alertmanagers_email_template_carries_the_phrasebook_verbatim(
    phrase: words.Phrase,
) -> None:
    assert phrase.en in TEMPLATE
    assert phrase.hi in TEMPLATE


def test_the_path_sentence_of_the_email_is_the_phrasebooks() -> None:
    """`{sites}` is where the template lists the failing sites."""
    sites = '{{ template "parichay.path.sites" . }}'
    said = words.EMAIL_PATH.format(sites=sites)
    assert said.en in TEMPLATE and said.hi in TEMPLATE


@pytest.mark.parametrize("field", sorted(words.EMAIL_FIELDS))
def test_every_field_label_of_the_email_is_the_phrasebooks(field: str) -> None:
    label = words.EMAIL_FIELDS[field]
    assert re.search(rf"{re.escape(label.en)} / (<span lang=\"hi\">)?{re.escape(label.hi)}", TEMPLATE)


def test_the_bridges_resolved_email_and_the_statuses_come_from_the_phrasebook() -> None:
    assert RESOLVED_LINES == (words.EMAIL_ALL_RESOLVED.en, words.EMAIL_ALL_RESOLVED.hi)
    for status, word in words.STATUS.items():
        assert f"{word.en} / {word.hi}" in TEMPLATE, status


def test_page_headline_is_the_phrasebooks_sentence() -> None:
    """The status page and the exporter's local page share CENTRAL_DOWN (the local page
    once said 'नहीं हो पा रहा है' where the status page said 'नहीं हो रहा है')."""
    down = {"alertname": "ParichayDown", "severity": "page", "scope": "central"}
    (h,) = headlines(firing=[down], am_alerts=[])
    expected = words.CENTRAL_DOWN.format(since="") + words.ITDA_CHECKING
    assert (h.en, h.hi) == (expected.en, expected.hi)


@pytest.mark.parametrize(
    ("seconds", "en", "hi"),
    [
        (6300, "1 h 45 min", "1 घंटा 45 मिनट"),
        (14520, "4 h 02 min", "4 घंटे 02 मिनट"),
        (720, "12 min", "12 मिनट"),
        (29, "0 min", "0 मिनट"),
    ],
)
def test_durations_read_naturally_in_both_languages(seconds: int, en: str, hi: str) -> None:
    assert words.duration(seconds) == words.Phrase(en, hi)


def test_every_scope_has_its_words_and_the_path_is_a_network_path() -> None:
    scopes = {"central", "app", "path", "local", "config", "monitoring"}
    assert set(words.SCOPE) == scopes == set(words.SCOPE_LONG)
    assert words.SCOPE["path"].hi == "नेटवर्क मार्ग"

"""The one redaction routine (servicekit.secrets): every encoded form of a secret is scrubbed."""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from servicekit.secrets import REDACTED, Secret, SecretFileError, redact, secret_from_file

# Characters that every encoder treats differently: space, '/', '@', '+', '"', '\', non-ASCII
# in the BMP and beyond it.
VALUE = 'Pw +/@"\\ é-मो-😀-9a'
SECRET = Secret(VALUE)


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{VALUE}".encode()).decode()


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


FORMS = [
    pytest.param(VALUE, id="raw"),
    pytest.param(quote(VALUE, safe=""), id="url-percent-upper"),
    pytest.param(_lower_hex(quote(VALUE, safe="")), id="url-percent-lower-hex"),
    pytest.param(quote(VALUE, safe="/@"), id="url-percent-path-safe"),
    pytest.param(quote_plus(VALUE), id="form-plus"),
    pytest.param(_lower_hex(quote_plus(VALUE)), id="form-plus-lower-hex"),
    pytest.param(json.dumps(VALUE)[1:-1], id="json-ascii-uXXXX"),
    pytest.param(
        re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), json.dumps(VALUE))[1:-1],
        id="json-upper-hex-escapes",
    ),
    pytest.param(json.dumps(VALUE, ensure_ascii=False)[1:-1], id="json-utf8"),
    pytest.param(json.dumps(VALUE)[1:-1].replace("/", "\\/"), id="json-escaped-slash"),
    pytest.param(base64.b64encode(VALUE.encode()).decode(), id="base64-alone"),
    pytest.param(base64.urlsafe_b64encode(VALUE.encode()).decode(), id="base64-urlsafe"),
    pytest.param(_basic("m"), id="basic-auth-offset-2"),
    pytest.param(_basic("mo"), id="basic-auth-offset-0"),
    pytest.param(_basic("monitor@uk.gov.in"), id="basic-auth-offset-1"),
]


@pytest.mark.parametrize("form", FORMS)
def test_each_encoded_form_is_redacted(form: str) -> None:
    """The secret disappears from text in this encoding; the surrounding text stays."""
    text = f"server said: <{form}> (end)"
    out = redact(text, [SECRET])
    assert out.startswith("server said: <") and out.endswith("> (end)")
    assert REDACTED in out
    assert form not in out
    for piece in ("Pw", "मो", "😀", "9a"):
        assert piece not in out.replace(REDACTED, ""), out


def test_secret_never_prints_itself_and_compares_in_constant_time() -> None:
    """str, repr, format and logging show `<secret>`; matches() compares the value."""
    assert (str(SECRET), repr(SECRET), f"{SECRET:>20}") == (REDACTED, REDACTED, REDACTED)
    assert SECRET.matches(VALUE) and not SECRET.matches(VALUE + "x")
    assert SECRET == Secret(VALUE) and SECRET != Secret("other")
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(SECRET)


def test_innocent_text_and_very_short_values_are_left_alone() -> None:
    """Text without the secret is unchanged; values under 3 characters are not redacted."""
    text = "HTTP/1.1 200 OK, dXNlcjpvdGhlcg== and 'Pw' alone"
    assert redact(text, [SECRET, "1", "OK"]) == text


def test_longest_secret_wins_when_one_contains_another() -> None:
    """A secret inside a longer one does not leave part of the longer one visible."""
    assert redact("token=abcdef-123456", ["abcdef", "abcdef-123456"]) == "token=<secret>"


def test_a_form_posted_by_httpx_is_redacted_in_its_wire_form() -> None:
    """What httpx actually puts on the wire for a form and a JSON body is scrubbed."""
    form = httpx.Request("POST", "https://x.test/", data={"p": VALUE}).read().decode()
    body = httpx.Request("POST", "https://x.test/", json={"p": VALUE}).read().decode()
    query = str(httpx.URL("https://x.test/", params={"p": VALUE}))
    for wire in (form, body, query):
        assert VALUE not in wire or wire == VALUE
        assert REDACTED in redact(wire, [SECRET]), wire


def test_redacted_log_lines_carry_no_form_of_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    """A log line built from a server reply quoting the secret in several forms is clean."""
    caplog.set_level(logging.INFO)
    reply = json.dumps({"echo": VALUE, "form": quote_plus(VALUE), "auth": _basic("u")})
    logging.getLogger("t").info("gateway replied %s", redact(reply, [SECRET]))
    assert caplog.text.count(REDACTED) == 3
    assert quote_plus(VALUE) not in caplog.text and "मो" not in caplog.text


def test_secret_from_file_strips_and_says_why_it_cannot(tmp_path: Path) -> None:
    """One reader for every secret file: the config's `*_file` keys and the status page's."""
    good = tmp_path / "token"
    good.write_text("  s3cret-token\n", encoding="utf-8")
    assert secret_from_file(good).reveal() == "s3cret-token"
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    missing = tmp_path / "missing"
    for path, message, reason in (
        (missing, f"file not found: {missing}", "No such file or directory"),
        (empty, f"file {empty} is empty", "empty"),
        (tmp_path, f"cannot read {tmp_path}: Is a directory", "Is a directory"),
    ):
        with pytest.raises(SecretFileError) as err:
            secret_from_file(path)
        assert (str(err.value), err.value.reason, err.value.path) == (message, reason, str(path))

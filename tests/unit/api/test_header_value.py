"""`header_value`: the X-akismet-*/X-Spamguard-* header text, the same on its fast path and its encoding path."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from spamguard.api.akismet import MAX_HEADER_CHARS, header_value


def reference(value: object) -> str:
    """The character-by-character rule, as the header encoder documents it."""
    out = []
    for ch in str(value):
        if ch in "\r\n\t":
            out.append(" ")
        elif " " <= ch <= "~" and ch != "%":
            out.append(ch)
        else:
            out.append(quote(ch, safe=""))
    return "".join(out)[:MAX_HEADER_CHARS]


def test_every_ascii_character_and_some_others_encode_as_the_rule_says():
    samples = [chr(i) for i in range(0x80)] + ["é", "€", "😀", "\u2028", "\x85"]
    for ch in samples:
        assert header_value(f"a{ch}b") == reference(f"a{ch}b"), repr(ch)


def test_plain_text_passes_unchanged_and_is_capped():
    assert header_value("contains 3 links; author URL domain spam.example") == (
        "contains 3 links; author URL domain spam.example"
    )
    assert header_value(0.1234) == "0.1234"
    assert header_value("x" * 5000) == "x" * MAX_HEADER_CHARS
    assert header_value("%" * 5000) == reference("%" * 5000)


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"X-akismet-guid": "g", "X-Spamguard-Score": 0.5, "X-Spamguard-Reasons": "a;\nb é"},
        {"Retry-After": "1", "retry-after": "2"},  # a case variant replaces, as setting does
        {"content-type": "text/csv", "X-A": "1"},  # Response's own headers are replaced in place
        {"X-A": "1", "Content-Length": "99"},
    ],
)
def test_text_headers_are_as_if_set_one_by_one(headers):
    from werkzeug.wrappers import Response

    from spamguard.api.akismet import text

    reference = Response("body", status=200, mimetype="text/plain")
    for name, value in (headers or {}).items():
        reference.headers[name] = header_value(value)
    assert text("body", headers=headers).headers.to_wsgi_list() == reference.headers.to_wsgi_list()

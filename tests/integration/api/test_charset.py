"""Bounded request decoding (issue 8, item 2): only charsets real clients send are decoded.

Any other codec is refused in the endpoint's own error form before anything is
decoded and before the key is looked up (a 200 KB punycode body used to cost 7 s
of CPU with no key at all).
"""

from __future__ import annotations

import codecs
import encodings.punycode
import json
from urllib.parse import quote_from_bytes, urlencode

import pytest
from akismet_wire import CASE8, B, K
from flask import Flask, request
from sqlalchemy import select
from work_count import assert_linear

from spamguard.api import form
from spamguard.storage.models import Check

FORM = "application/x-www-form-urlencoded"
REFUSED = (
    "punycode",
    "idna",
    "utf-7",
    "rot13",
    "rot_13",
    "zlib",
    "base64",
    "base64_codec",
    "hex",
    "bz2",
    "uu",
    "quopri",
    "utf-16",
    "utf-32",
    "unicode_escape",
    "raw_unicode_escape",
    "cp037",
    "UTF-7",
)
TEXT = "Grüße, café — “quoted” € œ"  # non-ASCII in latin-1 / windows-1252 (the last three only in 1252)

parser_app = Flask("charset-tests")
parser_app.config["MAX_CONTENT_LENGTH"] = 256 * 1024


def parse(body: bytes, content_type: str = FORM):
    with parser_app.test_request_context("/1.1/comment-check", method="POST", data=body, content_type=content_type):
        return form.read_fields(request, 65536)


def encoded(text: str, codec: str) -> bytes:
    return quote_from_bytes(text.encode(codec)).encode()


# -- the parser ----------------------------------------------------------------------------------
@pytest.mark.parametrize("label", REFUSED)
def test_other_codecs_are_refused_in_the_header_and_in_blog_charset(label):
    with pytest.raises(form.UnsupportedCharset):
        parse(b"comment_content=x", f"{FORM}; charset={label}")
    with pytest.raises(form.UnsupportedCharset):
        parse(b"comment_content=x&blog_charset=" + label.encode())


@pytest.mark.parametrize(
    "label,codec,text",
    [
        ("ISO-8859-1", "latin-1", "Grüße, café"),
        ("latin1", "latin-1", "Grüße, café"),
        ("windows-1252", "cp1252", TEXT),
        ("Windows-1252", "cp1252", TEXT),
        ("iso-8859-15", "iso8859-15", "Grüße, café € œ"),
        ("windows-1251", "cp1251", "Привет, мир"),
        ("koi8-r", "koi8-r", "Привет, мир"),
        ("windows-1250", "cp1250", "Zażółć gęślą jaźń"),
        ("Shift_JIS", "shift_jis", "こんにちは"),
        ('"utf-8"', "utf-8", TEXT),
        ("us-ascii", "ascii", "plain"),
    ],
)
def test_allowed_charsets_round_trip(label, codec, text):
    body = b"comment_content=" + encoded(text, codec) + b"&comment_author=" + encoded(text, codec)
    assert parse(body, f"{FORM}; charset={label}")["comment_content"] == text
    fields = parse(body + b"&blog_charset=" + label.strip('"').encode())
    assert fields["comment_content"] == text and fields["comment_author"] == text


def test_unknown_labels_fall_back_to_utf8():
    assert parse(b"comment_content=caf%C3%A9", f"{FORM}; charset=no-such-charset")["comment_content"] == "café"
    assert parse(b"comment_content=caf%C3%A9&blog_charset=" + b"x" * 5000)["comment_content"] == "café"


@pytest.fixture
def counting_codec():
    """A text codec (punycode underneath) that counts its decode calls, registered under a new name."""
    calls = []

    def decode(data, errors="strict"):
        calls.append(len(data))
        return encodings.punycode.Codec().decode(data, errors)

    info = codecs.CodecInfo(encodings.punycode.Codec().encode, decode, name="sg-counting-punycode")
    search = lambda name: info if name == "sg_counting_punycode" else None  # noqa: E731
    codecs.register(search)
    yield calls
    codecs.unregister(search)


def test_a_refused_codec_is_never_called(counting_codec):
    body = b"comment_content=" + b"a" * 100_000 + b"&blog_charset=sg-counting-punycode"
    with pytest.raises(form.UnsupportedCharset):
        parse(body, f"{FORM}; charset=sg-counting-punycode")
    with pytest.raises(form.UnsupportedCharset):
        parse(body)
    assert counting_codec == []


@pytest.mark.parametrize("codec", sorted(form.ALLOWED_CHARSETS))
def test_decoding_cost_is_bounded_by_the_body_cap(codec, monkeypatch):
    """A body of the cap's size in each allowed charset, every byte percent-encoded junk: one linear pass.

    Counted, not timed: the bytes handed to the codec (each once), and the Python lines run at n and 4n."""
    decoded = []
    real_decode = form._decode

    def counting_decode(parts, codec, max_chars):
        decoded.append(sum(map(len, parts)))
        return real_decode(parts, codec, max_chars)

    monkeypatch.setattr(form, "_decode", counting_decode)

    def body(n: int) -> bytes:
        return b"comment_content=" + b"".join(b"%%%02X" % (i % 256) for i in range(n))

    at_cap = 256 * 1024 // 3 - 40  # percent-encoded bytes that fit in the body cap
    cap_body = body(at_cap)
    parse(cap_body, f"{FORM}; charset={codec}")
    assert sum(decoded) <= len(cap_body) // 3 + len(b"comment_content")  # percent-decoded bytes, once
    assert_linear(lambda b: parse(b, f"{FORM}; charset={codec}"), body, at_cap // 4, codec)


# -- the Akismet endpoints -----------------------------------------------------------------------
REPORT_ENDPOINTS = ("comment-check", "submit-spam", "submit-ham")
OTHER_ENDPOINTS = (
    "verify-key",
    "usage-limit",
    "key-sites",
    "get-subscription",
    "get-stats",
    "token",
    "deactivate",
    "verify-wpcom-key",
)


@pytest.mark.parametrize("endpoint", REPORT_ENDPOINTS + OTHER_ENDPOINTS)
@pytest.mark.parametrize("with_key", [True, False])
def test_akismet_endpoints_refuse_before_the_key_is_looked_up(api, endpoint, with_key):
    fields = {**CASE8, "key": K} if with_key else {"blog": B, "user_ip": "203.0.113.5"}
    response = api.post(f"/1.2/{endpoint}", data=urlencode(fields), content_type=f"{FORM}; charset=punycode")
    assert response.status_code == 200
    expected = b"Unsupported request charset." if endpoint in REPORT_ENDPOINTS else b"invalid"
    assert response.data == expected  # the same with or without a key: decided before the key is read
    assert response.headers["X-akismet-debug-help"] == 'Charset "punycode" is not supported; send UTF-8'
    assert "X-akismet-guid" not in response.headers


def test_blog_charset_field_is_refused_too(api):
    response = api.post("/1.1/comment-check", data={**CASE8, "blog_charset": "utf-7"})
    assert response.data == b"Unsupported request charset."
    assert response.headers["X-akismet-debug-help"] == 'Charset "utf-7" is not supported; send UTF-8'


def test_a_200_kb_punycode_body_without_a_key_costs_no_decoding(api, monkeypatch):
    calls = []  # the pure-Python punycode decoder: 7 s of CPU on this body
    real = encodings.punycode.punycode_decode
    monkeypatch.setattr(encodings.punycode, "punycode_decode", lambda *a: calls.append(a) or real(*a))
    body = b"comment_content=" + b"a" * (200 * 1024)
    response = api.post("/1.1/comment-check", data=body, content_type=f"{FORM}; charset=punycode")
    assert response.data == b"Unsupported request charset."
    assert calls == []
    assert b"abc-".decode("punycode") == "abc" and len(calls) == 1  # the counter does see a punycode decode


def test_latin1_and_windows1252_comments_are_stored_decoded(api, db):
    for label, codec, text in (("ISO-8859-1", "latin-1", "Grüße, café"), ("windows-1252", "cp1252", TEXT)):
        fields = {name: value for name, value in CASE8.items() if name != "comment_author"}
        body = urlencode(fields).encode() + b"&comment_author=" + encoded(text, codec)
        response = api.post("/1.1/comment-check", data=body, content_type=f"{FORM}; charset={label}")
        assert response.data == b"false"
        check = db.scalar(select(Check).where(Check.guid == response.headers["X-akismet-guid"]))
        assert check.comment_author == text


# -- the JSON API --------------------------------------------------------------------------------
def test_json_api_refuses_other_codecs_with_a_json_error(api):
    response = api.post(
        "/api/v1/check", data=b'{"api_key": "%s"}' % K.encode(), content_type="application/json; charset=punycode"
    )
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_charset"


def test_json_api_decodes_an_allowed_charset(api, db):
    body = json.dumps({"api_key": K, "blog": B, "user_ip": "203.0.113.5", "comment_author": TEXT}, ensure_ascii=False)
    response = api.post(
        "/api/v1/check", data=body.encode("cp1252"), content_type="application/json; charset=windows-1252"
    )
    assert response.status_code == 200
    assert db.scalar(select(Check.comment_author).where(Check.guid == response.get_json()["guid"])) == TEXT

"""Parsing Akismet requests (spec §1.2-§1.4) without the database or a model."""

from __future__ import annotations

import base64

import pytest
from flask import Flask, request

from spamguard.api import form, keys

app = Flask("form-tests")
app.config["MAX_CONTENT_LENGTH"] = 256 * 1024


def parse(
    body: bytes | str = b"",
    content_type: str = "application/x-www-form-urlencoded",
    query: str = "",
    max_chars: int = 65536,
    method: str = "POST",
    headers: dict | None = None,
):
    data = body.encode() if isinstance(body, str) else body
    with app.test_request_context(
        f"/1.1/comment-check?{query}", method=method, data=data, content_type=content_type, headers=headers or {}
    ):
        fields = form.read_fields(request, max_chars)
        return fields, form.comment_from_fields(fields, max_chars)


def test_bare_keys_plus_and_percent():
    fields, comment = parse("referrer&user_role&comment_content=a+b%20c&comment_author=J%C3%BCrgen")
    assert fields["referrer"] == "" and fields["user_role"] == ""
    assert comment.comment_content == "a b c" and comment.comment_author == "Jürgen"


@pytest.mark.parametrize(
    "body,expected",
    [
        ("comment_context%5B0%5D=Tag+one&comment_context%5B1%5D=News", ["Tag one", "News"]),
        ("comment_context[]=a&comment_context[]=b", ["a", "b"]),
        ("comment_context=plain", ["plain"]),
        ("comment_context=", []),
    ],
)
def test_comment_context_shapes(body, expected):
    assert parse(body)[1].comment_context == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("On", True),
        ("", False),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        ("maybe", False),
        (None, False),
    ],
)
def test_is_test_spellings(value, expected):
    body = "blog=x" if value is None else f"is_test={value}"
    assert parse(body)[1].is_test is expected


def test_present_but_bare_is_test_is_false():
    assert parse("is_test")[1].is_test is False


def test_honeypot_value_from_named_field():
    assert parse("honeypot_field_name=hp&hp=buy+now")[1].honeypot_value == "buy now"
    assert parse("honeypot_field_name=hp&hp=")[1].honeypot_value == ""
    assert parse("honeypot_field_name=hp")[1].honeypot_value is None
    assert "hp" not in parse("honeypot_field_name=hp&hp=x")[1].extra


def test_charset_from_content_type_then_blog_charset_then_utf8():
    latin = b"comment_content=caf%E9"
    assert parse(latin, "application/x-www-form-urlencoded; charset=ISO-8859-1")[1].comment_content == "café"
    assert parse(latin + b"&blog_charset=ISO-8859-1")[1].comment_content == "café"
    assert parse(latin)[1].comment_content == "caf\ufffd"  # UTF-8 with replacement
    with pytest.raises(form.UnsupportedCharset):  # a codec, but not a charset (tests/integration/api/test_charset.py)
        parse(latin, "application/x-www-form-urlencoded; charset=rot13")
    assert parse(latin + b"&blog_charset=no-such-charset")[1].comment_content == "caf\ufffd"


def test_raw_invalid_utf8_and_nul_bytes():
    _fields, comment = parse(b"comment_content=ok\xff\xfe%00there&comment_author=a%00b")
    assert comment.comment_content == "ok\ufffd\ufffdthere" and comment.comment_author == "ab"


def test_query_merged_form_wins():
    fields, comment = parse("blog=https%3A%2F%2Fform.example", query="blog=https://query.example&user_ip=1.2.3.4")
    assert comment.blog == "https://form.example" and comment.user_ip == "1.2.3.4"
    assert fields.getlist("blog") == ["https://form.example"]


@pytest.mark.parametrize(
    "content_type,body",
    [
        ("application/json", '{"comment_content": "x", "blog": "y"}'),
        (
            "multipart/form-data; boundary=XX",
            '--XX\r\nContent-Disposition: form-data; name="blog"\r\n\r\ny\r\n--XX--\r\n',
        ),
    ],
)
def test_json_and_multipart_bodies_carry_no_fields(content_type, body):
    fields, comment = parse(body, content_type)
    assert not fields and comment.blog == "" and comment.comment_content == ""


def test_get_reads_the_query():
    fields, _ = parse(b"", method="GET", query="api_key=abc&extended=1")
    assert fields["api_key"] == "abc" and form.parse_bool(fields["extended"])


def test_field_and_extra_caps():
    _fields, comment = parse("comment_content=" + "x" * 5000 + "&big=" + "y" * 9000, max_chars=1000)
    assert len(comment.comment_content) == 1000 and len(comment.extra["big"]) == 1000
    many = "&".join(f"f{i}=v" for i in range(3000))
    _fields, comment = parse(many)
    assert len(comment.extra) == form.MAX_EXTRA_FIELDS


def test_secrets_never_in_extra_and_dates_parsed():
    _fields, comment = parse(
        "api_key=k&key=k&comment_date_gmt=2024-05-20+10%3A01%3A02"
        "&comment_post_modified_gmt=2025-01-02T03:04:05%2B00:00&comment_post_ID=7&referer=r"
    )
    assert set(comment.extra) == {"comment_post_ID", "referer"}
    assert comment.comment_date_gmt.isoformat() == "2024-05-20T10:01:02+00:00"
    assert comment.comment_post_modified_gmt.year == 2025 and comment.referrer == "r"


def test_json_fields_conversion():
    fields = form.fields_from_json(
        {"is_test": True, "comment_context": ["a", "b"], "comment_parent": 3, "user_role": None}, 100
    )
    comment = form.comment_from_fields(fields, 100)
    assert comment.is_test and comment.comment_context == ["a", "b"] and comment.extra["comment_parent"] == "3"
    with pytest.raises(ValueError, match="blog"):
        form.fields_from_json({"blog": {"x": 1}}, 100)


@pytest.mark.parametrize(
    "host,key",
    [
        ("0123456789ab.rest.akismet.com", "0123456789ab"),
        ("0123456789AB.akismet.local:5000", "0123456789ab"),
        ("abc.REST.AKISMET.COM", "abc"),
        ("rest.akismet.com", ""),
        ("a.b.rest.akismet.com", ""),
        ("127.0.0.1:5000", ""),
        ("[::1]:5000", ""),
        ("key.evil.example", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_key_from_host(host, key):
    assert keys.key_from_host(host, ["akismet.local"]) == key


def test_key_resolution_order():
    basic = base64.b64encode(b"fromauth.:undefined").decode()
    headers = {"Host": "fromhost.rest.akismet.com", "Authorization": f"Basic {basic}"}
    with app.test_request_context(
        "/1.1/comment-check", method="POST", data={"api_key": "frombody", "key": "vk"}, headers=headers
    ):
        fields = form.read_fields(request, 100)
        assert keys.api_key_candidate(request, fields, []) == "frombody"
        assert keys.verify_key_candidate(fields) == "vk"
    with app.test_request_context("/1.1/comment-check", method="POST", data={"api_key": " "}, headers=headers):
        assert keys.api_key_candidate(request, form.read_fields(request, 100), []) == "fromhost"
    with app.test_request_context(
        "/1.1/comment-check",
        method="POST",
        data={},
        headers={"Host": "rest.akismet.com", "Authorization": f"Basic {basic}"},
    ):
        assert keys.api_key_candidate(request, form.read_fields(request, 100), []) == "fromauth"
    with app.test_request_context("/1.1/verify-key", method="POST", data={"api_key": "ak"}):
        assert keys.verify_key_candidate(form.read_fields(request, 100)) == "ak"


def test_fields_get_answers_like_werkzeugs_multidict():
    from werkzeug.datastructures import MultiDict

    pairs = [("a", "1"), ("a", "2"), ("n", "x"), ("e", "")]
    fields, reference = form.Fields(pairs), MultiDict(pairs)
    for name in ("a", "n", "e", "absent"):
        assert fields.get(name) == reference.get(name)
        assert fields.get(name, "d") == reference.get(name, "d")
        assert fields.get(name, -1, type=int) == reference.get(name, -1, type=int)
    assert fields.get("a") == "1" and fields.get("absent") is None and fields.get("n", type=int) is None
    assert isinstance(fields.copy(), form.Fields)  # the honeypot naming copies: still the fast `get`


@pytest.mark.parametrize(
    ("raw", "pairs"),
    [
        (b"a+b=c+d", [(b"a b", b"c d")]),
        (b"a%2Bb=%2B+%2b", [(b"a+b", b"+ +")]),  # an encoded plus stays a plus; a bare one is a space
        (b"plain=value&=&x", [(b"plain", b"value"), (b"", b""), (b"x", b"")]),
        (b"bad%zz=%%41%", [(b"bad%zz", b"%A%")]),  # malformed escapes are kept as they are
    ],
)
def test_pairs_are_unquoted_like_a_form(raw, pairs):
    assert list(zip(*form._split_pairs(raw), strict=True)) == pairs

"""The rewritten form parsing (fewer passes, MultiDicts filled as dicts of lists) answers exactly as the
per-pair code it replaced, kept below as the reference, on random and adversarial bodies."""

from __future__ import annotations

import random
import re
from urllib.parse import unquote_to_bytes

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from spamguard.api import form, wordpress
from spamguard.comment import DATE_FIELDS, TEXT_FIELDS, Comment, parse_datetime


# -- the reference: the code before the rewrite, verbatim but for names --------------------------
def ref_split_pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    for chunk in raw.replace(b"+", b" ").split(b"&", form.MAX_PAIRS)[: form.MAX_PAIRS]:
        if not chunk:
            continue
        name, _, value = chunk.partition(b"=")
        if b"%" in name:
            name = unquote_to_bytes(name)
        if b"%" in value:
            value = unquote_to_bytes(value)
        pairs.append((name, value))
    return pairs


def ref_decode(data: bytes, codec: str, max_chars: int) -> str:
    return data.decode(codec, errors="replace").replace("\x00", "")[:max_chars]


def ref_charset(pairs, header_charset):
    codec = form.codec_for(header_charset)
    if codec is None:
        for name, value in pairs:
            if name == b"blog_charset":
                codec = form.codec_for(value[: form.MAX_CHARSET_LABEL + 1].decode("ascii", errors="ignore"))
                break
    return codec or "utf-8"


def ref_read_fields(request: Request, max_chars: int) -> MultiDict[str, str]:
    body: list[tuple[bytes, bytes]] = []
    if request.method == "POST" and request.mimetype in form.FORM_TYPES:
        body = ref_split_pairs(form.read_body(request))
    elif request.method == "POST":
        form.read_body(request)
    query = ref_split_pairs(request.query_string)
    codec = ref_charset(body + query, request.mimetype_params.get("charset"))
    fields: MultiDict[str, str] = form.Fields()
    for name, value in body:
        fields.add(ref_decode(name, codec, form.MAX_NAME_CHARS), ref_decode(value, codec, max_chars))
    in_body = set(fields.keys())
    for name, value in query:
        text_name = ref_decode(name, codec, form.MAX_NAME_CHARS)
        if text_name not in in_body:
            fields.add(text_name, ref_decode(value, codec, max_chars))
    return fields


def ref_comment_from_fields(fields: MultiDict[str, str], max_chars: int) -> Comment:
    def get(name: str) -> str:
        return (fields.get(name) or "")[:max_chars]

    comment = Comment()
    for name in TEXT_FIELDS:
        setattr(comment, name, get(name))
    if not comment.referrer and fields.get("referer"):
        comment.referrer = get("referer")
    for name in DATE_FIELDS:
        setattr(comment, name, parse_datetime(get(name)))
    items = [value for name, value in fields.items(multi=True) if form.is_context_name(name)]
    comment.comment_context = [item[: form.MAX_CONTEXT_CHARS] for item in items if item.strip()][
        : form.MAX_CONTEXT_ITEMS
    ]
    comment.is_test = form.parse_bool(fields.get("is_test"))
    honeypot = comment.honeypot_field_name.strip()
    if honeypot and honeypot in fields:
        comment.honeypot_value = get(honeypot)
    known = set(TEXT_FIELDS) | set(DATE_FIELDS) | form.NOT_STORED | {honeypot}
    for name, value in fields.items(multi=True):
        if name in known or form.is_context_name(name) or name in comment.extra:
            continue
        if len(comment.extra) >= form.MAX_EXTRA_FIELDS:
            break
        comment.extra[name] = value[: form.MAX_EXTRA_VALUE_CHARS]
    return comment


def ref_check_fields(fields: MultiDict[str, str], user_agent: str | None) -> MultiDict[str, str]:
    if wordpress.is_plugin(user_agent) and not (fields.get("recheck_reason") or "").strip():
        fields = form.Fields([(name, wordpress.stripslashes(value)) for name, value in fields.items(multi=True)])
    if wordpress.PLUGIN_HONEYPOT in fields and not (fields.get("honeypot_field_name") or "").strip():
        fields = fields.copy()
        fields["honeypot_field_name"] = wordpress.PLUGIN_HONEYPOT
    return fields


# -- random and adversarial inputs ---------------------------------------------------------------
NAMES = [
    b"api_key",
    b"blog",
    b"user_ip",
    b"comment_content",
    b"comment_author",
    b"referrer",
    b"referer",
    b"blog_charset",
    b"is_test",
    b"honeypot_field_name",
    b"hp",
    b"POST_ak_hp_textarea",
    b"recheck_reason",
    b"comment_date_gmt",
    b"comment_context",
    b"comment_context[]",
    b"comment_context[7]",
    b"comment_context%5B0%5D",
    b"comment_context[x]",
    b"user_role",
    b"key",
    b"HTTP_X_A",
    b"",
    b"a%00b",
    b"n%3Dm",
    b"x+y",
]
PIECES = [
    b"a",
    b"Z",
    b" ",
    b"+",
    b"=",
    b"%",
    b"%2",
    b"%zz",
    b"%%41",
    b"%41",
    b"%2B",
    b"%2b",
    b"%26",
    b"%3D",
    b"%3d",
    b"%00",
    b"%0A",
    b"%C3%A9",
    b"%C3",
    b"%E2%82",
    b"%E2%82%AC",
    b"%F0%9F%98%80",
    b"%ED%A0%80",
    b"%FF",
    b"%81%40",
    b"%82",
    b"\xc3\xa9",
    b"\xe2\x82",
    b"\x81",
    b"\x00",
    b"\\",
    b"\\'",
    b"\\\\",
    b"\\0",
    b"http%3A%2F%2Fx.example%2F",
    b"UTF-8",
    b"iso-8859-1",
    b"shift_jis",
    b"gbk",
    b"koi8-r",
    b"utf-7",
    b"2024-05-01T10:00:00Z",
    b"hp",
    b"true",
    b"x" * 30,
]
HEADER_CHARSETS = [None, None, None, "utf-8", "UTF-8", "iso-8859-1", "shift_jis", "gbk", "euc-kr", "bogus", "utf-7"]


def random_value(rng: random.Random) -> bytes:
    return b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))


def random_body(rng: random.Random) -> bytes:
    chunks = []
    for _ in range(rng.randint(0, 14)):
        roll = rng.random()
        name = rng.choice(NAMES) if roll < 0.8 else random_value(rng)
        if roll < 0.08:
            chunks.append(b"")  # `&&`
        elif roll < 0.16:
            chunks.append(name)  # a bare key
        else:
            chunks.append(name + b"=" + random_value(rng))
    return b"&".join(chunks)


def request_for(body: bytes, query: bytes, charset: str | None, content_type: str | None = None) -> Request:
    ctype = content_type or "application/x-www-form-urlencoded" + (f"; charset={charset}" if charset else "")
    environ = EnvironBuilder(path="/1.1/comment-check", method="POST", data=body, content_type=ctype).get_environ()
    environ["QUERY_STRING"] = query.decode("latin-1")
    return Request(environ)


def outcome(read, body: bytes, query: bytes, charset: str | None, max_chars: int, content_type: str | None = None):
    try:
        fields = read(request_for(body, query, charset, content_type), max_chars)
    except form.UnsupportedCharset as exc:
        return ("refused", exc.label)
    assert type(fields) is form.Fields
    return fields


def same_comment(new: Comment, old: Comment) -> None:
    assert new == old
    assert list(new.extra.items()) == list(old.extra.items())


def cases(count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        body = random_body(rng)
        query = random_body(rng) if rng.random() < 0.3 else b""
        yield body, query, rng.choice(HEADER_CHARSETS), rng.choice([3, 10, 65536])


def check_case(body: bytes, query: bytes, charset: str | None, max_chars: int) -> None:
    new = outcome(form.read_fields, body, query, charset, max_chars)
    old = outcome(ref_read_fields, body, query, charset, max_chars)
    if isinstance(old, tuple):
        assert new == old
        return
    assert isinstance(new, MultiDict)
    assert list(new.lists()) == list(old.lists())
    same_comment(form.comment_from_fields(new, max_chars), ref_comment_from_fields(old, max_chars))
    for agent in (None, "WordPress/6.1.9 | Akismet/5.0.2"):
        checked, reference = wordpress.check_fields(new, agent), ref_check_fields(old, agent)
        assert type(checked) is type(reference)
        assert list(checked.lists()) == list(reference.lists())
        same_comment(form.comment_from_fields(checked, max_chars), ref_comment_from_fields(reference, max_chars))


@pytest.mark.parametrize("seed", range(4))
def test_random_bodies_parse_as_before(seed):
    for body, query, charset, max_chars in cases(1500, seed):
        check_case(body, query, charset, max_chars)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"&",
        b"=",
        b"&&=&",
        b"+",
        b"%",
        b"a=%26&b=%3D&c=%3d",  # escapes of the separators: parsed part by part
        b"a=%26%41&a=%42",
        b"blog_charset=utf-7&comment_content=x",
        b"blog_charset=&blog_charset=iso-8859-1&comment_content=%E9",
        b"comment_content=%E9&blog_charset=shift_jis",
        b"name%00=%00v%00",
        b"a=1&" * 2500,  # past MAX_PAIRS
        b"&" * 2100 + b"late=1",  # empty chunks count towards MAX_PAIRS
        b"comment_context=a&comment_context[]=b&comment_context[1]=c&comment_context=d",
        b"honeypot_field_name=hp&hp=filled&hp=second",
        b"honeypot_field_name=+&=empty-name",
        b"referer=r&referrer=",
        b"x=" + b"y" * 70000,
        b"".join(b"f%d=v&" % i for i in range(300)),  # past MAX_EXTRA_FIELDS
        b"comment_content=" + b"%81" * 50 + b"&blog_charset=shift_jis",
    ],
)
@pytest.mark.parametrize("charset", [None, "iso-8859-1", "gbk"])
def test_adversarial_bodies_parse_as_before(body, charset):
    for query in (b"", b"a=q&blog_charset=koi8-r&new=1&new=2&comment_context=q"):
        check_case(body, query, charset, 65536)


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x", "text/plain"])
def test_bodies_that_are_not_forms_give_only_the_query(content_type):
    for body, query in ((b"a=1", b"b=2&a=3"), (b"{}", b"")):
        new = outcome(form.read_fields, body, query, None, 100, content_type)
        old = outcome(ref_read_fields, body, query, None, 100, content_type)
        assert list(new.lists()) == list(old.lists())


def test_the_names_the_rewrite_relies_on():
    """`&` and `=` are not hex digits (no escape straddles a separator), and the context pattern is the one
    `comment_from_fields` tests names with."""
    assert not re.fullmatch(r"[0-9A-Fa-f]", "&") and not re.fullmatch(r"[0-9A-Fa-f]", "=")
    assert form.is_context_name("comment_context[3]") and not form.is_context_name("comment_context[x]")

"""Akismet request bodies → `Comment`.

The body is parsed here rather than through `request.form` because the
protocol needs things Werkzeug's form parser does not do: decoding by the
Content-Type charset or the `blog_charset` field (Werkzeug 3 always decodes
UTF-8), merging the query string under the form, and treating JSON or
multipart bodies as "no fields" (spec §1.3).  Everything is capped so a hostile
body cannot blow up memory or the stored row, and only charsets real clients send
are decoded: Python can "decode" with punycode (quadratic), utf-7, idna or
compression codecs, none of which a comment form uses.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from spamguard.comment import DATE_FIELDS, TEXT_FIELDS, Comment, parse_datetime

MAX_PAIRS = 2000  # pairs parsed from one body or query string; the rest are ignored
MAX_EXTRA_FIELDS = 200  # unknown fields kept in Comment.extra
MAX_EXTRA_VALUE_CHARS = 4096
MAX_NAME_CHARS = 200
MAX_CONTEXT_ITEMS = 50
MAX_CONTEXT_CHARS = 1024

TRUE_WORDS = {"1", "true", "yes", "on"}
# Never stored: keys are secrets, and the rest are routing data, not comment data.
NOT_STORED = {"api_key", "key", "is_test", "comment_context"}
CONTEXT_NAME = re.compile(r"^comment_context(\[\d*\])?$")
FORM_TYPES = {"", "application/x-www-form-urlencoded"}
# Charsets clients send (WordPress's blog_charset, the SDKs' Content-Type), by codec name: single-byte
# tables, UTF-8 and the legacy CJK encodings of old WordPress installs, all decoded by C code in
# linear time.  A label naming any other codec is refused; a label naming none falls back to UTF-8.
ALLOWED_CHARSETS = frozenset(
    codecs.lookup(label).name
    for label in (
        "utf-8",
        "us-ascii",
        "iso-8859-1",
        "windows-1252",
        "iso-8859-15",
        "iso-8859-2",
        "windows-1250",
        "windows-1251",
        "koi8-r",
        "shift_jis",
        "euc-jp",
        "gbk",
        "gb2312",
        "big5",
        "euc-kr",
    )
)
MAX_CHARSET_LABEL = 40  # longer than any real label: treated as no label


class Fields(MultiDict[str, str]):
    """A request's fields: a MultiDict whose `get` of an absent name is a dict look-up.

    Werkzeug's raises and catches a BadRequestKeyError (an HTTPException, ≈ 2 µs to build) for every
    absent name, and a comment-check asks for a dozen or more of those (optional Akismet fields).
    """

    def get(self, key: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:  # type: ignore[override]
        values = dict.get(self, key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (ValueError, TypeError):
            return default


class UnsupportedCharset(ValueError):
    """The request names a codec outside ALLOWED_CHARSETS; each API answers it in its own error form."""

    def __init__(self, label: str):
        super().__init__(label)
        self.label = label

    @property
    def message(self) -> str:
        return f'Charset "{self.label}" is not supported; send UTF-8'


def _split_pairs(raw: bytes) -> tuple[list[bytes], list[bytes]]:
    """`a=1&b&c=x+y` → percent-decoded names and values (parallel lists); a bare key (WordPress) is an empty value."""
    # `+` is a space wherever it stands (an encoded `&`, `=` or `+` is `%26`, `%3D`, `%2B`): replaced in one
    # pass over the body, before splitting.
    raw = raw.replace(b"+", b" ")
    # Neither `&` nor `=` is a hex digit, so no escape straddles a separator: unless an escape decodes *to* one
    # (`%26`, `%3D`), unquoting the whole body before splitting gives the same pairs, in one call instead of
    # one per part (most parts of a real body hold an escape: URLs, user agents).
    whole = b"%" in raw and b"%26" not in raw and b"%3D" not in raw and b"%3d" not in raw
    if whole:
        raw = unquote_to_bytes(raw)
    parts = [chunk.partition(b"=") for chunk in raw.split(b"&", MAX_PAIRS)[:MAX_PAIRS] if chunk]
    names = [part[0] for part in parts]
    values = [part[2] for part in parts]
    if not whole and b"%" in raw:  # only parts holding a `%` are unquoted
        names = [unquote_to_bytes(name) if b"%" in name else name for name in names]
        values = [unquote_to_bytes(value) if b"%" in value else value for value in values]
    return names, values


def codec_for(label: str | None) -> str | None:
    """The codec name for a charset label; None for no label or an unknown one.

    Raises UnsupportedCharset for a known codec outside ALLOWED_CHARSETS.
    """
    label = (label or "").strip().strip('"').strip()
    if not label or len(label) > MAX_CHARSET_LABEL:
        return None
    try:
        name = codecs.lookup(label).name  # normalises aliases: "latin-1", "ISO_8859-1" -> "iso8859-1"
    except (LookupError, ValueError):
        return None
    if name not in ALLOWED_CHARSETS:
        raise UnsupportedCharset(label)
    return name


def _decode(parts: list[bytes], codec: str, max_chars: int) -> list[str]:
    # Allowed codecs never raise with errors="replace" and cost one pass over at most the body cap.
    return [part.decode(codec, "replace").replace("\x00", "")[:max_chars] for part in parts]


def _charset(names: list[bytes], values: list[bytes], header_charset: str | None) -> str:
    """Content-Type charset, then the first `blog_charset` field, then UTF-8 (spec §1.3)."""
    codec = codec_for(header_charset)
    if codec is None and b"blog_charset" in names:
        value = values[names.index(b"blog_charset")]
        codec = codec_for(value[: MAX_CHARSET_LABEL + 1].decode("ascii", errors="ignore"))
    return codec or "utf-8"


def read_body(request: Request) -> bytes:
    """The raw body, refused with 413 past MAX_CONTENT_LENGTH and 400 when the framing is broken.

    Not `request.get_data()`: for a chunked body Werkzeug silently truncates at
    the limit instead of refusing it, and a bad chunk from gunicorn would
    surface as a 500.  (A chunked body of exactly the limit is refused too.)
    """
    limit, expected = request.max_content_length, request.content_length
    out = bytearray()
    try:
        stream = request.stream
        # Stop at Content-Length: one more read past a body of exactly the limit would raise 413.
        while (expected is None or len(out) < expected) and (chunk := stream.read(65536)):
            out += chunk
            if limit is not None and len(out) > limit:
                raise RequestEntityTooLarge()
    except HTTPException:
        raise
    except Exception as exc:  # gunicorn's InvalidChunkSize, NoMoreData, ...: the client's fault
        raise BadRequest(f"Malformed request body ({type(exc).__name__})") from exc
    return bytes(out)


def read_fields(request: Request, max_chars: int) -> MultiDict[str, str]:
    """All Akismet fields of a request: form body over query string, decoded and capped.

    Raises RequestEntityTooLarge (413) for a body over MAX_CONTENT_LENGTH, and
    UnsupportedCharset before decoding anything when the charset is refused.
    """
    names: list[bytes] = []
    values: list[bytes] = []
    if request.method == "POST" and request.mimetype in FORM_TYPES:
        names, values = _split_pairs(read_body(request))
    elif request.method == "POST":
        read_body(request)  # still enforce the size limit; JSON/multipart carry no fields
    query_names: list[bytes] = []
    query_values: list[bytes] = []
    if request.query_string:
        query_names, query_values = _split_pairs(request.query_string)
    codec = _charset(names + query_names, values + query_values, request.mimetype_params.get("charset"))
    text_names = _decode(names, codec, MAX_NAME_CHARS)
    text_values = _decode(values, codec, max_chars)
    # A MultiDict is a dict of value lists (in first-arrival order of the names): filled directly, in C
    # when no name repeats (the common case) rather than by one `add` call a pair.
    lists = dict(zip(text_names, map(list, zip(text_values)), strict=True))
    if len(lists) != len(text_names):
        lists = {}
        for name, value in zip(text_names, text_values, strict=True):
            if name in lists:
                lists[name].append(value)
            else:
                lists[name] = [value]
    if query_names:
        in_body = set(lists)
        for name, value in zip(
            _decode(query_names, codec, MAX_NAME_CHARS), _decode(query_values, codec, max_chars), strict=True
        ):
            if name not in in_body:  # the form wins
                lists.setdefault(name, []).append(value)
    fields: MultiDict[str, str] = Fields()
    dict.update(fields, lists)
    return fields


def parse_bool(value: Any) -> bool:
    """Akismet booleans (§1.4): 1/true/yes/on are true; anything else, presence included, is false."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in TRUE_WORDS


def is_context_name(name: str) -> bool:
    # The prefix test first: most fields are not context, and it costs a fraction of the match.
    return name.startswith("comment_context") and CONTEXT_NAME.match(name) is not None


# Never in Comment.extra (the declared honeypot field is not either).
NOT_EXTRA = frozenset((*TEXT_FIELDS, *DATE_FIELDS, *NOT_STORED))


def comment_from_fields(fields: MultiDict[str, str], max_chars: int) -> Comment:
    """Build the `Comment` for a check or a report from decoded fields."""
    # A MultiDict is a dict of value lists (grouped by name, in first-arrival order): read as such, without
    # its per-call Python methods.  The first value of a name wins.
    value_list = dict.get

    def get(name: str) -> str:
        values = value_list(fields, name)
        return values[0][:max_chars] if values else ""

    texts: dict[str, Any] = {name: found[0][:max_chars] for name in TEXT_FIELDS if (found := value_list(fields, name))}
    comment = Comment(**texts)  # an absent text field stays ""
    if not comment.referrer and fields.get("referer"):  # npm's alias
        comment.referrer = get("referer")
    for name in DATE_FIELDS:
        setattr(comment, name, parse_datetime(get(name)))
    comment.is_test = parse_bool(fields.get("is_test"))
    honeypot = comment.honeypot_field_name.strip()
    if honeypot and honeypot in fields:
        comment.honeypot_value = get(honeypot)
    # One pass over the names: the values of `comment_context`, `comment_context[]` and `comment_context[N]`
    # merged name by name (first-arrival order of the names), and the unknown fields kept (at most
    # MAX_EXTRA_FIELDS, the first value of each).
    context: list[str] = []
    extra = comment.extra
    for name, values in dict.items(fields):
        if is_context_name(name):
            context += values
        elif name not in NOT_EXTRA and name != honeypot and values and len(extra) < MAX_EXTRA_FIELDS:
            extra[name] = values[0][:MAX_EXTRA_VALUE_CHARS]
    comment.comment_context = [item[:MAX_CONTEXT_CHARS] for item in context if item.strip()][:MAX_CONTEXT_ITEMS]
    return comment


def fields_from_json(data: Mapping[str, Any], max_chars: int) -> MultiDict[str, str]:
    """The JSON API's object as the same field map the form parser yields.

    Raises ValueError naming the first field whose value is not a string,
    number, boolean, null or (for comment_context) a list of strings.
    """
    fields: MultiDict[str, str] = Fields()
    for name, value in list(data.items())[:MAX_PAIRS]:
        name = str(name).replace("\x00", "")[:MAX_NAME_CHARS]
        values = value if isinstance(value, list) and name == "comment_context" else [value]
        for item in values:
            if item is None:
                item = ""
            elif isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, (int, float)):
                item = str(item)
            elif not isinstance(item, str):
                raise ValueError(name)
            fields.add(name, item.replace("\x00", "")[:max_chars])
    return fields

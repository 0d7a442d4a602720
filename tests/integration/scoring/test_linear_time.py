"""Everything that reads comment text runs in linear time on hostile input (issue 8, item 1).

The work is counted, not timed (tests/work_count.py): the Python lines each consumer runs on a
hostile input of n and of 4n characters must grow ~4x, not ~16x, whatever the machine's load.
CPU seconds per pattern family and size (what one C regex call costs) are printed by bench/regex_worst_case.py.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from work_count import assert_linear

from model_training import data
from spamguard.checking import content_hash
from spamguard.comment import Comment, parse_datetime
from spamguard.reputation import store as reputation
from spamguard.scoring import features
from spamguard.scoring.features import cap_non_starters, nfkc, prepare_text
from spamguard.services import services

FIELD_CAP = 65536  # SPAMGUARD_MAX_FIELD_CHARS: the longest field a request can carry

# Pieces of the patterns the old code backtracked on, and unicode that stresses NFKC and \w.
FRAGMENTS = (
    "a.",
    "a@",
    "a-",
    "-a",
    "@@",
    "1a$",
    "1",
    "é",
    "a.a@",
    ".-",
    "x@a.-",
    "<a ",
    "<a href=",
    "<a href=x ",
    "<br",
    "<br ",
    "<",
    " ",
    "http://a.",
    "www.a ",
    "a.com/!",
    "&lt;a href=",
    "&amp;",
    "a,",
    "1,",
    "0,a,",
    "\u0301\u0316",
    "\u0f73",
    "ﬃ",
    "\ufdfa",
    "\u200b",
    "\x92",
    "𝐚.",
    "İ",
)


def every_field(text: str) -> Comment:
    return Comment(
        comment_content=text,
        comment_author=text,
        comment_author_email=text,
        comment_author_url=text,
        user_agent=text,
        referrer=text,
        permalink=text,
        blog=text,
    )


# Every consumer of request text outside the HTTP layer, called as the service and the trainer call it.
CONSUMERS = {
    "normalise_text": features.normalise_text,
    "prepare_text": features.prepare_text,
    "comment_text": lambda s: features.comment_text(every_field(s)),
    "meta_dict": lambda s: features.meta_dict(every_field(s)),
    "reputation.signals": lambda s: reputation.signals(every_field(s)),
    "content_hash": lambda s: content_hash(every_field(s)),
    "parse_datetime": parse_datetime,
    "data.shape_key": data.shape_key,
    # The loader gets one physical line of the CSV file: line breaks cannot occur inside it.
    "data.youtube_line": lambda s: _ignore_value_error(
        data._parse_youtube_line, "1," + s.replace("\r", " ").replace("\n", " ")
    ),
}


def _ignore_value_error(fn, text):
    try:
        return fn(text)
    except ValueError:
        return None


@st.composite
def hostile_text(draw) -> tuple[str, int]:
    """A hostile fragment repeated, and a length n to compare with 4n (4n within the field cap)."""
    pieces = draw(st.lists(st.sampled_from(FRAGMENTS) | st.text(min_size=1, max_size=6), min_size=1, max_size=3))
    fragment = "".join(pieces)
    prefix = draw(st.sampled_from(("", "<a href=", "<br", "x@", "http://", "1,")))
    size = draw(st.integers(min_value=256, max_value=FIELD_CAP // 16))
    return prefix + fragment * (FIELD_CAP // len(fragment) + 1), size


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=hostile_text())
def test_generated_hostile_text_takes_linear_work(case):
    text, size = case
    for name, consumer in CONSUMERS.items():
        assert_linear(consumer, lambda n: text[:n], size, f"{name} on {text[:24]!r}...")


def repeated(unit: str, head: str = ""):
    """n characters: `head`, then `unit` repeated."""
    return lambda n: (head + unit * n)[:n]


KNOWN_BAD = {  # the inputs issue 8 reported, and the worst case found for each pattern family
    "a.": repeated("a."),
    "-a": repeated("-a"),
    "@@": repeated("@"),
    "1a$": repeated("1a$"),
    "é": repeated("é"),
    "<br + spaces": repeated(" ", head="<br"),
    "<a href= + x": repeated("x", head="<a href="),
    "<a href=x ...": repeated("<a href=x "),
    "combining marks": lambda n: "a" + "\u0301" * (n // 2) + "\u0316" * (n // 2 - 1),
    "a,": repeated("a,"),
    "U+FDFA (NFKC x18)": repeated("\ufdfa"),
    "[url= + spaces": repeated(" ", head="[url="),
    "[url][/url]": repeated("[url] [/url"),
}


@pytest.mark.parametrize("name", list(KNOWN_BAD))
def test_known_bad_inputs_up_to_the_field_cap(name):
    for consumer_name, consumer in CONSUMERS.items():
        assert_linear(consumer, KNOWN_BAD[name], FIELD_CAP // 4, f"{consumer_name} on {name}")


def test_the_model_scores_known_bad_inputs_in_linear_work(app):
    with app.app_context():
        scorer = services(app).models.current()
        for name, make in KNOWN_BAD.items():
            assert_linear(lambda s: scorer.score(every_field(s)), make, FIELD_CAP // 4, f"scoring {name}")


def test_normalised_text_is_capped_after_nfkc_expansion():
    assert len(features.normalise_text("\ufdfa" * FIELD_CAP)) == features.MAX_TEXT_CHARS


# -- the rewritten patterns keep their meaning -----------------------------------------------------
@settings(max_examples=300, deadline=None, database=None)
@given(st.text())
def test_nfkc_equals_unicode_nfkc_unless_a_run_of_marks_is_cut(text):
    if cap_non_starters(text) == text:
        assert nfkc(text) == unicodedata.normalize("NFKC", text)


def test_runs_of_combining_marks_are_cut_to_thirty():
    assert nfkc("Z" + "\u0301" * 100 + "x") == unicodedata.normalize("NFKC", "Z" + "\u0301" * 30 + "x")
    assert nfkc("Z\u0301\u0316") == unicodedata.normalize("NFKC", "Z\u0301\u0316")  # short runs untouched


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("one<br   />two<BR>three", "one two three"),
        ('<a title="x" href="http://a.example/p" rel=nofollow>t</a>', "http://a.example/p t"),
        ("<a href=http://b.example>b</a> <a name=x>no link</a>", "http://b.example b no link"),
    ],
)
def test_markup_patterns(raw, expected):
    assert " ".join(features.normalise_text(raw).split()) == expected


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("mail .bob.smith+x@mail.example now", "mail . emailx now"),  # the dot before the address stays
        ("x@a.b-c", "emailx"),
        ("visit mysite.com.br or a.b.c.d.e.f.g.example.com", "visit urlx .br or urlx"),
        ("fr33 c4$h é5 2015 _4_", "free cash é5 2015 _4_"),  # no a-z letter: not leetspeak
        ("call 0906170146", "call 0000000000"),
    ],
)
def test_text_patterns(raw, expected):
    assert " ".join(prepare_text(raw).split()) == expected


def test_youtube_line_with_an_unbalanced_quote():
    line = 'z13abc,"Eminem fan,2015-01-01T10:00:00,"he said ""hi"", bye,1'
    assert data._parse_youtube_line(line) == ("z13abc", "Eminem fan", 'he said "hi", bye', 1)


def test_the_count_catches_quadratic_work():
    """The yardstick itself: a consumer that rescans the rest of the text per character fails it."""

    def quadratic(text: str) -> int:
        found = 0
        for i in range(len(text)):
            for ch in text[i:]:
                found += ch == "@"
        return found

    with pytest.raises(AssertionError, match="not linear"):
        assert_linear(quadratic, repeated("a@"), 64, "quadratic")
    assert_linear(lambda text: [ch == "@" for ch in text], repeated("a@"), 64, "linear")


def test_a_phase_switching_on_past_a_size_is_still_linear():
    """meta_dict on "http://" + ("x@a.-" + two combining marks) repeated, which hypothesis once drew: at 256
    characters none of it reaches the per-character symbol-spacing pass (`normalize._space_symbols`), at 1,024
    it does (437 → 6,409 lines, 15x, about 6 lines a character, and 4x again at 4,096): a step, not a curve,
    which the yardstick lets through."""
    fragment = "x@a.-\u0301\u0316"
    text = "http://" + fragment * (FIELD_CAP // len(fragment) + 1)
    assert_linear(lambda s: features.meta_dict(every_field(s)), lambda n: text[:n], 256, "step")

    def step(text: str) -> int:
        return sum(ch == "@" for ch in text) if len(text) > 512 else 0

    assert_linear(step, repeated("a@"), 256, "step")

"""The metadata helpers' faster code returns exactly what the code before it returned.

The previous implementations are copied here (the blocklist walk with one rule added since, marked)
and compared with the current ones on the
bundled corpora, hostile texts and generated text (phrase words with apostrophes, sequences of
blocklist words and their plurals, mixed-script words).
"""

from __future__ import annotations

import random
import re
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from model_training.data import load_corpora
from spamguard.scoring import features, normalize
from spamguard.scoring.features import analyse
from spamguard.scoring.normalize import (
    _PHRASE_WORD_RE,
    MAX_CHARS,
    MAX_PHRASE_WORDS,
    _phrase_followers,
    _script,
    blocklist_found,
    blocklist_phrases,
    phrase_words,
)

# --- the previous code --------------------------------------------------------------------------------

# The one rule added since (a plural "es" after ch/sh/s/x/z, as "replica watches"), written plainly.
ES_PLURALS = tuple(ending + "es" for ending in ("ch", "sh", "s", "x", "z"))


def old_phrase_words(text: str) -> list[str]:
    return _PHRASE_WORD_RE.findall((text or "")[:MAX_CHARS].casefold())


def old_blocklist_found(text: str, words: list[str] | None = None) -> set[str]:
    phrases = blocklist_phrases()
    if words is None:
        words = old_phrase_words(text)
    unique = set(words)
    found = unique & phrases
    for word in unique - found:
        if word.endswith("s") and word[:-1] in phrases:
            found.add(word[:-1])
        elif word.endswith(ES_PLURALS) and word[:-2] in phrases:
            found.add(word[:-2])
    followers = _phrase_followers()
    for i, prefix in enumerate(words):
        for word in words[i + 1 : i + MAX_PHRASE_WORDS]:
            options = followers.get(prefix)
            if options is None:
                break
            if word in options and (gram := f"{prefix} {word}") in phrases:
                found.add(gram)
            elif word[-1] == "s" and word[:-1] in options and (singular := f"{prefix} {word[:-1]}") in phrases:
                found.add(singular)
            elif (
                word.endswith(ES_PLURALS) and word[:-2] in options and (singular := f"{prefix} {word[:-2]}") in phrases
            ):
                found.add(singular)
            if word not in options:
                break
            prefix = f"{prefix} {word}"
    return found


def old_mixed(word: str) -> bool:
    scripts = {_script(c) for c in word}
    return "latin" in scripts and bool(scripts & {"cyrillic", "greek"})


# --- inputs --------------------------------------------------------------------------------------------

HOSTILE = [
    "",
    "'",
    "''",
    "don't won’t it's' 'quoted' a''b rock'n'roll o'",
    "Buy CHEAP viagra online, cheap cialis!!! buy cheaps viagras",
    "Ѕрам рrіzе fоr yоu, ᴄʜᴇᴄᴋ ᴍʏ ᴘʀᴏғɪʟᴇ, Ωmega αlpha",
    "x" * (MAX_CHARS + 10) + " buy cheap",
    "a_b a-b a.b 1st 2nd \x00\x1c word\tword\nword",
    "日本語 mixed 日本x xy日本",
]


def corpus_plains() -> list[str]:
    return [analyse(e.comment).plain for e in load_corpora()[::3]]


def phrase_sequences(n: int = 4000) -> list[str]:
    """Texts made of blocklist phrases, their words, plurals and neighbours: every branch of the walk."""
    phrases = sorted(blocklist_phrases())
    vocab = sorted({w for p in phrases for w in p.split()})
    rng = random.Random(7)
    out = []
    for _ in range(n):
        seq: list[str] = []
        for _ in range(rng.randint(0, 8)):
            r = rng.random()
            if r < 0.4:
                seq += rng.choice(phrases).split()
            elif r < 0.6:
                seq.append(rng.choice(vocab) + rng.choice(("s", "es")))
            elif r < 0.75:
                words = rng.choice(phrases).split()
                words[-1] += rng.choice(("s", "es"))
                seq += words
            else:
                seq.append(rng.choice(vocab))
        out.append(" ".join(seq))
    return out


def test_phrase_words_and_blocklist_equal_the_previous_code():
    texts = corpus_plains() + HOSTILE + phrase_sequences()
    for text in texts:
        words = phrase_words(text)
        assert words == old_phrase_words(text), text[:60]
        assert blocklist_found(text, words) == old_blocklist_found(text, words), text[:60]
        assert blocklist_found(text) == old_blocklist_found(text)


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet="ab's’ _-.\t\nÉé1", max_size=40) | st.text(max_size=30))
def test_phrase_words_equal_the_previous_code_on_generated_text(text):
    assert phrase_words(text) == old_phrase_words(text)


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet="aZéɐѕрαοᴄʜ日", min_size=1, max_size=12) | st.text(min_size=1, max_size=12))
def test_mixed_script_check_equals_the_previous_code(word):
    assert normalize._mixed(word) == old_mixed(word)


def test_mixed_script_count_equals_the_previous_code_on_the_corpora():
    for text in [analyse(e.comment).content for e in load_corpora()[::3]] + HOSTILE:
        for m in normalize._WORD_RE.finditer(text):
            assert normalize._mixed(m[0]) == old_mixed(m[0]), m[0]


def test_every_punctuation_character_is_underscore_or_a_symbol_match():
    """_char_counts looks up the category only of "_" and the [^\\w\\s] matches: no other character is P*."""
    missed = [
        hex(i)
        for i in range(sys.maxunicode + 1)
        if unicodedata.category(chr(i)).startswith("P") and chr(i) != "_" and not features._SYMBOL_RE.match(chr(i))
    ]
    assert missed == []
    assert not re.match(r"\w", "‿") and re.match(r"\w", "_")  # U+203F (Pc) is no \w; "_" is


DOT_TEXTS = ["", "dot", "DoT", "d o t", "example(dot)com", "ExampleDOTcom", "dotted", "ḋot", "DOŤ", "ﬀdot", "dOt"]


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet="dotDOT .()ḋİı\u0130", max_size=12) | st.text(max_size=20))
def test_dot_check_equals_the_pattern(text):
    assert normalize._has_dot(text) == (normalize._DOT_RE.search(text) is not None)


def test_dot_check_equals_the_pattern_on_the_corpora():
    for text in [analyse(e.comment).content for e in load_corpora()[::3]] + HOSTILE + DOT_TEXTS:
        assert normalize._has_dot(text) == (normalize._DOT_RE.search(text) is not None), text[:60]


def test_request_signals_are_empty_without_extra_fields_or_roles():
    """request_signals returns early for such comments: it finds nothing in them whatever else they hold."""
    from datetime import UTC, datetime

    from spamguard.comment import Comment
    from spamguard.scoring.signals import request_signals

    when = datetime(2024, 5, 1, tzinfo=UTC)
    for comment in [
        Comment(),
        Comment(comment_content="hi", user_agent="curl/8", referrer="x", comment_date_gmt=when),
        Comment(comment_date_gmt=when, comment_post_modified_gmt=when, honeypot_field_name="hp", honeypot_value="x"),
    ]:
        assert not comment.extra and not comment.user_role
        assert request_signals(comment) == {}


def old_deleet_skips(word: str) -> bool:
    return not any("a" <= c <= "z" for c in word)


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet="az09_@$éßſıK\u212a", max_size=12) | st.text(max_size=12))
def test_deleet_letter_check_equals_the_previous_code(word):
    assert features._ASCII_LOWER.isdisjoint(word) == old_deleet_skips(word)


GLUED_TLD_TEXTS = ["FreeFilmsHere.comX", "a.comXY b.netQ", ".ruAB.", "x.COMX", "site.orgAbc", "e.g. Net"]


def test_glued_tld_function_equals_the_template():
    for text in [analyse(e.comment).content for e in load_corpora()[::3]] + HOSTILE + GLUED_TLD_TEXTS:
        got = normalize._GLUED_TLD_RE.sub(normalize._space_glued_tld, text)
        assert got == normalize._GLUED_TLD_RE.sub(r"\1 \2", text), text[:60]


REPEAT_TEXTS = [
    "aaa",
    "aa",
    "aaaa bbbbbbb cc ddd",
    "\n\n\n",
    "a\na\na",
    "ab" * 50,
    "a" * 1000 + "b",
    "ééé!!!",
    "x  y   z",
]


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet="ab \n!é", max_size=30) | st.text(max_size=20))
def test_repeat_pattern_finds_what_the_counted_repeat_found(text):
    assert [m.span() for m in features._REPEAT_RE.finditer(text)] == [m.span() for m in re.finditer(r"(.)\1{2,}", text)]


def test_repeat_pattern_equals_the_counted_repeat_on_the_corpora():
    for text in [analyse(e.comment).plain for e in load_corpora()[::3]] + HOSTILE + REPEAT_TEXTS:
        assert [m.span() for m in features._REPEAT_RE.finditer(text)] == [
            m.span() for m in re.finditer(r"(.)\1{2,}", text)
        ], text[:60]

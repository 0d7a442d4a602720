"""The serving text blocks (n-grams as exact integer keys, looked up in one sorted array) give sklearn's
TfidfVectorizer numbers for any text, including ones built to look like other n-grams."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from spamguard.comment import Comment
from spamguard.scoring.model import (
    WHITESPACE_FREE_TOKEN_PATTERNS,
    Scorer,
    _named,
    _TextBlock,
    _TextBlocks,
    pack_terms,
    unpack_text,
)

CORPUS = [
    "free money free money click here",
    "ab ba aab abb bab a b aa bb",
    "banana bananas ananas nanana anana",
    "ß straße STRASSE ǅemal ǆ",
    "日本語 の コメント 日本",
    "😀 😀😀 🔥x x🔥 a😀b",
    "I <3 this & that!!! ... ?! ,",
    "a\x00b \x7f c",
    "x" * 40,
    "a b c d e f g h i j",
    "one two three one two three two three",
]
# Texts made of the corpus's pieces in other orders, lengths and positions (most n-grams hit), and others.
ALPHABET = sorted(set("".join(CORPUS))) + ["\U0001f600", "\ud800", "Z", "\u0301", "\t", "\n", "\u2028", "\xa0"]
PROBES = [
    "",
    " ",
    "\n\t ",
    "a",
    "aa aa aa",
    "ab ab ab ab ba ba ab",
    "free free free money money free",
    "money free click",
    "banana" * 50,
    "x" * 5000,
    "ba ab" * 300,
    "\ud800 lone surrogate \udfff",
    "日本日本 本日",
    "😀😀😀 🔥🔥 😀",
    "ǅ ǆ Ǆ",
    "three two one",
    " ".join(f"w{i}" for i in range(500)),
    *CORPUS,
]
SETTINGS = [
    {"analyzer": "char_wb", "ngram_range": (2, 5)},
    {"analyzer": "char_wb", "ngram_range": (1, 1)},
    {"analyzer": "char_wb", "ngram_range": (4, 6)},  # padded words shorter than 4 count once, whole
    {"analyzer": "char_wb", "ngram_range": (3, 3)},
    {"analyzer": "word", "ngram_range": (1, 2), "token_pattern": WHITESPACE_FREE_TOKEN_PATTERNS[1]},
    {"analyzer": "word", "ngram_range": (1, 3), "token_pattern": WHITESPACE_FREE_TOKEN_PATTERNS[0]},
    {"analyzer": "word", "ngram_range": (2, 3), "token_pattern": WHITESPACE_FREE_TOKEN_PATTERNS[1]},
]


def block_of(vectorizer: TfidfVectorizer, coef: np.ndarray, name: str = "b") -> _TextBlock:
    """The block a serving artifact would hold for this fitted vectorizer (as export_serving writes it)."""
    names = [""] * len(vectorizer.vocabulary_)
    for term, i in vectorizer.vocabulary_.items():
        names[i] = term
    terms, offsets = pack_terms(names)
    arrays = {f"{name}.terms": terms, f"{name}.offsets": offsets, f"{name}.idf": vectorizer.idf_, f"{name}.coef": coef}
    info = {
        "analyzer": vectorizer.analyzer,
        "ngram_range": list(vectorizer.ngram_range),
        "token_pattern": vectorizer.token_pattern,
    }
    return _TextBlock(name, info, arrays)


@pytest.fixture(scope="module", params=range(len(SETTINGS)), ids=lambda i: str(SETTINGS[i]))
def fitted(request) -> tuple[TfidfVectorizer, np.ndarray, _TextBlock]:
    vectorizer = TfidfVectorizer(sublinear_tf=True, **SETTINGS[request.param]).fit(CORPUS)
    coef = np.random.default_rng(request.param).normal(size=len(vectorizer.vocabulary_))
    return vectorizer, coef, block_of(vectorizer, coef)


def assert_same(fitted, text: str) -> None:
    vectorizer, coef, block = fitted
    expected = float((vectorizer.transform([text]) @ coef)[0])
    parts: list[tuple[str, str, float]] = []
    got = _TextBlocks([block]).decision(text.lower(), parts)
    assert abs(got - expected) <= 1e-12, (text[:40], got, expected)
    if not block.char:  # every contributing n-gram is named, with its share
        row = vectorizer.transform([text]).tocsr()
        names = vectorizer.get_feature_names_out()
        want = {names[i]: v * coef[i] for i, v in zip(row.indices, row.data, strict=True)}
        assert {name for _, name, _ in parts} == set(want)
        assert all(abs(c - want[name]) <= 1e-12 for _, name, c in parts)


@pytest.mark.parametrize("text", PROBES)
def test_block_equals_sklearn(fitted, text):
    assert_same(fitted, text)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join) | st.text(max_size=40))
def test_block_equals_sklearn_on_generated_text(fitted, text):
    assert_same(fitted, text)


def test_terms_round_trip_through_the_buffer():
    terms = ["", " a", "ab", "ß", "日本", "ab ", "x" * 300, "😀"]
    buffer, offsets = pack_terms(terms)
    text = unpack_text(buffer, offsets)
    assert [text[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)] == terms


def _arrays(terms: list[str]) -> dict[str, np.ndarray]:
    buffer, offsets = pack_terms(terms)
    ones = np.ones(len(terms))
    return {"b.terms": buffer, "b.offsets": offsets, "b.idf": ones, "b.coef": ones}


CHAR = {"analyzer": "char_wb", "ngram_range": [2, 3]}
WORD = {"analyzer": "word", "ngram_range": [1, 2], "token_pattern": WHITESPACE_FREE_TOKEN_PATTERNS[1]}


@pytest.mark.parametrize(
    "info,terms,why",
    [
        (CHAR, ["ab", "ab"], "twice"),
        (WORD, ["free", "free"], "twice"),
        (CHAR, ["a  ", "ab"], "two spaces"),  # cannot come from char_wb; would match across words
        (CHAR, ["abcd"], "outside the n-gram range"),
        (WORD, ["a b c"], "outside the n-gram range"),
        (WORD, ["a  b"], "empty token"),
        ({**WORD, "token_pattern": r"\S+ \S+"}, ["a"], "token_pattern"),  # tokens with spaces: not mirrored
        ({**CHAR, "analyzer": "char"}, ["ab"], "analyzer"),
        ({**CHAR, "ngram_range": [2, 8]}, [chr(0x4E00 + i) for i in range(400)], "too many"),  # keys overflow int64
    ],
)
def test_tables_it_cannot_build_exactly_are_refused(info, terms, why):
    with pytest.raises(ValueError, match=why):
        _TextBlocks([_TextBlock("b", info, _arrays(terms))])


def test_corrupt_offsets_are_refused():
    buffer, offsets = pack_terms(["ab", "c"])
    for bad in (offsets + 1, offsets[::-1].copy(), np.array([0, 5], dtype=np.int64)):
        with pytest.raises(ValueError):
            _TextBlock("b", CHAR, {**_arrays(["ab", "c"]), "b.terms": buffer, "b.offsets": bad})


def test_blocks_looked_up_together_equal_the_sum_of_their_vectorizers():
    """Word and char_wb keys share one table (each block in a key range of its own): no cross-talk."""
    vectorizers = [TfidfVectorizer(sublinear_tf=True, **SETTINGS[i]).fit(CORPUS) for i in (4, 0, 2)]
    rng = np.random.default_rng(9)
    coefs = [rng.normal(size=len(v.vocabulary_)) for v in vectorizers]
    blocks = _TextBlocks([block_of(v, c) for v, c in zip(vectorizers, coefs, strict=True)])
    for text in PROBES:
        expected = sum(float((v.transform([text]) @ c)[0]) for v, c in zip(vectorizers, coefs, strict=True))
        assert abs(blocks.decision(text.lower()) - expected) <= 1e-12, text[:40]


@pytest.mark.parametrize("explainable", [1, 2])
def test_reasons_from_unnamed_hits_equal_the_reasons_of_every_named_part(explainable):
    """Scorer._fast_reasons names only the hits it reaches; it must rank exactly as _reasons does over
    all named parts (text hits in table order, then metadata; ties keep that order)."""
    vectorizers = [TfidfVectorizer(sublinear_tf=True, **SETTINGS[i]).fit(CORPUS) for i in (4, 5)][:explainable]
    rng = np.random.default_rng(3)
    # Whole-number coefficients: many exactly tied contributions, so the tie order is tested too.
    coefs = [rng.integers(-2, 3, size=len(v.vocabulary_)).astype(float) for v in vectorizers]
    blocks = _TextBlocks(
        [block_of(v, c, name) for v, c, name in zip(vectorizers, coefs, ["word", "other"], strict=False)]
    )
    scorer = Scorer(SimpleNamespace(shape_stats={"length": (0.5, 2.0)}), "v", {})
    comment = Comment(comment_content="unused")
    metas = [[], [("length", 1.7), ("has_email", -0.2), ("ua_bot", 0.05)], [("length", 0.2), ("ua_bot", 0.5)]]
    compared = 0
    for text in PROBES + ["free money click here the", "one two three two one the free"]:
        _, explained = blocks.weigh(text.lower())
        parts = _named(explained)
        for meta in metas:
            for spammy in (True, False):
                for top in (1, 3, 8):
                    want = scorer._reasons(comment, parts + [("meta", k, c) for k, c in meta], spammy, top)
                    assert scorer._fast_reasons(comment, explained, meta, spammy, top) == want, (text[:30], meta)
                    compared += bool(want)
    assert compared > 100

"""The serving text blocks' faster code gives bit for bit what the code before it gave.

The previous implementations are copied here unchanged (n-gram keys with the padded words two
spaces apart, the original token patterns, the weighing with boolean masks and separate weight
columns) and compared with the current ones on the bundled corpora, hostile texts and generated
text: equal totals and equal contributions, not merely close ones.
"""

from __future__ import annotations

import math
import re
from itertools import chain, repeat

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from test_fast_path import HOSTILE_TEXTS, corpus_comments, hostile_comments

from spamguard.comment import Comment
from spamguard.scoring.features import analyse
from spamguard.scoring.model import (
    _ASTRAL,
    _NO_KEYS,
    FASTER_TOKEN_PATTERNS,
    WHITESPACE_FREE_TOKEN_PATTERNS,
    _ngram_keys,
    _TextBlock,
    _TextBlocks,
    load_scorer,
    pack_terms,
)
from spamguard.scoring.registry import Registry

# --- the previous code, verbatim but for `self` -> `block` / `blocks` -----------------------------


def old_char_keys(block: _TextBlock, text: str) -> np.ndarray:
    words = text.split()
    if not words:
        return _NO_KEYS
    padded = " " + "  ".join(words) + " "
    size = len(padded)
    high = block.ngram_range[1]
    digits = np.zeros(size + high - 1, dtype=np.int64)
    if padded.isascii():
        block._ascii[:128].take(np.frombuffer(padded.encode("ascii"), dtype=np.uint8), out=digits[:size])
    else:
        points = np.frombuffer(padded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if points.max() < _ASTRAL:
            block._bmp.take(points, out=digits[:size])
        else:
            i = block._alphabet.searchsorted(points)
            digits[:size] = np.where(block._alphabet[i] == points, i + 1, block.radix - 1)
    keys = _ngram_keys(digits, block._powers)
    low = block.ngram_range[0]
    if low <= 3:
        return keys.ravel()
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
    starts = np.cumsum(lengths) - lengths
    short = [keys[starts[lengths == m], m - 3] for m in range(3, low)]
    return np.concatenate([keys[:, low - 3 :].ravel(), *short])


ORIGINAL_PATTERN = {faster: original for original, faster in FASTER_TOKEN_PATTERNS.items()}


def old_word_keys(block: _TextBlock, text: str) -> np.ndarray:
    tokens = re.findall(ORIGINAL_PATTERN[block.tokenize.__self__.pattern], text)
    if not tokens:
        return _NO_KEYS
    size = len(tokens)
    units = chain(map(block._token_digits.get, tokens, repeat(block.radix - 1)), block._padding)
    digits = np.fromiter(units, np.int64, size + len(block._padding))
    return _ngram_keys(digits, block._powers).ravel()


def old_keys(block: _TextBlock, text: str) -> np.ndarray:
    keys = old_char_keys(block, text) if block.char else old_word_keys(block, text)
    if block.base:
        keys += block.base
    return keys


def old_weigh(blocks: _TextBlocks, text: str) -> tuple[float, list[tuple[str, list[int], list[float]]]]:
    """The previous weigh; rows relative to their block's first term, as it returned them."""
    k = np.concatenate([_NO_KEYS, *(old_keys(block, text) for block in blocks.blocks)])
    n = len(k)
    if not n:
        return 0.0, []
    k.sort()
    edge = np.empty(n + 1, dtype=bool)
    edge[0] = edge[n] = True
    np.not_equal(k[1:], k[:-1], out=edge[1:n])
    edges = edge.nonzero()[0]
    starts = edges[:-1]
    unique = k[starts]
    table = blocks._keys
    pos = table.searchsorted(unique)
    hit = table[pos] == unique
    pos = pos[hit]
    tf = np.log((edges[1:] - starts)[hit])
    tf += 1.0
    weights = blocks._weights[pos]
    weighted = tf * weights[:, 1]
    w = tf * weights[:, 0]
    w *= w
    cuts = pos.searchsorted(blocks._starts).tolist()
    total = 0.0
    explained = []
    for block, start, a, b in zip(blocks.blocks, blocks._starts.tolist(), cuts, cuts[1:], strict=False):
        if a == b:
            continue
        norm = math.sqrt(float(np.add.reduce(w[a:b])))
        share = weighted[a:b]
        total += float(np.add.reduce(share)) / norm
        if block.name_bounds is not None:
            explained.append((block.name, (pos[a:b] - start).tolist(), (share / norm).tolist()))
    return total, explained


# --- comparisons ------------------------------------------------------------------------------------


def new_weigh(blocks: _TextBlocks, text: str) -> tuple[float, list[tuple[str, list[int], list[float]]]]:
    total, explained = blocks.weigh(text)
    return total, [(b.name, (rows - b.start).tolist(), values.tolist()) for b, rows, values in explained]


def assert_same(blocks: _TextBlocks, text: str) -> None:
    for block in blocks.blocks:  # the same n-grams (the new layout looks up fewer that span two words)
        new, old = block.keys(text), old_keys(block, text)
        assert set(new.tolist()) & set(blocks._keys.tolist()) == set(old.tolist()) & set(blocks._keys.tolist())
    assert new_weigh(blocks, text) == old_weigh(blocks, text), text[:60]


def test_the_faster_token_patterns_find_the_same_tokens():
    texts = [*HOSTILE_TEXTS, "a b cc ddd _ __ a_b a-b 1 22 é éé ß 日本 x\u0301y \x1c\x1dab\x1fc", "ab" * 3000]
    for original, faster in FASTER_TOKEN_PATTERNS.items():
        for text in texts:
            assert re.findall(faster, text) == re.findall(original, text), (original, text[:40])
    assert set(FASTER_TOKEN_PATTERNS) == set(WHITESPACE_FREE_TOKEN_PATTERNS)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from(list("ab_1 \t\n.,'-!é日\u0301\x1c")) | st.characters(), max_size=50))
def test_the_faster_token_patterns_on_generated_text(text):
    for original, faster in FASTER_TOKEN_PATTERNS.items():
        assert re.findall(faster, text) == re.findall(original, text)


@pytest.fixture(scope="module")
def served(model_dir) -> _TextBlocks:
    return load_scorer(model_dir, Registry(model_dir).current_version()).model.text


@pytest.fixture(scope="module")
def texts() -> list[str]:
    comments = corpus_comments() + hostile_comments()
    comments += [Comment(comment_content=f"{c.comment_content} #{i}") for i, c in enumerate(comments[:300])]
    return [analyse(c).prepared.lower() for c in comments] + [t.lower() for t in HOSTILE_TEXTS]


def test_weigh_equals_the_previous_code_on_the_served_model(served, texts):
    for text in texts:
        assert_same(served, text)


SETTINGS = [  # tests/unit/scoring/test_vocabulary.py's, several blocks in one table as served
    [{"analyzer": "word", "ngram_range": (1, 2), "token_pattern": WHITESPACE_FREE_TOKEN_PATTERNS[1]}],
    [{"analyzer": "char_wb", "ngram_range": (2, 5)}],
    [{"analyzer": "char_wb", "ngram_range": (1, 1)}, {"analyzer": "char_wb", "ngram_range": (1, 3)}],
    [{"analyzer": "char_wb", "ngram_range": (4, 6)}, {"analyzer": "char_wb", "ngram_range": (3, 3)}],
    [
        {"analyzer": "word", "ngram_range": (2, 3), "token_pattern": WHITESPACE_FREE_TOKEN_PATTERNS[1]},
        {"analyzer": "word", "ngram_range": (1, 3), "token_pattern": WHITESPACE_FREE_TOKEN_PATTERNS[0]},
        {"analyzer": "char_wb", "ngram_range": (2, 4)},
    ],
]
CORPUS = [
    "free money free money click here",
    "ab ba aab abb bab a b aa bb",
    "banana bananas ananas nanana anana",
    "ß straße STRASSE ǅemal ǆ",
    "日本語 の コメント 日本",
    "😀 😀😀 🔥x x🔥 a😀b",
    "I <3 this & that!!! ... ?! ,",
    "a\x00b \x7f c",
    "a b c d e f g h i j",
    "one two three one two three two three",
]


def fitted_blocks(settings_list: list[dict]) -> _TextBlocks:
    blocks = []
    rng = np.random.default_rng(len(settings_list))
    for i, setting in enumerate(settings_list):
        vectorizer = TfidfVectorizer(sublinear_tf=True, **setting).fit(CORPUS)
        names = [""] * len(vectorizer.vocabulary_)
        for term, j in vectorizer.vocabulary_.items():
            names[j] = term
        terms, offsets = pack_terms(names)
        name = f"b{i}"
        # Whole-number coefficients: many exactly tied contributions, so their order is compared too.
        arrays = {
            f"{name}.terms": terms,
            f"{name}.offsets": offsets,
            f"{name}.idf": vectorizer.idf_,
            f"{name}.coef": rng.integers(-2, 3, size=len(names)).astype(float),
        }
        info = {k: list(v) if k == "ngram_range" else v for k, v in setting.items()}
        blocks.append(_TextBlock(name, info, arrays))
    return _TextBlocks(blocks)


@pytest.fixture(scope="module", params=range(len(SETTINGS)))
def small(request) -> _TextBlocks:
    return fitted_blocks(SETTINGS[request.param])


def test_weigh_equals_the_previous_code_on_small_vocabularies(small):
    for text in [*CORPUS, *HOSTILE_TEXTS, "a", " a ", "aa a aaa", "ab  ba\tab\nab"]:
        assert_same(small, text.lower())


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(sorted(set("".join(CORPUS))) + ["\U0001f600", "\t"]), max_size=60).map("".join))
def test_weigh_equals_the_previous_code_on_generated_text(small, text):
    assert_same(small, text.lower())

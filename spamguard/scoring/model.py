"""Serving side: a loaded model (`Scorer`) and the hot-reloading `ModelHolder`.

A registered version holds two artifacts (registry.py).  ``model.joblib`` is a :class:`SpamModel`:
the fitted sklearn pipeline (features → LogisticRegression) plus a Platt calibration
``logit = a * decision + b``; training and evaluation use it.  ``serving.npz`` holds only what
scoring reads, as numpy arrays (loaded with ``allow_pickle=False``): per TF-IDF block its terms
(one UTF-8 buffer + offsets, in column order), idf and coefficients; the metadata columns, their
coefficients and scales; the intercept.  Workers load the serving artifact into a
:class:`ServingModel` and never import sklearn or scipy; a version without one (registered before
it existed, or a pipeline the fast path refuses) is unpickled and scored as before.

On the request path we do not call ``pipeline.predict_proba`` (≈ 10 ms of sklearn
validation/overhead per call): :meth:`ServingModel.contributions` reads the comment's one
:func:`analyse` result, looks its n-grams up and accumulates TF-IDF weights × coefficients, which
also yields the per-feature contributions the explanations are ranked from.  The fast path
reproduces ``predict_proba`` to 1e-9 only for the vectoriser settings it implements: they are
checked before a serving artifact is written and when a pickle is loaded (:func:`mirror_problems`);
a pipeline that differs is scored through sklearn instead, never approximated.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from spamguard.comment import Comment
from spamguard.memory import release_freed_memory_later
from spamguard.scoring.explain import useful_feature
from spamguard.scoring.features import EMAIL_TOKEN, SELF_LINK_TOKEN, URL_TOKEN, analyse, meta_dict
from spamguard.scoring.registry import Registry

log = logging.getLogger(__name__)

# Models loaded in this process whose fast path was refused (each also logged once, at load).
FAST_PATH_REFUSALS = 0
SERVING_FORMAT = 1  # version of serving.npz's layout; a reader refuses others


class NoModelError(RuntimeError):
    """No servable model: none promoted yet, or none that verifies (`retry_after` seconds until the next try)."""

    def __init__(self, message: str, retry_after: float = 60.0):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Score:
    probability: float
    logit: float
    reasons: list[str] = field(default_factory=list)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


# What the fast path computes by itself, so a fitted TfidfVectorizer must be configured exactly
# like this for it to give sklearn's numbers (checked by `mirror_problems`).  Everything else
# it reads from the fitted objects: vocabulary_, idf_, ngram_range, the word tokenizer
# (token_pattern), the union's offsets, MetaFeatures' vocabulary_/scale_, coef_ and intercept_.
TFIDF_MIRRORED: dict[str, Any] = {
    "input": "content",
    "lowercase": True,
    "strip_accents": None,
    "preprocessor": None,
    "tokenizer": None,
    "stop_words": None,
    "binary": False,
    "norm": "l2",
    "use_idf": True,
    "smooth_idf": True,
    "sublinear_tf": True,
}
ANALYZERS = ("word", "char_wb")


def _tfidf_problems(name: str, step: Any) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

    from spamguard.scoring.transformers import CommentText

    if not (
        isinstance(step, Pipeline)
        and [n for n, _ in step.steps] == ["text", "tfidf"]
        and type(step.named_steps["text"]) is CommentText
        and type(step.named_steps["tfidf"]) is TfidfVectorizer
    ):
        return [f"{name}: not Pipeline([('text', CommentText()), ('tfidf', TfidfVectorizer(...))])"]
    vec = step.named_steps["tfidf"]
    problems = [
        f"{name}.{param}={getattr(vec, param)!r} (fast path needs {want!r})"
        for param, want in TFIDF_MIRRORED.items()
        if getattr(vec, param) != want
    ]
    # transform() weighs and normalises with the TfidfTransformer fit() made from these settings.
    inner = getattr(vec, "_tfidf", None)
    problems += [
        f"{name}.{param}={getattr(inner, param, None)!r} in the fitted transformer (fast path needs {want!r})"
        for param, want in TFIDF_MIRRORED.items()
        if param in ("norm", "use_idf", "smooth_idf", "sublinear_tf") and getattr(inner, param, None) != want
    ]
    if vec.analyzer not in ANALYZERS:
        problems.append(f"{name}.analyzer={vec.analyzer!r} (fast path handles {ANALYZERS})")
    if np.dtype(vec.dtype) != np.float64:
        problems.append(f"{name}.dtype={vec.dtype!r} (fast path computes in float64)")
    low, high = vec.ngram_range
    if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high):
        problems.append(f"{name}.ngram_range={vec.ngram_range!r}")
    if vec.analyzer == "word" and vec.token_pattern not in WHITESPACE_FREE_TOKEN_PATTERNS:
        problems.append(
            f"{name}.token_pattern={vec.token_pattern!r} (fast path handles {WHITESPACE_FREE_TOKEN_PATTERNS})"
        )
    if not hasattr(inner, "idf_") or len(vec.idf_) != len(vec.vocabulary_):
        problems.append(f"{name}: not fitted (idf_/vocabulary_)")
    return problems


def mirror_problems(pipeline: Any) -> list[str]:
    """Why the fast path would not reproduce ``pipeline`` exactly ([] when it does)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    from spamguard.scoring.transformers import MetaFeatures

    if not (isinstance(pipeline, Pipeline) and [n for n, _ in pipeline.steps] == ["features", "clf"]):
        return ["pipeline is not Pipeline([('features', ...), ('clf', ...)])"]
    union, clf = pipeline.named_steps["features"], pipeline.named_steps["clf"]
    problems: list[str] = []
    if type(union) is not FeatureUnion:
        return ["features is not a FeatureUnion"]
    weights = union.transformer_weights or {}
    if any(w != 1 for w in weights.values()):
        problems.append(f"feature union weights {weights!r} (fast path needs none)")
    for name, transformer in union.transformer_list:
        if name == "meta":
            if type(transformer) is not MetaFeatures:
                problems.append("meta: not MetaFeatures")
            elif not (
                hasattr(transformer, "scale_")
                and len(transformer.scale_) == len(transformer.vocabulary_)
                and np.all(transformer.scale_ > 0)
            ):
                problems.append("meta: not fitted or zero scale")
        else:
            problems += _tfidf_problems(name, transformer)
    if (
        type(clf) is not LogisticRegression
        or list(getattr(clf, "classes_", [])) != [0, 1]
        or np.asarray(clf.coef_).shape[0] != 1
    ):
        problems.append("clf is not a fitted binary LogisticRegression with classes [0, 1]")
    return problems


# -- the serving artifact: plain arrays -----------------------------------------------------------


def pack_terms(terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings → (their UTF-8 concatenation as uint8, code-point offsets: term i is text[off[i]:off[i+1]])."""
    offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in terms], out=offsets[1:])
    return np.frombuffer("".join(terms).encode("utf-8"), dtype=np.uint8).copy(), offsets


def unpack_text(buffer: np.ndarray, offsets: np.ndarray) -> str:
    text = buffer.tobytes().decode("utf-8")
    if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(text):
        raise ValueError("term offsets do not match the term buffer")
    if len(offsets) > 1 and np.any(np.diff(offsets) < 0):
        raise ValueError("term offsets are not ascending")
    return text


def export_serving(pipeline: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """What :class:`ServingModel` needs from a fitted pipeline: arrays and JSON-able fields.

    Also builds the tables of a refused pipeline (its sklearn path names features with them);
    whether they may be *served* is :func:`mirror_problems`' call.
    """
    from sklearn.pipeline import Pipeline

    from spamguard.scoring.transformers import MetaFeatures

    union = pipeline.named_steps["features"]
    clf = pipeline.named_steps["clf"]
    coef = np.asarray(clf.coef_, dtype=np.float64).ravel()
    arrays: dict[str, np.ndarray] = {"intercept": np.asarray(clf.intercept_, dtype=np.float64).ravel()[:1]}
    blocks: list[dict[str, Any]] = []
    offset = 0
    for name, transformer in union.transformer_list:
        if isinstance(transformer, MetaFeatures):
            width = len(transformer.vocabulary_)
            names = [""] * width
            for term, i in transformer.vocabulary_.items():
                names[i] = term
            arrays["meta.terms"], arrays["meta.offsets"] = pack_terms(names)
            arrays["meta.coef"] = coef[offset : offset + width]
            arrays["meta.scale"] = np.asarray(transformer.scale_, dtype=np.float64)
            means = getattr(transformer, "means_", None)
            arrays["meta.means"] = np.zeros(width) if means is None else np.asarray(means, dtype=np.float64)
            blocks.append({"name": name, "kind": "meta", "width": width})
        elif isinstance(transformer, Pipeline) and "tfidf" in transformer.named_steps:
            vec = transformer.named_steps["tfidf"]
            width = len(vec.vocabulary_)
            names = [""] * width
            for term, i in vec.vocabulary_.items():
                names[i] = term
            arrays[f"{name}.terms"], arrays[f"{name}.offsets"] = pack_terms(names)
            idf = vec.idf_ if getattr(vec, "use_idf", True) else np.ones(width)
            arrays[f"{name}.idf"] = np.asarray(idf, dtype=np.float64)
            arrays[f"{name}.coef"] = coef[offset : offset + width]
            pattern = vec.token_pattern if isinstance(vec.token_pattern, str) else None
            blocks.append(
                {
                    "name": name,
                    "kind": "tfidf",
                    "width": width,
                    "analyzer": str(vec.analyzer),
                    "ngram_range": [int(vec.ngram_range[0]), int(vec.ngram_range[1])],
                    "token_pattern": pattern,
                }
            )
        else:
            width = len(transformer.get_feature_names_out())
            blocks.append({"name": name, "kind": "opaque", "width": width})
        offset += width
    return arrays, {"format": SERVING_FORMAT, "blocks": blocks}


def _sequence_keys(digits: np.ndarray, offsets: np.ndarray, radix: int) -> np.ndarray:
    """Each sequence ``digits[offsets[i]:offsets[i + 1]]`` read as one base-``radix`` number (Horner)."""
    lengths = np.diff(offsets)
    keys = np.zeros(len(lengths), dtype=np.int64)
    starts = offsets[:-1]
    for t in range(int(lengths.max(initial=0))):
        longer = lengths > t
        keys[longer] = keys[longer] * radix + digits[starts[longer] + t]
    return keys


def _powers(radix: int, first: int, high: int) -> np.ndarray:
    """Column j: the place values of an (first + j)-gram's digits, for :func:`_ngram_keys`."""
    powers = np.zeros((high, high - first + 1), dtype=np.int64)
    for j, n in enumerate(range(first, high + 1)):
        powers[:n, j] = [radix ** (n - 1 - t) for t in range(n)]
    return powers


def _ngram_keys(digits: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """Row i: the keys of the n-grams starting at digit i, one column per n (one matrix product).

    ``digits`` (contiguous int64) ends with ``len(powers) - 1`` zeros: the key of an n-gram running
    past the end holds a zero digit, so it equals no term's key (every term digit is ≥ 1).
    """
    high = len(powers)
    windows = np.ndarray((len(digits) - high + 1, high), dtype=np.int64, buffer=digits, strides=(8, 8))
    return windows @ powers


# Token patterns whose tokens never contain whitespace: a word n-gram's text ("free money") splits back
# into its tokens at the spaces, which :class:`_TextBlock` relies on (others are refused).
WHITESPACE_FREE_TOKEN_PATTERNS = (r"(?u)\b\w\w+\b", r"(?u)\b\w\w+\b|[^\w\s]")
# The same tokens, found faster (findall ≈ 1.3x): findall tries each position from the end of the last
# match, so it never starts inside a run of word characters of two or more (their first position
# matches the whole run), and the \b on either side holds wherever \w{2,}+ can match.
FASTER_TOKEN_PATTERNS = {
    WHITESPACE_FREE_TOKEN_PATTERNS[0]: r"\w{2,}+",
    WHITESPACE_FREE_TOKEN_PATTERNS[1]: r"\w{2,}+|[^\w\s]",
}
_NO_KEYS = np.zeros(0, dtype=np.int64)
_ASTRAL = 0x10000  # code points below this are mapped to digits through a table, the rest by search
_KEY_LIMIT = 2**63 - 1  # every key is below it; it is the search's sentinel
_ONE = np.ones(())  # 1.0 as a 0-d array: numpy adds it in place faster than the Python float


class _TextBlock:
    """One fitted TfidfVectorizer: its n-grams as exact integer keys, its terms' idf and coefficients.

    A block's n-grams are sequences of units (characters for char_wb, tokens for word).  The units
    its terms use are numbered 1..U and every other unit is U + 1; an n-gram's key is its units read
    as a base-(U + 2) number.  No digit is 0, so a key determines the length and every unit: equal
    keys are equal n-grams, and a lookup needs neither a string hash nor a check against the term's
    text.  :meth:`keys` computes the keys of all of a comment's n-grams at once (numpy); the lookup,
    counting and weighting are :class:`_TextBlocks`'.
    """

    def __init__(self, name: str, info: dict[str, Any], arrays: dict[str, np.ndarray]):
        self.name = name
        self.text = text = unpack_text(arrays[f"{name}.terms"], arrays[f"{name}.offsets"])
        self._offsets = offsets = np.ascontiguousarray(arrays[f"{name}.offsets"], dtype=np.int64)
        size = len(offsets) - 1
        self.idf = np.asarray(arrays[f"{name}.idf"], dtype=np.float64)
        self.coef = np.asarray(arrays[f"{name}.coef"], dtype=np.float64)
        if not (len(self.idf) == len(self.coef) == size):
            raise ValueError(f"block {name}: {size} terms, {len(self.idf)} idf, {len(self.coef)} coefficients")
        if info["analyzer"] not in ANALYZERS:
            raise ValueError(f"block {name}: analyzer {info['analyzer']!r} is not one the fast path mirrors")
        self.char = info["analyzer"] == "char_wb"
        low, high = (int(n) for n in info["ngram_range"])
        if not 1 <= low <= high:
            raise ValueError(f"block {name}: ngram_range {low, high}")
        self.ngram_range: tuple[int, int] = (low, high)
        if self.char:
            digits, lengths, units = self._char_units(text, offsets)
        else:
            digits, lengths, units = self._word_units(text, offsets, info.get("token_pattern"))
        self.radix = units + 2
        self.span = self.radix**high  # every key of the block is below it
        if self.span >= _KEY_LIMIT:
            raise ValueError(f"block {name}: {units} distinct units, too many for exact {high}-gram keys")
        if size and (lengths.min() < 1 or lengths.max() > high):
            raise ValueError(f"block {name}: a term is outside the n-gram range {low, high}")
        bounds = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(lengths, out=bounds[1:])
        self.term_keys = _sequence_keys(digits, bounds, self.radix)  # in column order
        self.base = 0  # added to every key: the block's key range in the union (_TextBlocks)
        self._base = np.zeros((), dtype=np.int64)  # the same as a 0-d array: numpy adds it faster in place
        self.start = 0  # where the block's terms start in the union's table (_TextBlocks)
        self._powers = _powers(self.radix, 3 if self.char and low > 3 else low, high)
        self._padding = (0,) * (high - 1)
        # char_wb: the padded words side by side share the space between them (" one two "), which
        # leaves fewer n-grams spanning two words to look up ("e t", "ne tw": an inner space, which no
        # term holds).  A shared space would be counted once instead of twice as the 1-gram " ", so
        # with 1-grams each word keeps both its spaces ("  " between them, a pair no term holds).
        self._gap = 2 if low == 1 else 1
        self._joiner = " " * self._gap
        # Where each term's name is in the term text, in key order: for reasons, so word blocks only
        # (character n-grams never make one).  Offsets, not strings: 16 bytes a term, not ≈ 70.
        self.name_bounds: tuple[np.ndarray, np.ndarray] | None = None
        self._useful = bytearray()

    def _char_units(self, text: str, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Characters as digits: the term text's distinct code points, in order, are 1..U."""
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        # A char_wb n-gram lies inside one space-padded word; one containing two spaces cannot be a
        # term, and the lookup relies on that (n-grams spanning two words contain two).
        spaces = np.flatnonzero((points[:-1] == 32) & (points[1:] == 32)) + 1
        if len(np.setdiff1d(spaces, offsets)):
            raise ValueError(f"block {self.name}: a char_wb term holds two spaces")
        alphabet = np.unique(points)
        self._alphabet = np.append(alphabet, np.uint32(0xFFFFFFFF))  # sentinel above every code point
        self._bmp = np.full(_ASTRAL, len(alphabet) + 1, dtype=np.int64)
        below = alphabet[alphabet < _ASTRAL]
        self._bmp[below] = np.arange(1, len(below) + 1)
        # The digits of ASCII text, indexed by its bytes; byte 0x80 (no ASCII character) is the zero digit.
        self._ascii = np.concatenate([self._bmp[:128], np.zeros(128, dtype=np.int64)])
        self._ascii_tail = b"\x80" * (int(self.ngram_range[1]) - 1)
        return np.searchsorted(alphabet, points) + 1, np.diff(offsets), len(alphabet)

    def _word_units(self, text: str, offsets: np.ndarray, pattern: str | None) -> tuple[np.ndarray, np.ndarray, int]:
        """Tokens as digits: the terms' distinct tokens, in order of first appearance, are 1..U."""
        if pattern not in WHITESPACE_FREE_TOKEN_PATTERNS:
            raise ValueError(f"block {self.name}: token_pattern {pattern!r} is not one the fast path mirrors")
        # sklearn's build_tokenizer(): findall with the pattern (none of these has a group).
        self.tokenize: Callable[[str], list[str]] = re.compile(FASTER_TOKEN_PATTERNS[pattern]).findall
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        space = np.zeros(len(points) + 1, dtype=bool)
        space[:-1] = points == 32
        starts, ends = offsets[:-1], offsets[1:]
        # A term is its tokens joined by single spaces: none starts or ends with one or holds two in a row.
        if bool(np.any(space[starts] | space[ends - 1])) or bool(np.any(space[:-2] & space[1:-1])):
            raise ValueError(f"block {self.name}: a word term has an empty token")
        spaces_before = np.concatenate(([0], np.cumsum(space)))
        lengths = spaces_before[ends] - spaces_before[starts] + 1
        # Every term's tokens, one at a time (no list of them all: their small strings would stay in the
        # allocator's arenas next to the long-lived table, ≈ 15 MB of RSS for 50 k terms).
        spaced = np.insert(points, ends[:-1], 32).tobytes().decode("utf-32-le", "surrogatepass")
        self._token_digits: dict[str, int] = {}
        number = self._token_digits.setdefault
        digits = np.fromiter(
            (number(m[0], len(self._token_digits) + 1) for m in re.finditer("[^ ]+", spaced)),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        return digits, lengths, len(self._token_digits)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @property
    def weights(self) -> dict[str, tuple[float, float]]:
        """term → (idf, coefficient), for tools that inspect the model (gate_checks)."""
        return {self.name_of(i): (float(self.idf[i]), float(self.coef[i])) for i in range(len(self))}

    def name_of(self, i: int) -> str:
        return self.text[int(self._offsets[i]) : int(self._offsets[i + 1])]

    def key_name(self, row: int) -> str:
        """The name of the term at ``row`` of the union's table (explainable blocks only: :attr:`name_bounds`)."""
        if self.name_bounds is None:
            raise ValueError(f"block {self.name} names no terms by key order")
        row -= self.start
        return self.text[self.name_bounds[0].item(row) : self.name_bounds[1].item(row)]

    def useful(self, row: int) -> bool:
        """Whether the term at ``row`` of the union's table can make a reason (explain.useful_feature),
        remembered per term: most terms a comment ranks high are function words, and naming them costs more."""
        known = self._useful[row - self.start]
        if not known:
            known = self._useful[row - self.start] = 1 if useful_feature(self.name, self.key_name(row)) else 2
        return known == 1

    def keys(self, text: str) -> np.ndarray:
        """Keys (+ :attr:`base`) of every n-gram of lower-cased ``text``, as the vectoriser's analyzer makes them."""
        keys = self._char_keys(text) if self.char else self._word_keys(text)
        if self.base:
            keys += self._base
        return keys

    def _char_keys(self, text: str) -> np.ndarray:
        """sklearn's ``_char_wb_ngrams``: the n-grams of each word padded with one space each side."""
        words = text.split()
        if not words:
            return _NO_KEYS
        # The padded words side by side (see _gap): an n-gram spanning two of them holds a space
        # inside it, or two in a row, and no term does.
        padded = " " + self._joiner.join(words) + " "
        if padded.isascii():  # one byte a character: half the work of the general path
            # Its bytes and, after them, the zeros _ngram_keys needs (byte 0x80, never in ASCII, maps to 0).
            digits = self._ascii.take(np.frombuffer(padded.encode("ascii") + self._ascii_tail, dtype=np.uint8))
        else:
            size = len(padded)
            digits = np.zeros(size + self.ngram_range[1] - 1, dtype=np.int64)
            points = np.frombuffer(padded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            if points.max() < _ASTRAL:
                self._bmp.take(points, out=digits[:size])
            else:
                i = self._alphabet.searchsorted(points)
                digits[:size] = np.where(self._alphabet[i] == points, i + 1, self.radix - 1)
        keys = _ngram_keys(digits, self._powers)
        low = self.ngram_range[0]
        if low <= 3:
            return keys.ravel()
        # A padded word shorter than the shortest n-gram counts once, whole (sklearn); _powers starts at 3.
        steps = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + self._gap  # to the next word
        starts = np.cumsum(steps) - steps
        lengths = steps + (2 - self._gap)
        short = [keys[starts[lengths == m], m - 3] for m in range(3, low)]
        return np.concatenate([keys[:, low - 3 :].ravel(), *short])

    def _word_keys(self, text: str) -> np.ndarray:
        """sklearn's ``_word_ngrams`` over the vectoriser's tokens."""
        tokens = self.tokenize(text)
        if not tokens:
            return _NO_KEYS
        # The tokens' digits and the zeros _ngram_keys needs after them (fromiter reads a list faster
        # than a chained iterator).
        units = [*map(self._token_digits.get, tokens, repeat(self.radix - 1)), *self._padding]
        digits = np.fromiter(units, np.int64, len(units))
        return _ngram_keys(digits, self._powers).ravel()


class _TextBlocks:
    """The union's TF-IDF blocks as one table: every block's term keys, each block shifted into a key
    range of its own, in one sorted array with idf and idf × coefficient in the same order.

    :meth:`weigh` is TfidfVectorizer.transform (sublinear tf, idf, l2 norm) of every block followed
    by the dot product with the coefficients, for one document, without a sparse matrix: the
    comment's n-gram keys of all blocks are sorted once, counted (runs of equal keys), searched once,
    and the hits gathered; the Python work per comment does not grow with its number of n-grams.
    (A bucketed hash table instead of the binary search measured slower: more numpy calls; so did a
    coarse index searched first, then a scan of one bucket per key; a two-choice cuckoo table of
    int32 rows, 1D gathers only, measured 16 against 22 µs a comment: not worth its 2 MB per worker
    and 0.13 s more per model load.  The search and the weight gather
    are cache misses in the ≈ 1 MB key and 2 MB weight tables: ≈ 15 % of a comment's scoring.)
    """

    def __init__(self, blocks: list[_TextBlock]):
        self.blocks = blocks
        keys, idf, idf_coef = [], [], []
        base = start = 0
        for block in blocks:
            block.base, block._base, block.start = base, np.array(base, dtype=np.int64), start
            base += block.span
            start += len(block)
            if base >= _KEY_LIMIT:
                raise ValueError("the text blocks' keys do not fit int64 together")
            order = np.argsort(block.term_keys, kind="stable")
            ordered = block.term_keys[order]
            if len(ordered) > 1 and bool(np.any(ordered[1:] == ordered[:-1])):
                raise ValueError(f"block {block.name}: the vocabulary holds a term twice")
            keys.append(ordered + block.base)
            idf.append(block.idf[order])
            idf_coef.append((block.idf * block.coef)[order])
            if not block.char:
                block.name_bounds = (block._offsets[:-1][order], block._offsets[1:][order])
                block._useful = bytearray(len(block))  # per term in key order: 0 not known yet, 1 useful, 2 not
        # Sorted per block and the blocks' ranges ascending: sorted as a whole.  A sentinel after the
        # last key keeps every searchsorted answer a valid index.
        self._keys = np.concatenate([*keys, np.array([_KEY_LIMIT], dtype=np.int64)])
        # Row i: (idf, idf × coefficient) of the i-th key, side by side so that one gather reads both;
        # the sentinel's row stays 0.  Filled in place: no full-size temporaries left in the heap.
        self._weights = np.zeros((len(self._keys), 2))
        np.concatenate(idf, out=self._weights[:-1, 0])
        np.concatenate(idf_coef, out=self._weights[:-1, 1])
        # Where each block's terms start in the table (and where the last one ends).
        self._starts = np.cumsum([0] + [len(block) for block in blocks])

    def weigh(self, text: str) -> tuple[float, _Explained]:
        """The blocks' share of the decision value for lower-cased ``text``, and per explainable block
        with hits: (block, its hit terms' rows of the table, in key order, their contributions), unnamed
        (naming is left to the few that become reasons).

        tf-idf of term i is s(tf_i)·idf_i / ‖·‖ per block, with s(tf) = 1 + ln tf (sublinear_tf).
        For a short comment the time goes to numpy's per-call overhead more than to the work, so each
        step is one call where it can be: integer indexes rather than boolean masks (a mask is counted,
        then copied), in-place operations with 0-d operands rather than Python scalars (converted on
        every call), one (hits, 2) array for both weight columns.
        """
        k = np.concatenate([_NO_KEYS, *(block.keys(text) for block in self.blocks)])
        n = len(k)
        if not n:
            return 0.0, []
        k.sort()
        # Runs of equal keys: where they start and end (their lengths are the term frequencies).
        edge = np.empty(n + 1, dtype=bool)
        edge[0] = edge[n] = True
        np.not_equal(k[1:], k[:-1], out=edge[1:n])
        edges = edge.nonzero()[0]
        starts = edges[:-1]
        runs = edges[1:] - starts
        unique = k[starts]
        table = self._keys
        pos = table.searchsorted(unique)  # sorted queries: each search starts where the last ended
        hit = np.equal(table[pos], unique).nonzero()[0]
        pos = pos[hit]
        tf = np.log(runs[hit])
        tf += _ONE
        # Per hit (tf·idf, tf·idf × coefficient): the products sklearn's transform and the dot product make.
        weights = self._weights.take(pos, axis=0)  # a quarter of the time of indexing with [pos]
        weights *= tf[:, None]
        w = weights[:, 0]
        w *= w
        weighted = weights[:, 1]
        cuts = pos.searchsorted(self._starts).tolist()  # each block's hits, in table order
        total = 0.0
        explained = []
        for block, a, b in zip(self.blocks, cuts, cuts[1:], strict=False):
            if a == b:
                continue
            # np.add.reduce: ndarray.sum's pairwise sum without its Python-level wrapper.
            norm = math.sqrt(np.add.reduce(w[a:b]))
            share = weighted[a:b]
            total += float(np.add.reduce(share)) / norm
            if block.name_bounds is not None:
                explained.append((block, pos[a:b], share / norm))
        return total, explained

    def decision(self, text: str, parts: list[tuple[str, str, float]] | None = None) -> float:
        """:meth:`weigh` with the explainable contributions named and appended to ``parts``."""
        total, explained = self.weigh(text)
        if parts is not None:
            parts.extend(_named(explained))
        return total


# Per explainable text block: (block, hit terms' rows of the union's table in key order, their contributions).
_Explained = list[tuple[_TextBlock, np.ndarray, np.ndarray]]


def _named(explained: _Explained) -> list[tuple[str, str, float]]:
    """The explainable text blocks' hits as (block, term, contribution) parts."""
    parts: list[tuple[str, str, float]] = []
    for block, rows, values in explained:
        parts.extend(zip(repeat(block.name), map(block.key_name, rows.tolist()), values.tolist(), strict=False))
    return parts


class ServingModel:
    """What a worker scores with: the serving artifact's arrays as lookup tables (no sklearn)."""

    fast_path_refused: str | None = None

    def __init__(self, arrays: dict[str, np.ndarray], fields: dict[str, Any], calibration: tuple[float, float]):
        if fields.get("format") != SERVING_FORMAT:
            raise ValueError(f"serving artifact format {fields.get('format')!r} (this version reads {SERVING_FORMAT})")
        self.a, self.b = float(calibration[0]), float(calibration[1])
        self.params: dict[str, Any] = dict(fields.get("params") or {})
        self.intercept = float(np.asarray(arrays["intercept"], dtype=np.float64).ravel()[0])
        self.blocks: list[_TextBlock] = []
        self.meta_vocabulary: dict[str, int] = {}
        self.meta_coef: list[float] = []
        self.shape_stats: dict[str, tuple[float, float]] = {}
        for info in fields["blocks"]:
            if info["kind"] == "tfidf":
                self.blocks.append(_TextBlock(info["name"], info, arrays))
            elif info["kind"] == "meta":
                text, bounds = (
                    unpack_text(arrays["meta.terms"], arrays["meta.offsets"]),
                    arrays["meta.offsets"].tolist(),
                )
                names = [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
                coef = np.asarray(arrays["meta.coef"], dtype=np.float64) / np.asarray(arrays["meta.scale"])
                means = np.asarray(arrays["meta.means"], dtype=np.float64)
                if not (len(names) == len(coef) == len(means)):
                    raise ValueError("meta: names, coefficients and means differ in length")
                self.meta_vocabulary = {name: i for i, name in enumerate(names)}
                self.meta_coef = coef.tolist()
                # Shape features are explained relative to the training mean: (coefficient per raw unit, mean).
                self.shape_stats = {
                    name: (self.meta_coef[i], float(means[i]))
                    for name in SHAPE_FEATURES
                    if (i := self.meta_vocabulary.get(name)) is not None
                }
        self.text = _TextBlocks(self.blocks)

    def explained(self, comment: Comment) -> tuple[float, _Explained, list[tuple[str, float]]]:
        """Raw decision value, the explainable text blocks' hits (:meth:`_TextBlocks.weigh`) and the
        (name, contribution) of every metadata feature, in :meth:`contributions`' order.

        Character n-grams are summed but not listed: they never make a reason (explain.py).
        """
        # lowercase=True in every block (asserted before serving); casefolded ASCII is lower-case already.
        text = analyse(comment).prepared
        if not text.isascii():
            text = text.lower()
        share, explained = self.text.weigh(text)
        total = self.intercept + share
        meta: list[tuple[str, float]] = []
        if self.meta_coef:
            vocab, meta_coef = self.meta_vocabulary, self.meta_coef
            for key, value in meta_dict(comment).items():
                i = vocab.get(key)
                if i is not None and value:
                    c = value * meta_coef[i]
                    total += c
                    meta.append((key, c))
        return total, explained, meta

    def contributions(self, comment: Comment) -> tuple[float, list[tuple[str, str, float]]]:
        """Raw decision value and the (block, feature, contribution) of every explainable feature."""
        total, explained, meta = self.explained(comment)
        parts = _named(explained)
        parts.extend(("meta", key, c) for key, c in meta)
        return total, parts

    def calibrated_logit(self, decision: Any) -> Any:
        return self.a * decision + self.b


class SpamModel:
    """A trained model: the sklearn pipeline + Platt calibration (the pickled artifact, training side).

    Scores through a :class:`ServingModel` built from its own pipeline (the tables a serving artifact
    would hold) unless the fast path is refused, then through sklearn.
    """

    def __init__(self, pipeline: Any, calibration: tuple[float, float], params: dict[str, Any] | None = None):
        self.pipeline = pipeline
        self.a, self.b = float(calibration[0]), float(calibration[1])
        self.params = dict(params or {})
        self._build_fast_path()

    # Pickle only the sklearn objects; the fast path is rebuilt on load.
    def __getstate__(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "a": self.a, "b": self.b, "params": self.params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.pipeline, self.a, self.b, self.params = state["pipeline"], state["a"], state["b"], state["params"]
        self._build_fast_path()

    def _build_fast_path(self) -> None:
        """The serving tables, or, when they would not reproduce the pipeline, the reason they are refused."""
        global FAST_PATH_REFUSALS
        clf = self.pipeline.named_steps["clf"]
        self.coef = np.asarray(clf.coef_, dtype=np.float64).ravel()
        self.intercept = float(np.asarray(clf.intercept_).ravel()[0])
        problems = mirror_problems(self.pipeline)
        self._arrays, self._fields = export_serving(self.pipeline)
        width = sum(info["width"] for info in self._fields["blocks"])
        self.fast: ServingModel | None = None
        if width != len(self.coef):
            problems.append(f"feature width mismatch: {width} != {len(self.coef)}")
        else:
            try:
                self.fast = ServingModel(self._arrays, dict(self._fields, params=self.params), (self.a, self.b))
            except ValueError as exc:  # tables the fast path cannot build exactly (ServingModel says why)
                problems.append(str(exc))
        self.fast_path_refused: str | None = "; ".join(problems) or None
        if self.fast_path_refused:
            FAST_PATH_REFUSALS += 1
            log.warning("scoring fast path refused, scoring through sklearn (slower): %s", self.fast_path_refused)

    @property
    def blocks(self) -> list[_TextBlock]:
        return self.fast.blocks if self.fast else []

    @property
    def shape_stats(self) -> dict[str, tuple[float, float]]:
        return self.fast.shape_stats if self.fast else {}

    def serving_artifact(self) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """(arrays, fields) for registry.py's serving.npz; None when the fast path is refused."""
        if self.fast_path_refused:
            return None
        return self._arrays, dict(self._fields, params=self.params, calibration=[self.a, self.b])

    # -- scoring -------------------------------------------------------------------------------
    def contributions(self, comment: Comment) -> tuple[float, list[tuple[str, str, float]]]:
        if self.fast_path_refused or self.fast is None:
            return self._sklearn_contributions(comment)
        return self.fast.contributions(comment)

    def _sklearn_contributions(self, comment: Comment) -> tuple[float, list[tuple[str, str, float]]]:
        """The same through the sklearn transformers (when the fast path is refused)."""
        row = self.pipeline.named_steps["features"].transform([comment]).tocsr()
        values = row.data * self.coef[row.indices]
        blocks = {block.name: block for block in self.blocks}
        meta_names = {i: name for name, i in self.fast.meta_vocabulary.items()} if self.fast else {}
        ranges: list[tuple[str, str, int, int]] = []
        offset = 0
        for info in self._fields["blocks"]:
            width = info["width"]
            ranges.append((info["name"], info["kind"], offset, offset + width))
            offset += width
        parts: list[tuple[str, str, float]] = []
        for column, value in zip(row.indices.tolist(), values.tolist(), strict=True):
            for name, kind, start, end in ranges:
                if start <= column < end:
                    i = column - start
                    if kind == "meta":
                        feature = meta_names.get(i, str(i))
                    elif name in blocks:
                        feature = blocks[name].name_of(i)
                    else:
                        feature = str(i)
                    parts.append((name, feature, value))
                    break
        return self.intercept + float(values.sum()), parts

    def calibrated_logit(self, decision: np.ndarray | float) -> Any:
        return self.a * decision + self.b

    def decision_function(self, comments: list[Comment]) -> np.ndarray:
        """Batch path via sklearn (training/evaluation)."""
        return self.pipeline.decision_function(comments)

    def predict_proba(self, comments: list[Comment]) -> np.ndarray:
        """Calibrated spam probabilities, batch path via sklearn."""
        return 1.0 / (1.0 + np.exp(-self.calibrated_logit(self.decision_function(comments))))


# Whether a feature can be a reason depends only on its name: remembered (bounded) per name.
_useful = functools.lru_cache(maxsize=1 << 16)(useful_feature)

# Always-present shape features: explained relative to the training mean ("long comment").
SHAPE_FEATURES = {
    "length": ("long comment", "short comment"),
    "caps_ratio": ("many capital letters", "few capital letters"),
    "punct_ratio": ("much punctuation", "little punctuation"),
    "exclamations": ("exclamation marks", "few exclamation marks"),
    "max_repeat": ("repeated characters", "no repeated characters"),
    "post_age_days": ("comment on an old post", "comment on a recent post"),
}
META_NAMES = {
    "has_author_url": "author URL given",
    "has_email": "author email given",
    "author_urlish": "author name looks like a URL",
    "has_user_agent": "user agent given",
    "ua_bot": "user agent looks like a bot",
    "has_referrer": "referrer given",
    "honeypot_filled": "honeypot field filled",
    "post_age_known": "post date known",
    "self_links": "links to the page itself",
    "mixed_script_words": "letters from mixed alphabets",
    "spaced_letters": "spaced-out letters",
    "spelled_out_dot": "domain written with 'dot'",
    "link_shorteners": "link shortener",
    "link_referrer_spam": "link to a known spam domain",
    "link_referral": "referral or affiliate link",
    "email_disposable": "disposable email address",
    "blocklist_terms": "known comment-spam phrases",
    "money_amounts": "mentions sums of money",
    "investment_terms": "investment or trading talk",
    "contact_request": "asks to be contacted off-site",
    "self_promotion": "promotes the writer's own channel or site",
    "earning_claim": "promises earnings",
    "urgency": "pressure to act now",
    "link_blocklist": "link to a blocklisted domain",
    "ak_js_default": "page script never ran",
    "ak_js_not_posted": "form posted without the page script",
    "ak_js_fast": "submitted seconds after the page loaded",
    "nonce_failed": "form nonce failed",
    "nonce_passed": "form nonce passed",
    "logged_in": "logged-in user",
    "no_accept_language": "no browser language header",
    "bbcode_links": "forum link markup ([url=…]) in a blog comment",
}


def _links(comment: Comment) -> str:
    analysis = analyse(comment)
    n = len(analysis.urls) + analysis.self_links
    n = max(n, 1)
    return f"contains {n} link{'s' if n != 1 else ''}"


def _describe(block: str, feature: str, comment: Comment, above_mean: bool = True) -> str:
    if block == "meta":
        if feature == "n_links":
            return _links(comment)
        if "=" in feature:
            kind, value = feature.split("=", 1)
            return {"link_domain": "link domain", "email_domain": "email domain", "comment_type": "comment type"}.get(
                kind, kind
            ) + f" {value}"
        if feature in SHAPE_FEATURES:
            return SHAPE_FEATURES[feature][0 if above_mean else 1]
        return META_NAMES.get(feature, feature)
    if block == "word":
        if feature == URL_TOKEN:
            return _links(comment)
        if feature == EMAIL_TOKEN:
            return "contains an email address"
        if feature == SELF_LINK_TOKEN:
            return "links to the page itself"
        words = []
        for word in feature.split(" "):
            if word == URL_TOKEN:
                word = "<link>"
            elif word == SELF_LINK_TOKEN:
                word = "<link to this page>"
            elif word == EMAIL_TOKEN:
                word = "<email>"
            elif word.isdigit():
                word = f"<{len(word)}-digit number>"
            words.append(word)
        shown = " ".join(words)
        if len(feature) == 1 and not feature.isalnum():
            return f'punctuation "{shown}"'
        return f'{"phrase" if len(words) > 1 else "word"} "{shown}"'
    return f'text fragment "{feature.strip()}"'


class Scorer:
    """One loaded, verified model version."""

    def __init__(
        self,
        model: SpamModel | ServingModel,
        version: str,
        thresholds: dict[str, float],
        manifest: dict[str, Any] | None = None,
    ):
        self.model = model
        self.version = version
        self.thresholds = dict(thresholds)
        self.manifest = manifest or {}

    def score(self, comment: Comment, top: int = 3) -> Score:
        model = self.model
        fast = model if isinstance(model, ServingModel) else None if model.fast_path_refused else model.fast
        if fast is None:  # scored through sklearn
            decision, parts = model.contributions(comment)
            logit = model.calibrated_logit(decision)
            return Score(_sigmoid(logit), float(logit), self._reasons(comment, parts, logit >= 0, top))
        decision, explained, meta = fast.explained(comment)
        logit = fast.calibrated_logit(decision)
        return Score(_sigmoid(logit), float(logit), self._fast_reasons(comment, explained, meta, logit >= 0, top))

    def score_many(self, comments: list[Comment], top: int = 3) -> list[Score]:
        return [self.score(c, top) for c in comments]

    def _reasons(self, comment: Comment, parts: list[tuple[str, str, float]], spammy: bool, top: int) -> list[str]:
        """Top signals pushing towards the verdict's side (spam if logit ≥ 0, else ham)."""
        sign = 1.0 if spammy else -1.0
        shapes = self.model.shape_stats
        ranked: list[tuple[float, str, str, bool]] = []
        for block, feature, contribution in parts:
            above = True
            if block == "meta" and feature in shapes:
                # Relative to a typical training comment, so "length" is not a reason for everything.
                coef, mean = shapes[feature]
                value = contribution / coef if coef else 0.0
                above = value >= mean
                contribution = (value - mean) * coef
            if sign * contribution > 0:
                ranked.append((sign * contribution, block, feature, above))
        ranked.sort(key=lambda r: -r[0])
        reasons: list[str] = []
        for _c, block, feature, above in ranked:
            if not _useful(block, feature):  # function words and character fragments
                continue
            text = _describe(block, feature, comment, above)
            if text not in reasons:
                reasons.append(text)
            if len(reasons) >= top:
                break
        prefix = "spam signal: " if spammy else "ham signal: "
        return [prefix + r for r in reasons[:top]]

    def _fast_reasons(
        self, comment: Comment, explained: _Explained, meta: list[tuple[str, float]], spammy: bool, top: int
    ) -> list[str]:
        """:meth:`_reasons` of ``ServingModel.contributions``' parts, naming only the terms it reaches.

        The same candidates in the same order: the text hits (ranked by one stable numpy sort) merged
        with the ranked metadata candidates, a text hit first on a tie as in the parts list.
        """
        if len(explained) == 1:
            block, rows, contributions = explained[0]
            blocks = [block]
            which = None
        else:  # none, or several (not the default union): one ranking over all of them
            blocks = [block for block, _, _ in explained]
            which = [b for b, (_, rows, _) in enumerate(explained) for _ in range(len(rows))]
            rows = np.concatenate([_NO_KEYS, *(rows for _, rows, _ in explained)])
            contributions = np.concatenate([np.zeros(0), *(values for _, _, values in explained)])
        signed = contributions if spammy else -contributions
        order = (-signed).argsort(kind="stable").tolist()
        values, rows_list = signed.tolist(), rows.tolist()
        sign = 1.0 if spammy else -1.0
        shapes = self.model.shape_stats
        metas: list[tuple[float, str, bool]] = []
        for feature, contribution in meta:
            above = True
            if feature in shapes:
                coef, mean = shapes[feature]
                value = contribution / coef if coef else 0.0
                above = value >= mean
                contribution = (value - mean) * coef
            if sign * contribution > 0:
                metas.append((sign * contribution, feature, above))
        metas.sort(key=lambda r: -r[0])
        reasons: list[str] = []
        i = j = 0
        while True:
            text_value = values[order[i]] if i < len(order) else 0.0
            if j < len(metas) and metas[j][0] > text_value:
                _, feature, above = metas[j]
                block_name = "meta"
                j += 1
                if not _useful(block_name, feature):
                    continue
            elif text_value > 0:
                k = order[i]
                i += 1
                block = blocks[0 if which is None else which[k]]
                row = rows_list[k]
                if not block.useful(row):  # function words
                    continue
                block_name, feature, above = block.name, block.key_name(row), True
            else:  # no candidate left on either side
                break
            text = _describe(block_name, feature, comment, above)
            if text not in reasons:
                reasons.append(text)
            if len(reasons) >= top:
                break
        prefix = "spam signal: " if spammy else "ham signal: "
        return [prefix + r for r in reasons[:top]]


def load_scorer(registry_dir: str | Path, version: str) -> Scorer:
    """The version's serving artifact (verified, no pickle, no sklearn); its pickle only when it has none."""
    registry = Registry(registry_dir)
    serving = registry.load_serving(version)
    if serving is None:  # registered before serving artifacts existed, or a pipeline the fast path refuses
        model, manifest = registry.load(version)
        return Scorer(model, version, manifest["thresholds"], manifest)
    arrays, manifest = serving
    fields = manifest["serving"]
    return Scorer(ServingModel(arrays, fields, fields["calibration"]), version, manifest["thresholds"], manifest)


class ModelHolder:
    """The currently promoted model of a registry, hot-reloaded, failing safe.

    ``current()`` re-reads the pointer file (``current.json``) at most every
    ``reload_seconds``.  A new version is loaded and verified completely before
    the reference is swapped (one attribute assignment), so a request never sees
    a half-loaded model.

    A version that fails to load (checksum mismatch, unreadable pickle) is logged
    once and retried with exponential back-off (``retry_seconds`` doubling up to
    ``max_retry_seconds``), never once per request: hashing a large artifact per
    request would be a denial of service of its own.  Meanwhile the worker keeps the
    model it has, or, freshly started, loads the most recent earlier promoted version
    that verifies.  Only when no version is good does ``current()`` raise
    :class:`NoModelError`, carrying how long until the next try (for ``Retry-After``).
    """

    def __init__(
        self,
        model_dir: str | Path,
        reload_seconds: float = 2.0,
        loader: Callable[[Path, str], Scorer] | None = None,
        *,
        retry_seconds: float = 10.0,
        max_retry_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.model_dir = Path(model_dir)
        self.reload_seconds = float(reload_seconds)
        self.retry_seconds = float(retry_seconds)
        self.max_retry_seconds = float(max_retry_seconds)
        self._loader = loader or load_scorer
        self._clock = clock
        self._scorer: Scorer | None = None
        self._wanted: str | None = None  # the pointer's version at the last check
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._broken: dict[str, tuple[int, float]] = {}  # version -> (failures, monotonic time of next try)

    def _pointer_version(self) -> str | None:
        try:
            data = json.loads((self.model_dir / "current.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("unreadable model pointer %s", self.model_dir / "current.json")
            return None
        return data.get("version")

    def _due(self, now: float) -> bool:
        return now - self._checked_at >= self.reload_seconds

    def refresh(self, force: bool = False) -> None:
        now = self._clock()
        if not force and not self._due(now):
            return
        # One thread reloads; others keep serving the old model (or wait on the very first load).
        if not self._lock.acquire(blocking=self._scorer is None or force):
            return
        try:
            now = self._clock()
            if not force and not self._due(now):  # another thread did it while this one waited
                return
            self._checked_at = now
            self._wanted = version = self._pointer_version()
            if version is None or (self._scorer is not None and self._scorer.version == version):
                return
            if self._try_load(version, now):
                return
            if self._scorer is None:
                self._fall_back(version, now)
        finally:
            self._lock.release()

    def _try_load(self, version: str, now: float) -> bool:
        """Load and swap in `version` unless it is broken and its back-off has not passed."""
        failures, next_try = self._broken.get(version, (0, float("-inf")))
        if now < next_try:
            return False
        try:
            scorer = self._loader(self.model_dir, version)
        except Exception as exc:  # noqa: BLE001 - any load failure means "not servable"
            delay = min(self.retry_seconds * 2**failures, self.max_retry_seconds)
            self._broken[version] = (failures + 1, now + delay)
            if failures == 0:  # logged once per broken version; the retries are silent
                serving = self._scorer.version if self._scorer else None
                log.error(
                    "model %s fails verification (%s); serving %s, retrying with back-off",
                    version,
                    exc,
                    serving or "the last good version",
                )
            return False
        if failures:
            log.info("model %s verifies again after %d failed attempts", version, failures)
        self._broken.pop(version, None)
        replaced, self._scorer = self._scorer, scorer  # atomic swap
        log.info("model %s loaded", version)
        if replaced is not None:
            del replaced
            # Freed model pages stay mapped otherwise (a step in RSS per promotion); a few seconds
            # later in-flight checks no longer hold the old model.
            release_freed_memory_later()
        return True

    def _fall_back(self, broken: str, now: float) -> None:
        """A worker with no model yet: serve the most recent earlier promoted version that verifies."""
        try:
            candidates = Registry(self.model_dir).fallbacks(exclude=broken)
        except Exception:  # noqa: BLE001 - an unreadable history just means no fallback
            log.exception("model history unreadable in %s", self.model_dir)
            return
        for version in candidates:
            if self._try_load(version, now):
                log.warning("serving last good model %s instead of %s", version, broken)
                return

    def status(self) -> dict[str, Any]:
        """What this worker serves and whether it is the promoted version (for readiness checks)."""
        serving = self._scorer.version if self._scorer else None
        return {"serving": serving, "promoted": self._wanted, "degraded": serving != self._wanted}

    def current(self) -> Scorer:
        self.refresh()
        scorer = self._scorer
        if scorer is None:
            waits = [next_try - self._clock() for _, next_try in list(self._broken.values())]
            if waits:
                raise NoModelError(
                    f"no model in {self.model_dir} verifies; see the log", retry_after=max(1.0, min(waits))
                )
            raise NoModelError(f"no promoted model in {self.model_dir}; run `spamguard model train`")
        return scorer

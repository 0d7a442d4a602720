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
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
WORD_CACHE_SIZE = 20_000  # distinct words whose char n-grams are remembered (per block, per model)
WORD_CACHE_MAX_LEN = 64  # longer "words" are not remembered: bounded memory under hostile input


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
    if vec.analyzer == "word" and (not isinstance(vec.token_pattern, str) or re.compile(vec.token_pattern).groups > 1):
        problems.append(f"{name}.token_pattern={vec.token_pattern!r}")
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


class _Vocabulary:
    """term → column without a dict of strings: the terms in one string (column order), a sorted array
    of their hashes built at load, and a check of every hash hit against the term itself (exact).

    A dict of the ≈ 400k char n-grams costs ≈ 45 MB of small objects per worker, which the allocator
    keeps after a model promotion frees them; these arrays are a few large blocks it gives back.
    Python's str hash is salted per process, so the table is built in the process that uses it.
    """

    def __init__(self, buffer: np.ndarray, offsets: np.ndarray):
        self._text = text = unpack_text(buffer, offsets)
        self._offsets = offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        n = len(offsets) - 1
        hashes = np.empty(n, dtype=np.int64)
        step = 1 << 16  # in slices: the transient substrings stay few
        for start in range(0, n, step):
            bounds = offsets[start : min(n, start + step) + 1].tolist()
            hashes[start : start + len(bounds) - 1] = [
                hash(text[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)
            ]
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        # Per sorted hash: (hash, column, start, end) in one row, so a lookup gathers once; a sentinel
        # row after the last (column -1: none) keeps every searchsorted answer a valid index.
        rows = np.empty((n + 1, 4), dtype=np.int64)
        rows[:n, 0] = self._hashes
        rows[:n, 1] = order
        rows[:n, 2] = offsets[:-1][order]
        rows[:n, 3] = offsets[1:][order]
        rows[n] = (np.iinfo(np.int64).max, -1, 0, 0)
        self._rows = rows
        self._size = n

    def __len__(self) -> int:
        return self._size

    def term(self, column: int) -> str:
        return self._text[int(self._offsets[column]) : int(self._offsets[column + 1])]

    def items(self) -> Iterator[tuple[str, int]]:
        bounds = self._offsets.tolist()
        text = self._text
        for i in range(self._size):
            yield text[bounds[i] : bounds[i + 1]], i

    def columns(self, terms: list[str]) -> list[int]:
        """Column of each term, -1 where it is not in the vocabulary (three numpy calls per call)."""
        hashes = list(map(hash, terms))
        pos = self._hashes.searchsorted(np.array(hashes, dtype=np.int64))
        starts_with = self._text.startswith
        out = []
        for k, (h, column, a, b) in enumerate(self._rows[pos].tolist()):
            if h != hashes[k]:
                out.append(-1)
            elif b - a == len(terms[k]) and starts_with(terms[k], a):  # text[a:b] == term, not copied
                out.append(column)
            else:  # equal hashes, different strings: the term may be a later entry of the same hash
                out.append(self._probe(terms[k], h, int(pos[k]) + 1))
        return out

    def _probe(self, term: str, h: int, p: int) -> int:
        end = int(self._hashes.searchsorted(h, side="right"))  # the rows sharing hash h
        for _h, column, a, b in self._rows[p:end].tolist():
            if self._text[a:b] == term:
                return column
        return -1


def _floats(values: np.ndarray) -> array[float]:
    """float64 array → array('d'): one buffer, but indexing yields Python floats at list speed."""
    out = array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


class _TextBlock:
    """One fitted TfidfVectorizer as tables: n-grams → column, idf and idf × coefficient.

    ``contributions`` is TfidfVectorizer.transform (sublinear tf, idf, l2 norm) followed by the dot
    product with the block's coefficients, for one document, without building a sparse matrix.
    """

    def __init__(self, name: str, info: dict[str, Any], arrays: dict[str, np.ndarray]):
        self.name = name
        self.vocabulary = _Vocabulary(arrays[f"{name}.terms"], arrays[f"{name}.offsets"])
        idf = np.asarray(arrays[f"{name}.idf"], dtype=np.float64)
        coef = np.asarray(arrays[f"{name}.coef"], dtype=np.float64)
        if not (len(idf) == len(coef) == len(self.vocabulary)):
            raise ValueError(f"block {name}: {len(self.vocabulary)} terms, {len(idf)} idf, {len(coef)} coefficients")
        self.idf = _floats(idf)
        self.idf_coef = _floats(idf * coef)
        self.coef = _floats(coef)
        self.char = info["analyzer"] == "char_wb"
        low, high = (int(n) for n in info["ngram_range"])
        self.ngram_range: tuple[int, int] = (low, high)
        pattern = info.get("token_pattern")
        # sklearn's build_tokenizer(): findall with the pattern (a group, if any, is the token).
        self.tokenize: Callable[[str], list[str]] | None = (
            None if self.char or pattern is None else re.compile(pattern).findall
        )
        self._word_ids: dict[str, tuple[tuple[int, ...], float, float]] = {}

    @property
    def weights(self) -> dict[str, tuple[float, float]]:
        """token → (idf, coefficient), for tools that inspect the model (gate_checks)."""
        return {token: (self.idf[i], self.coef[i]) for token, i in self.vocabulary.items()}

    def name_of(self, i: int) -> str:
        return self.vocabulary.term(i)

    def _char_grams(self, word: str) -> list[str]:
        """One word's char_wb n-grams (sklearn's ``_char_wb_ngrams``, word by word)."""
        w = " " + word + " "
        w_len = len(w)
        grams: list[str] = []
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            if w_len <= n:  # a word no longer than n counts once, and so for every larger n
                grams.append(w)
                break
            grams += [w[i : i + n] for i in range(w_len - n + 1)]
        return grams

    def _char_ids(self, words: list[str]) -> list[tuple[tuple[int, ...], float, float]]:
        """Per word: its n-gram columns, with the sums of idf × coef and idf² over them (one lookup for all)."""
        grams: list[str] = []
        ends = []
        for word in words:
            grams += self._char_grams(word)
            ends.append(len(grams))
        found = self.vocabulary.columns(grams)
        idf, idf_coef = self.idf, self.idf_coef
        out = []
        start = 0
        for end in ends:
            ids = tuple([i for i in found[start:end] if i >= 0])
            out.append((ids, sum([idf_coef[i] for i in ids]), sum([idf[i] * idf[i] for i in ids])))
            start = end
        return out

    def _word_grams(self, text: str) -> list[str]:
        """sklearn's ``_word_ngrams`` over the vectoriser's tokenizer (its token_pattern)."""
        tokens = self.tokenize(text)  # type: ignore[misc]
        low, high = self.ngram_range
        grams = list(tokens) if low == 1 else []
        join = " ".join
        for n in range(max(low, 2), min(high + 1, len(tokens) + 1)):
            grams += [join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def contributions(self, text: str, parts: list[tuple[str, str, float]] | None = None) -> float:
        """This block's share of the decision value; per-feature contributions appended to ``parts``.

        tf-idf of column i is s(tf_i)·idf_i / ‖·‖ with s(tf) = 1 + ln tf (sublinear_tf); most
        columns occur once (s = 1), so the sums start from every occurrence counted once and are
        corrected for the repeated columns only.
        """
        text = text.lower()  # lowercase=True, no accent stripping (asserted before serving)
        idf, idf_coef, log = self.idf, self.idf_coef, math.log
        if self.char and parts is None:
            # char_wb n-grams never cross whitespace: per-word columns and sums are remembered.
            cache = self._word_ids
            words = text.split()
            entries: list[tuple[tuple[int, ...], float, float] | None] = list(map(cache.get, words))
            if None in entries:  # the words not remembered are looked up together
                missing = list(dict.fromkeys([w for w, e in zip(words, entries, strict=True) if e is None]))
                computed = dict(zip(missing, self._char_ids(missing), strict=True))
                entries = [computed[w] if e is None else e for w, e in zip(words, entries, strict=True)]
                for word, entry in computed.items():
                    if len(word) <= WORD_CACHE_MAX_LEN:
                        if len(cache) >= WORD_CACHE_SIZE:
                            cache.clear()
                        cache[word] = entry
            columns: list[int] = []
            numerator = norm2 = 0.0
            for ids, word_numerator, word_norm2 in entries:  # type: ignore[misc]  # all filled above
                columns += ids
                numerator += word_numerator
                norm2 += word_norm2
            if not columns:
                return 0.0
            counts = Counter(columns)  # counted in C
            if len(counts) != len(columns):
                for i, tf in counts.items():
                    if tf > 1:
                        s = 1.0 + log(tf)
                        numerator += (s - tf) * idf_coef[i]
                        norm2 += (s * s - tf) * idf[i] * idf[i]
            return numerator / math.sqrt(norm2)
        if self.char:
            counts_by_gram = Counter(self.name_of(i) for i in self._char_columns(text))
        else:
            counts_by_gram = Counter(self._word_grams(text))
        grams = list(counts_by_gram)
        numerator = norm2 = 0.0
        scaled: list[tuple[str, float]] = []
        for gram, column in zip(grams, self.vocabulary.columns(grams), strict=True):
            if column < 0:
                continue
            tf = counts_by_gram[gram]
            if tf == 1:
                w, c = idf[column], idf_coef[column]
            else:
                s = 1.0 + log(tf)
                w, c = s * idf[column], s * idf_coef[column]
            norm2 += w * w
            numerator += c
            scaled.append((gram, c))
        if not scaled:
            return 0.0
        norm = math.sqrt(norm2)
        if parts is not None:
            name = self.name
            parts.extend([(name, gram, c / norm) for gram, c in scaled])
        return numerator / norm

    def _char_columns(self, text: str) -> list[int]:
        columns: list[int] = []
        for ids, _numerator, _norm2 in self._char_ids(text.split()):
            columns += ids
        return columns


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

    def contributions(self, comment: Comment) -> tuple[float, list[tuple[str, str, float]]]:
        """Raw decision value and the (block, feature, contribution) of every explainable feature.

        Character n-grams are summed but not listed: they never make a reason (explain.py).
        """
        text = analyse(comment).prepared
        total = self.intercept
        parts: list[tuple[str, str, float]] = []
        for block in self.blocks:
            total += block.contributions(text, None if block.char else parts)
        if self.meta_coef:
            vocab, meta_coef = self.meta_vocabulary, self.meta_coef
            for key, value in meta_dict(comment).items():
                i = vocab.get(key)
                if i is not None and value:
                    c = value * meta_coef[i]
                    total += c
                    parts.append(("meta", key, c))
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
            self.fast = ServingModel(self._arrays, dict(self._fields, params=self.params), (self.a, self.b))
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
    "digit_ratio": ("many digits", "few digits"),
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
    "email_disposable": "disposable email address",
    "blocklist_terms": "known comment-spam phrases",
    "link_blocklist": "link to a blocklisted domain",
    "ak_js_default": "page script never ran",
    "ak_js_not_posted": "form posted without the page script",
    "ak_js_fast": "submitted seconds after the page loaded",
    "nonce_failed": "form nonce failed",
    "nonce_passed": "form nonce passed",
    "logged_in": "logged-in user",
    "no_accept_language": "no browser language header",
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
        decision, parts = self.model.contributions(comment)
        logit = self.model.calibrated_logit(decision)
        probability = _sigmoid(logit)
        return Score(probability, float(logit), self._reasons(comment, parts, logit >= 0, top))

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

"""A streamed fit of sklearn's ``TfidfVectorizer`` that gives exactly what ``fit_transform`` gives.

``TfidfVectorizer.fit_transform`` holds every (document, n-gram) index of the corpus in a Python
list and a column for every distinct n-gram before ``min_df``/``max_features`` prune them
(``_count_vocab``), and runs its pure-Python char_wb analyzer over every word of every document.
Here the same fit takes two passes over chunks of documents:

1. count each n-gram's document and corpus frequency (provisional ids in first-seen order, the
   ids ``_count_vocab`` gives), keeping only the two counts per n-gram;
2. prune exactly like ``CountVectorizer._limit_features`` (``max_df``/``min_df``, then the
   ``max_features`` most frequent with the same ``argsort`` over the same alphabetically ordered
   array, so ties break alike), set ``vocabulary_`` and ``idf_`` as sklearn computes them, and
   build the TF-IDF matrix chunk by chunk with the fitted vectoriser's own ``TfidfTransformer``.

The char_wb n-grams of a document are its words' n-grams (each word is padded and cut on its
own), so they are computed once per distinct word and reused.  Within each row the entries are
stored in provisional-id order, as sklearn stores them, so even the floating-point sums of the
row norms are sklearn's: the matrix, ``vocabulary_`` and ``idf_`` are identical, not just close
(tests/unit/model_training/test_vectorize.py).  The vectoriser stays a plain ``TfidfVectorizer``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import chain
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from model_training.compact import Chunk, CompactMatrix, TextChunk
from spamguard.comment import Comment
from spamguard.scoring.transformers import CommentText

CHUNK = 20_000  # documents per chunk: bounds the transient (document, n-gram) index arrays


def streamable(vec: Any) -> bool:
    """Whether :func:`fit_transform` reproduces ``vec.fit_transform`` (else use sklearn's)."""
    return (
        type(vec) is TfidfVectorizer
        and vec.analyzer in ("word", "char_wb")
        and vec.input == "content"
        and vec.vocabulary is None
        and not vec.binary
        and vec.use_idf
        and np.dtype(vec.dtype) == np.float64
    )


class _Ids:
    """Per document, the provisional n-gram ids of its n-grams (with repeats), in analyzer order."""

    def __init__(self, vec: TfidfVectorizer):
        # Ids in first-seen order, as _count_vocab assigns them.
        self.vocabulary: defaultdict[str, int] = defaultdict()
        self.vocabulary.default_factory = self.vocabulary.__len__
        if vec.analyzer == "char_wb":
            self._preprocess = vec.build_preprocessor()
            self._word_ngrams = vec._char_wb_ngrams
            self._cache = _WordNgrams(self)
            self.chunk = self._char_wb_chunk
        else:
            self._analyze: Callable[[str], list[str]] = vec.build_analyzer()
            self.chunk = self._word_chunk

    def _word_chunk(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        terms = list(map(self._analyze, docs))
        indptr = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in terms], out=indptr[1:])
        ids = np.fromiter(
            map(self.vocabulary.__getitem__, chain.from_iterable(terms)), dtype=np.int32, count=int(indptr[-1])
        )
        return ids, indptr

    def _char_wb_chunk(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        words = [self._preprocess(d).split() for d in docs]
        per_word = list(map(self._cache.__getitem__, chain.from_iterable(words)))
        ends = np.zeros(len(per_word) + 1, dtype=np.int64)
        np.cumsum([len(a) for a in per_word], out=ends[1:])
        first_word = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum([len(w) for w in words], out=first_word[1:])
        ids = np.concatenate(per_word) if per_word else np.zeros(0, dtype=np.int32)
        return ids, ends[first_word]


class _WordNgrams(dict[str, np.ndarray]):
    """Word → provisional ids of its char_wb n-grams, cut exactly as _char_wb_ngrams cuts them in a document."""

    def __init__(self, ids: _Ids):
        super().__init__()
        self._ids = ids

    def __missing__(self, word: str) -> np.ndarray:
        ids = np.fromiter(map(self._ids.vocabulary.__getitem__, self._ids._word_ngrams(word)), dtype=np.int32)
        self[word] = ids
        return ids


def _counts(ids: np.ndarray, indptr: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """Per document, each n-gram once with its count, the columns sorted (as _count_vocab sorts them).

    Copies: sum_duplicates sorts in place, and the word analyzer's ids are used again in pass 2.
    """
    X = sp.csr_matrix((np.ones(len(ids)), ids, indptr), shape=(len(indptr) - 1, n_columns), copy=True)
    X.sum_duplicates()
    return X


def _grow(a: np.ndarray, n: int) -> np.ndarray:
    return a if len(a) >= n else np.concatenate([a, np.zeros(max(n, 2 * len(a)) - len(a), dtype=a.dtype)])


class _Fitted:
    """A vectoriser fitted by pass 1 (attributes set on it), and its pass 2, chunk by chunk."""

    def __init__(self, vec: TfidfVectorizer, docs: Sequence[str], chunk: int):
        # The fitted attributes are set in the order TfidfVectorizer.fit_transform sets them, so even
        # the pickles are byte-identical.
        vec._validate_params()
        vec._check_params()
        tfidf = vec._tfidf = TfidfTransformer(
            norm=vec.norm, use_idf=vec.use_idf, smooth_idf=vec.smooth_idf, sublinear_tf=vec.sublinear_tf
        )
        vec._validate_ngram_range()
        vec._warn_for_unused_params()
        vec._validate_vocabulary()  # fixed_vocabulary_ = False
        self.tfidf, self.docs, self.chunk = tfidf, docs, chunk
        ids = self._ids = _Ids(vec)

        # Pass 1: document and corpus frequency of every n-gram.
        df = np.zeros(1 << 16, dtype=np.int64)
        tf = np.zeros(1 << 16, dtype=np.int64)
        # The word analyzer (regex, bigram joins) is dearer than keeping its ids (~60 per comment) for
        # pass 2; char_wb ids (~400 per comment) are cheap to rebuild from the per-word cache.
        self._kept: list[tuple[np.ndarray, np.ndarray]] | None = [] if vec.analyzer == "word" else None
        for start in range(0, len(docs), chunk):
            prov, indptr = ids.chunk(docs[start : start + chunk])
            if self._kept is not None:
                self._kept.append((prov, indptr))
            X = _counts(prov, indptr, len(ids.vocabulary))
            df, tf = _grow(df, X.shape[1]), _grow(tf, X.shape[1])
            df[: X.shape[1]] += np.bincount(X.indices, minlength=X.shape[1])
            tf[: X.shape[1]] += np.bincount(X.indices, weights=X.data, minlength=X.shape[1]).astype(np.int64)
        n_terms = len(ids.vocabulary)
        self.nnz_unpruned = int(df.sum())
        if n_terms == 0:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        df, tf = df[:n_terms], tf[:n_terms]

        # Prune as fit_transform → _sort_features → _limit_features does.
        n_doc = len(docs)
        max_doc_count = vec.max_df if isinstance(vec.max_df, Integral) else vec.max_df * n_doc
        min_doc_count = vec.min_df if isinstance(vec.min_df, Integral) else vec.min_df * n_doc
        if max_doc_count < min_doc_count:
            raise ValueError("max_df corresponds to < documents than min_df")
        masked = np.flatnonzero((df <= max_doc_count) & (df >= min_doc_count))  # provisional ids
        flags = np.zeros(n_terms, dtype=bool)
        flags[masked] = True
        # The vocabulary's keys are in insertion order, i.e. provisional-id order.
        terms = [t for t, f in zip(ids.vocabulary, flags.tolist()) if f]
        del flags
        ids.vocabulary.clear()  # every distinct n-gram: pass 2 reads only the kept ids / the word cache
        alphabetical = sorted(range(len(terms)), key=terms.__getitem__)  # as _sort_features orders columns
        alpha = masked[np.asarray(alphabetical, dtype=np.int64)]  # provisional ids, alphabetically
        if vec.max_features is not None and len(alpha) > vec.max_features:
            # The same argsort (same algorithm, same float64 array) as _limit_features: ties break alike.
            alpha = alpha[np.sort((-tf[alpha].astype(np.float64)).argsort()[: vec.max_features])]
        if len(alpha) == 0:
            raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
        self.column = np.full(n_terms, -1, dtype=np.int64)  # provisional id → column (-1: pruned)
        self.column[alpha] = np.arange(len(alpha))
        self.n_terms, self.width = n_terms, len(alpha)
        # Keys in first-seen order; values numpy integers as _limit_features leaves them, or Python
        # ints when (without max_features) _sort_features renumbers the columns last.
        values = self.column[masked] if vec.max_features is not None else self.column[masked].tolist()
        vec.vocabulary_ = {t: c for t, c in zip(terms, values) if c >= 0}
        del terms

        # idf exactly as TfidfTransformer.fit computes it from the pruned counts.
        kept_df = df[alpha].astype(np.float64)
        kept_df += float(vec.smooth_idf)
        idf = np.full_like(kept_df, fill_value=n_doc + int(vec.smooth_idf), dtype=np.float64)
        idf /= kept_df
        np.log(idf, out=idf)
        idf += 1.0
        tfidf.n_features_in_ = len(alpha)
        tfidf.idf_ = idf

    def transform_next(self, start: int) -> sp.csr_matrix:
        """Pass 2 for the chunk at ``start`` (chunks in order): fit_transform's rows of those documents."""
        return self.tfidf.transform(self.counts_next(start), copy=False)

    def counts_next(self, start: int) -> sp.csr_matrix:
        """The term counts of the chunk at ``start`` (chunks in order), which the TfidfTransformer scales.

        Entries stay in provisional-id order, as _limit_features' column selection keeps them.
        """
        if self._kept:
            prov, indptr = self._kept.pop(0)
        else:
            prov, indptr = self._ids.chunk(self.docs[start : start + self.chunk])
        kept = self.column[prov] >= 0
        kept_before = np.zeros(len(prov) + 1, dtype=np.int32 if len(prov) < 2**31 else np.int64)
        np.cumsum(kept, out=kept_before[1:])
        X = _counts(prov[kept], kept_before[indptr], self.n_terms)
        return sp.csr_matrix(
            (X.data, self.column[X.indices].astype(X.indices.dtype), X.indptr), shape=(X.shape[0], self.width)
        )


def fit_transform(vec: TfidfVectorizer, docs: Sequence[str], chunk: int = CHUNK) -> sp.csr_matrix:
    """``vec.fit_transform(docs)``, with the same fitted state and the same matrix, in bounded memory."""
    if not streamable(vec):
        return vec.fit_transform(docs)
    fitted = _Fitted(vec, docs, chunk)
    return _stack([fitted.transform_next(start) for start in range(0, len(docs), chunk)], fitted.width)


def fit_features(features: FeatureUnion, comments: Sequence[Comment], chunk: int = CHUNK) -> sp.csr_matrix:
    """``features.fit_transform(comments).tocsr()`` for :func:`make_features`' union, the TF-IDF blocks streamed.

    The steps are fitted in place, so ``features`` ends up as sklearn's fit leaves it.  The union's
    rows are assembled chunk by chunk, so the matrix is held about once, not once per block and
    again stacked.
    """
    return FittedUnion(features, comments, chunk).csr()


class FittedUnion:
    """The union's steps fitted (TF-IDF blocks by pass 1), before any of its rows are built."""

    def __init__(self, features: FeatureUnion, comments: Sequence[Comment], chunk: int = CHUNK):
        self.features, self.n_rows, self.chunk = features, len(comments), chunk
        self.parts: list[Any] = []
        texts: list[str] | None = None
        for _name, step in features.transformer_list:
            if isinstance(step, Pipeline) and [n for n, _ in step.steps] == ["text", "tfidf"]:
                text, vec = step.named_steps["text"], step.named_steps["tfidf"]
                if type(text) is CommentText and streamable(vec):
                    texts = text.transform(comments) if texts is None else texts  # one per comment for both blocks
                    self.parts.append(_Fitted(vec, texts, chunk))
                    continue
            self.parts.append(sp.csr_matrix(step.fit_transform(comments)))  # the narrow metadata block

    @property
    def nnz_bound(self) -> int:
        """An upper bound of the matrix's nonzeros: the TF-IDF blocks' counted before pruning, plus the others'."""
        return sum(p.nnz_unpruned if isinstance(p, _Fitted) else p.nnz for p in self.parts)

    def csr(self) -> sp.csr_matrix:
        width = sum(p.width if isinstance(p, _Fitted) else p.shape[1] for p in self.parts)
        rows = [
            self.features._hstack(
                [
                    p.transform_next(start) if isinstance(p, _Fitted) else p[start : start + self.chunk]
                    for p in self.parts
                ]
            ).tocsr()
            for start in range(0, self.n_rows, self.chunk)
        ]
        return _stack(rows, width)

    def compact(self, threads: int = 1) -> CompactMatrix:
        """The same rows as :meth:`csr`, as a :class:`CompactMatrix` (~5 bytes a nonzero, values equal to rounding).

        Needs the TF-IDF blocks first and at most one other (the metadata) block after them.
        """
        text = [p for p in self.parts if isinstance(p, _Fitted)]
        rest = self.parts[len(text) :]
        if any(isinstance(p, _Fitted) for p in rest) or len(rest) > 1:
            raise ValueError("a compact matrix needs the TF-IDF blocks first and at most one other block")
        idf = [p.tfidf.idf_ for p in text]
        chunks = [
            Chunk(
                start,
                min(self.chunk, self.n_rows - start),
                [TextChunk.from_counts(p.counts_next(start), i) for p, i in zip(text, idf)],
                sp.csr_matrix(rest[0][start : start + self.chunk]) if rest else None,
            )
            for start in range(0, self.n_rows, self.chunk)
        ]
        offsets = np.cumsum([0] + [p.width for p in text[:-1]]).tolist()
        return CompactMatrix(chunks, offsets, idf, rest[0].shape[1] if rest else 0, threads)


def _stack(chunks: list[sp.csr_matrix], width: int) -> sp.csr_matrix:
    """``sp.vstack(chunks, format="csr")`` (same arrays, same index dtype), freeing each chunk once copied.

    The output's pages are only touched as they are filled, so the peak is the matrix plus one chunk.
    """
    nnz = sum(c.nnz for c in chunks)
    n_rows = sum(c.shape[0] for c in chunks)
    index_dtype = np.int32 if max(nnz, width, n_rows) <= np.iinfo(np.int32).max else np.int64
    data = np.empty(nnz, dtype=np.float64)
    indices = np.empty(nnz, dtype=index_dtype)
    indptr = np.empty(n_rows + 1, dtype=index_dtype)
    indptr[0] = at = row = 0
    while chunks:
        c = chunks.pop(0)
        data[at : at + c.nnz] = c.data
        indices[at : at + c.nnz] = c.indices
        indptr[row + 1 : row + 1 + c.shape[0]] = c.indptr[1:] + at
        at, row = at + c.nnz, row + c.shape[0]
        del c
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, width))

"""The compact matrix (model_training/compact.py) holds fit_features' rows, and its products are scipy's."""

from __future__ import annotations

import numpy as np
import pytest

from model_training import compact, vectorize
from spamguard.comment import Comment
from spamguard.scoring.transformers import make_features
from tests.unit.model_training.test_vectorize import _docs


def _comments(n: int) -> list[Comment]:
    docs = _docs(n, seed=11)
    docs[5] = "word " * 300 + "word"  # tf far above 1
    return [
        Comment(comment_content=d, comment_author=f"a{i % 7}", comment_author_url="http://x.example" if i % 3 else "")
        for i, d in enumerate(docs)
    ]


@pytest.fixture(scope="module")
def both() -> tuple[compact.CompactMatrix, object]:
    comments = _comments(300)
    X = vectorize.fit_features(make_features(min_df=1), comments, chunk=37)
    C = vectorize.FittedUnion(make_features(min_df=1), comments, chunk=37).compact()
    return C, X


def test_the_rows_are_fit_features_rows(both):
    C, X = both
    assert C.shape == X.shape and C.nnz == X.nnz
    diff = abs(C.tocsr() - X)
    assert diff.max() < 1e-14
    assert len(C.chunks) == 9  # 300 rows in chunks of 37


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_products_are_scipys(both, threads, monkeypatch):
    C, X = both
    monkeypatch.setattr(C, "threads", threads)
    rng = np.random.default_rng(threads)
    v, r, d = rng.normal(size=X.shape[1]), rng.normal(size=X.shape[0]), rng.random(X.shape[0])
    assert np.allclose(C.matvec(v), X @ v, rtol=0, atol=1e-12)
    assert np.allclose(C.rmatvec(r), X.T @ r, rtol=0, atol=1e-12)
    assert np.allclose(C.gram_vec(v, d), X.T @ (d * (X @ v)), rtol=0, atol=1e-12)


def test_threads_give_the_same_bits(both, monkeypatch):
    C, X = both
    r = np.random.default_rng(0).normal(size=X.shape[0])
    monkeypatch.setattr(C, "threads", 2)
    first = C.rmatvec(r)
    assert all(np.array_equal(first, C.rmatvec(r)) for _ in range(5))


def test_metadata_support_counts_nonzero_rows(both):
    C, X = both
    start = C.meta_offset
    expected = np.asarray((X[:, start:] != 0).sum(axis=0)).ravel()
    assert np.array_equal(C.column_support(start), expected)


@pytest.mark.parametrize("big", [3, 70_000])
def test_term_counts_small_and_beyond_the_uint16_table(big):
    import scipy.sparse as sp

    counts = sp.csr_matrix(np.array([[1.0, 0.0, big, 2.0], [0.0, 0.0, 0.0, 0.0], [5.0, 1.0, 0.0, 0.0]]))
    idf = np.array([1.5, 2.0, 1.0, 3.0])
    chunk = compact.TextChunk.from_counts(counts, idf)
    expected = counts.copy()
    expected.data = (1.0 + np.log(expected.data)) * idf[expected.indices]
    norms = np.sqrt(np.asarray(expected.multiply(expected).sum(axis=1)).ravel())
    expected = sp.diags(np.divide(1.0, norms, out=np.zeros(3), where=norms > 0)) @ expected
    assert abs(chunk.values(idf) - expected).max() < 1e-15
    assert chunk.extra_data.dtype == (np.uint16 if big < 1 << 16 else np.float64)

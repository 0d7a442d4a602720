"""The streamed TF-IDF fit (model_training/vectorize.py) is sklearn's fit_transform exactly.

Exactly: the same vocabulary_ (keys, order, values), idf_ bits, matrix arrays and pickles, so the
serving fast path (which mirrors a fitted TfidfVectorizer) and the model cannot tell them apart.
"""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from model_training import vectorize
from spamguard.comment import Comment
from spamguard.scoring.transformers import make_features

WORD = {"token_pattern": r"(?u)\b\w\w+\b|[^\w\s]", "ngram_range": (1, 2)}
CHAR = {"analyzer": "char_wb", "ngram_range": (2, 5)}


def _docs(n: int, seed: int = 3) -> list[str]:
    """Zipf-ish words with case, digits, punctuation, non-ASCII and odd whitespace; some empty documents."""
    rng = random.Random(seed)
    letters = "abcdeéfghijklmnoprstuvwxyzç"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(300)]
    words += ["WIN", "Free!!", "http://bit.ly/x1", "50%", "naïve", "🙂", "a", "I"]
    docs = []
    for _ in range(n):
        if rng.random() < 0.03:
            docs.append(rng.choice(["", "   ", "\n\t"]))
            continue
        picked = [words[min(int(rng.paretovariate(0.8)) - 1, len(words) - 1)] for _ in range(rng.randint(1, 30))]
        docs.append(rng.choice([" ", "  ", "\t", " \n "]).join(picked))
    return docs


def _assert_same(a: TfidfVectorizer, b: TfidfVectorizer, Xa, Xb) -> None:
    assert list(a.vocabulary_.items()) == list(b.vocabulary_.items())
    assert type(next(iter(a.vocabulary_.values()))) is type(next(iter(b.vocabulary_.values())))
    assert np.array_equal(a.idf_, b.idf_)
    assert type(Xa) is type(Xb) and Xa.shape == Xb.shape
    for name in ("indptr", "indices", "data"):
        assert getattr(Xa, name).dtype == getattr(Xb, name).dtype
        assert np.array_equal(getattr(Xa, name), getattr(Xb, name)), name
    assert pickle.dumps(a) == pickle.dumps(b)


@pytest.mark.parametrize("analyzer", [WORD, CHAR], ids=["word", "char_wb"])
@pytest.mark.parametrize(
    "prune",
    [
        {"min_df": 2, "max_features": 300_000},  # production: max_features does not bind
        {"min_df": 2, "max_features": 150},  # binds, cutting through a run of equal frequencies
        {"min_df": 3, "max_df": 0.2, "max_features": 97},
        {"min_df": 0.01, "max_df": 40},
        {},
    ],
)
def test_streamed_fit_is_sklearns_fit(analyzer, prune):
    docs = _docs(1200)
    reference = TfidfVectorizer(sublinear_tf=True, **analyzer, **prune)
    streamed = clone(reference)
    Xa = reference.fit_transform(docs)
    Xb = vectorize.fit_transform(streamed, docs, chunk=257)  # several chunks, the last one short
    _assert_same(reference, streamed, Xa, Xb)


@pytest.mark.parametrize("analyzer", [WORD, CHAR], ids=["word", "char_wb"])
def test_max_features_cut_falls_inside_a_tie(analyzer):
    """The case the tie-break matters for: terms of one corpus frequency on both sides of the cut."""
    docs = _docs(1200)
    counts = CountVectorizer(**analyzer, min_df=2).fit_transform(docs)
    tfs = np.sort(np.asarray(counts.sum(axis=0)).ravel())[::-1]
    limit = 400
    assert tfs[limit - 1] == tfs[limit], "the corpus no longer puts a tie at the cut"
    reference = TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=limit, **analyzer)
    streamed = clone(reference)
    _assert_same(reference, streamed, reference.fit_transform(docs), vectorize.fit_transform(streamed, docs, 100))


def test_the_feature_union_is_fitted_as_sklearn_fits_it():
    docs = _docs(700, seed=5)
    comments = [
        Comment(comment_content=d, comment_author=f"user{i % 37}", comment_author_url="http://x.example" * (i % 5 == 0))
        for i, d in enumerate(docs)
    ]
    reference, streamed = make_features(), make_features()
    Xa = reference.fit_transform(comments).tocsr()
    Xb = vectorize.fit_features(streamed, comments, chunk=128)
    for name in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(Xa, name), getattr(Xb, name)), name
    assert Xa.shape == Xb.shape and type(Xa) is type(Xb)
    assert pickle.dumps(reference) == pickle.dumps(streamed)


def test_unstreamable_settings_are_fitted_by_sklearn():
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2))
    assert not vectorize.streamable(vec)
    assert vectorize.fit_transform(vec, ["ab", "ba"]).shape == (2, len(vec.vocabulary_))


@pytest.mark.parametrize(
    ("params", "message"),
    [({"min_df": 5, "max_df": 3}, "max_df corresponds to"), ({"min_df": 199}, "no terms remain")],
)
def test_the_same_errors_as_sklearn(params, message):
    docs = _docs(200)
    with pytest.raises(ValueError, match=message):
        TfidfVectorizer(**params).fit_transform(docs)
    with pytest.raises(ValueError, match=message):
        vectorize.fit_transform(TfidfVectorizer(**params), docs, chunk=64)

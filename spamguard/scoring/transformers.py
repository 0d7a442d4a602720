"""The scikit-learn transformers of the feature union (training, evaluation, and the sklearn scoring path).

Kept apart from :mod:`spamguard.scoring.features` so that a serving worker, which scores from the
non-pickle serving artifact (model.py), never imports sklearn or scipy.  Pickles written before the
move name ``spamguard.scoring.features.CommentText``/``MetaFeatures``; features.py resolves those
names lazily to the classes here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from spamguard.comment import Comment
from spamguard.scoring.features import NUMERIC_META, comment_text, meta_dict


class CommentText(BaseEstimator, TransformerMixin):
    """Comments → prepared content strings (stateless)."""

    def fit(self, X: Iterable[Comment], y: Any = None) -> CommentText:
        return self

    def transform(self, X: Iterable[Comment]) -> list[str]:
        return [comment_text(c) for c in X]


class MetaFeatures(BaseEstimator, TransformerMixin):
    """Metadata → sparse matrix; numeric columns scaled by their max-abs over the training data."""

    def __init__(self, min_count: int = 2):
        self.min_count = min_count

    def fit(self, X: Iterable[Comment], y: Any = None) -> MetaFeatures:
        return self._fit_dicts([meta_dict(c) for c in X])

    def _fit_dicts(self, dicts: list[dict[str, float]]) -> MetaFeatures:
        counts: Counter[str] = Counter(k for d in dicts for k in d)
        # Every named column exists even when unseen, so documented priors (signals.py) have a place.
        names = sorted({k for k, n in counts.items() if n >= self.min_count} | set(NUMERIC_META))
        self.vocabulary_ = {name: i for i, name in enumerate(names)}
        scale = np.zeros(len(names))
        for d in dicts:
            for k, v in d.items():
                i = self.vocabulary_.get(k)
                if i is not None:
                    scale[i] = max(scale[i], abs(v))
        self.scale_ = np.where(scale > 0, scale, 1.0)
        # Training means of the raw values (0 when absent): used only to phrase explanations.
        totals = np.zeros(len(names))
        for d in dicts:
            for k, v in d.items():
                i = self.vocabulary_.get(k)
                if i is not None:
                    totals[i] += v
        self.means_ = totals / max(len(dicts), 1)
        self.feature_names_ = names
        return self

    def fit_transform(self, X: Iterable[Comment], y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        dicts = [meta_dict(c) for c in X]  # computed once, not once per step
        return self._fit_dicts(dicts).transform_dicts(dicts)

    def transform_dicts(self, dicts: list[dict[str, float]]) -> sp.csr_matrix:
        rows, cols, vals = [], [], []
        for r, d in enumerate(dicts):
            for k, v in d.items():
                i = self.vocabulary_.get(k)
                if i is not None and v:
                    rows.append(r)
                    cols.append(i)
                    vals.append(v / self.scale_[i])
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(dicts), len(self.vocabulary_)))

    def transform(self, X: Iterable[Comment]) -> sp.csr_matrix:
        return self.transform_dicts([meta_dict(c) for c in X])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_, dtype=object)


# --------------------------------------------------------------------------- the union


def make_features(
    word_ngram: tuple[int, int] = (1, 2),
    char_ngram: tuple[int, int] = (2, 5),
    min_df: int = 2,
    max_features: int | None = 300_000,
    meta: bool = True,
) -> FeatureUnion:
    """The feature union used by every model: word TF-IDF, char_wb TF-IDF, metadata.

    Named steps: ``word``, ``char`` (each ``Pipeline(text → tfidf)``) and ``meta``.
    """
    parts: list[tuple[str, Any]] = [
        (
            "word",
            Pipeline(
                [
                    ("text", CommentText()),
                    (
                        "tfidf",
                        TfidfVectorizer(
                            ngram_range=word_ngram,
                            min_df=min_df,
                            sublinear_tf=True,
                            max_features=max_features,
                            token_pattern=r"(?u)\b\w\w+\b|[^\w\s]",
                        ),
                    ),
                ]
            ),
        ),
        (
            "char",
            Pipeline(
                [
                    ("text", CommentText()),
                    (
                        "tfidf",
                        TfidfVectorizer(
                            analyzer="char_wb",
                            ngram_range=char_ngram,
                            min_df=min_df,
                            sublinear_tf=True,
                            max_features=max_features,
                        ),
                    ),
                ]
            ),
        ),
    ]
    if meta:
        parts.append(("meta", MetaFeatures()))
    return FeatureUnion(parts)

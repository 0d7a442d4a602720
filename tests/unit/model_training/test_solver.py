"""The classifier fit converges in a bounded number of solver iterations, also on contradictory feedback.

Counted in liblinear iterations, not seconds: the soak's random moderator decisions on one comment
template (near-duplicates, opposite labels, weight 50 each) ran the dual solver to its cap on every fit.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import sparse

from model_training import train


def _data(n_clean: int, n_conflict: int) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Separable 'corpus' rows, plus heavily weighted near-duplicate rows with random labels."""
    rng = random.Random(7)
    rows, y, w = [], [], []
    for i in range(n_clean):
        label = i % 2
        vec = np.zeros(60)
        vec[[rng.randrange(20) + 20 * label for _ in range(5)]] = 1.0
        rows.append(vec)
        y.append(label)
        w.append(1.0)
    for _ in range(n_conflict):  # the same bag of words (one template), shuffled, labelled at random
        vec = np.zeros(60)
        vec[40 + np.array([rng.randrange(20) for _ in range(30)])] += 1.0
        rows.append(vec / np.linalg.norm(vec))
        y.append(rng.randrange(2))
        w.append(train.FEEDBACK_WEIGHT)
    return sparse.csr_matrix(np.array(rows)), np.array(y), np.array(w)


def test_clean_data_keeps_the_dual_fit():
    X, y, w = _data(400, 0)
    clf = train.fit_classifier(8.0, X, y, w)
    assert clf.dual and int(np.max(clf.n_iter_)) < train.DUAL_MAX_ITER


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_contradictory_weighted_duplicates_converge_in_the_primal():
    X, y, w = _data(400, 200)
    clf = train.fit_classifier(8.0, X, y, w)
    assert not clf.dual, "the dual solver converged: this data no longer reproduces the soak's case"
    assert int(np.max(clf.n_iter_)) < 100  # Newton iterations; the dual alone ran to any cap
    reference = train.make_classifier(8.0, dual=False)
    reference.max_iter = 10000
    reference.tol = 1e-8
    reference.fit(X, y, sample_weight=w)
    assert np.allclose(clf.decision_function(X), reference.decision_function(X), atol=1e-2)

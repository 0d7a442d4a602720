"""The primal solver (model_training/primal.py) minimises liblinear's objective: it lands where liblinear does.

Tolerances: liblinear's own primal solver run to tol=1e-10 is the reference optimum; the production
(dual) fit and ours at the shipped tol=1e-4 both stop near it, so their decision values may differ
from it by a few thousandths on decisions of size ~10.
"""

from __future__ import annotations

import numpy as np
import pytest

from model_training import primal, train, vectorize
from spamguard.scoring.transformers import make_features
from tests.unit.model_training.test_compact import _comments


@pytest.fixture(scope="module")
def data() -> tuple[object, np.ndarray, np.ndarray]:
    comments = _comments(400)
    X = vectorize.fit_features(make_features(min_df=1), comments, chunk=64)
    rng = np.random.default_rng(5)
    # Labels that depend on the features (a noisy linear rule), unbalanced, with unequal weights.
    score = X @ rng.normal(size=X.shape[1]) * 3
    y = (score + rng.normal(size=X.shape[0]) > np.quantile(score, 0.7)).astype(int)
    w = rng.choice([0.3, 1.0, 50.0], size=X.shape[0], p=[0.5, 0.45, 0.05])
    return X, y, w


def _reference(X, y, w, C):
    clf = train.make_classifier(C, dual=False)
    clf.tol, clf.max_iter = 1e-10, 10_000
    return clf.fit(X, y, sample_weight=w)


@pytest.mark.parametrize("C", [2.0, 8.0])
def test_the_same_optimum_as_liblinear(data, C):
    X, y, w = data
    ref = _reference(X, y, w, C)
    sol = primal.fit(primal.CsrMatrix(X), y, primal.row_costs(y, w, C))
    ours = X @ sol.coef + sol.intercept
    expected = ref.decision_function(X)
    scale = np.abs(expected).max()
    assert np.abs(ours - expected).max() < 2e-3 * scale
    assert np.abs(sol.intercept - ref.intercept_[0]) < 2e-3 * scale
    # The production (dual) fit is no closer to the optimum than that.
    dual = train.fit_classifier(C, X, y, w).decision_function(X)
    assert np.abs(dual - expected).max() < 2e-3 * scale


def test_zero_cost_rows_are_a_fit_on_the_other_rows(data):
    X, y, w = data
    train_rows = np.arange(X.shape[0]) % 4 != 0
    ref = _reference(X[train_rows], y[train_rows], w[train_rows], 8.0)
    cost = primal.row_costs(y, w, 8.0, train_rows)
    assert np.all(cost[~train_rows] == 0)
    full = primal.fit(primal.CsrMatrix(X), y, primal.row_costs(y, w, 8.0))
    sol = primal.fit(primal.CsrMatrix(X), y, cost, w0=full.w, train=train_rows)  # warm start
    expected = ref.decision_function(X)
    assert np.abs(X @ sol.coef + sol.intercept - expected).max() < 2e-3 * np.abs(expected).max()


def test_a_warm_start_at_the_optimum_takes_no_step(data):
    X, y, w = data
    cost = primal.row_costs(y, w, 2.0)
    first = primal.fit(primal.CsrMatrix(X), y, cost)
    again = primal.fit(primal.CsrMatrix(X), y, cost, w0=first.w)
    assert first.n_iter > 0 and again.n_iter == 0
    assert np.array_equal(again.w, first.w)


def test_the_classifier_is_a_plain_fitted_logistic_regression(data):
    X, y, w = data
    sol = primal.fit(primal.CsrMatrix(X), y, primal.row_costs(y, w, 8.0))
    clf = train.as_classifier(8.0, sol, y)
    assert np.allclose(clf.decision_function(X), X @ sol.coef + sol.intercept)
    assert list(clf.classes_) == [0, 1]
    assert np.allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-clf.decision_function(X))))


def test_leave_one_corpus_out_on_the_compact_path_agrees_with_liblinear():
    from model_training import data as data_mod
    from model_training.compact import CompactMatrix

    examples = data_mod.gate_split(data_mod.load_corpora())[0][::20]
    small = train.fit_loco(examples, grid=(8.0,), large=False)
    large = train.fit_loco(examples, grid=(8.0,), large=True)
    assert isinstance(large.matrix, CompactMatrix) and not isinstance(small.matrix, CompactMatrix)
    a, b = small.oof_decision, large.oof_decision
    held_out = ~np.isnan(a)
    assert np.abs(a[held_out] - b[held_out]).max() < 2e-3 * np.abs(a[held_out]).max()
    assert small.loco.keys() == large.loco.keys()
    for corpus, m in small.loco.items():
        if "roc_auc" in m:
            assert large.loco[corpus]["roc_auc"] == pytest.approx(m["roc_auc"], abs=1e-3)
            assert large.loco[corpus]["recall_at_1pct_fpr"] == pytest.approx(m["recall_at_1pct_fpr"], abs=0.02)
    for name, value in small.thresholds.items():
        assert large.thresholds[name] == pytest.approx(value, abs=0.01)
    comments = [e.comment for e in examples[:50]]
    assert np.abs(small.model.predict_proba(comments) - large.model.predict_proba(comments)).max() < 0.01


def test_row_subset_refits_on_the_compact_matrix_match_liblinears(data):
    """What the report's evaluation refits (train.fit_decisions) when the matrix is compact."""
    X, y, w = data
    compact = vectorize.FittedUnion(make_features(min_df=1), _comments(400), chunk=64).compact()
    tr, te = np.flatnonzero(np.arange(len(y)) % 3 != 0), np.flatnonzero(np.arange(len(y)) % 3 == 0)
    ours = train.fit_decisions(compact, y, w, tr, te, (2.0, 8.0))
    for C, expected in train.fit_decisions(X, y, w, tr, te, (2.0, 8.0)).items():
        assert np.abs(ours[C] - expected).max() < 2e-3 * np.abs(expected).max()

"""Evaluation metrics on tiny synthetic sets: worked by hand, and checked against brute force and sklearn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, matthews_corrcoef, roc_auc_score

from model_training.evaluate import (
    full_metrics,
    ranking_metrics,
    recall_at_fpr,
    threshold_metrics,
    thresholds_from_validation,
    write_report,
)

# 4 ham, 4 spam. Ranked high to low: s .9, s .8, h .7, s .6, h .4, s .3, h .2, h .1
Y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
S = np.array([0.1, 0.2, 0.4, 0.7, 0.3, 0.6, 0.8, 0.9])


def brute_recall_at_fpr(y, scores, max_fpr):
    """Every cut-off tried in turn: the best recall whose false-positive rate stays within max_fpr."""
    best = 0.0
    for cut in [*np.unique(scores), np.inf]:
        flagged = scores >= cut
        if flagged[y == 0].mean() <= max_fpr:
            best = max(best, flagged[y == 1].mean())
    return best


def test_ranking_metrics_worked_by_hand():
    m = ranking_metrics(Y, S)
    # Spam-ham pairs ranked correctly: .9 and .8 beat all 4 ham, .6 beats 3, .3 beats 2 -> 13 of 16.
    assert m["roc_auc"] == pytest.approx(13 / 16)
    # Precision at each spam: 1/1, 2/2, 3/4, 4/6.
    assert m["average_precision"] == pytest.approx((1 + 1 + 3 / 4 + 4 / 6) / 4)
    # No ham may be flagged at 1 % FPR: only the two spam above the best ham (.7) are caught.
    assert m["recall_at_1pct_fpr"] == m["recall_at_0.5pct_fpr"] == 0.5
    assert (m["n"], m["n_spam"]) == (8, 4)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("max_fpr", [0.0, 0.01, 0.1, 0.25, 0.5])
def test_recall_at_fpr_matches_a_brute_force_search_and_sklearn_agrees_on_the_rest(seed, max_fpr):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    y[:2] = [0, 1]
    scores = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounded: ties between ham and spam
    assert recall_at_fpr(y, scores, max_fpr) == pytest.approx(brute_recall_at_fpr(y, scores, max_fpr))
    m = ranking_metrics(y, scores)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, scores))


def test_one_class_sets_have_counts_but_no_ranking_metrics():
    assert ranking_metrics([0, 0, 0], [0.1, 0.5, 0.9]) == {"n": 3, "n_spam": 0}
    assert math.isnan(recall_at_fpr(np.array([1, 1]), np.array([0.2, 0.3]), 0.01))


def test_threshold_metrics_worked_by_hand():
    m = threshold_metrics(Y, S, 0.5)
    # Flagged at >= .5: s .9, s .8, h .7, s .6 -> tp 3, fp 1; missed s .3 -> fn 1; tn 3.
    assert m["confusion"] == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}
    assert (m["precision"], m["recall"], m["fpr"]) == (0.75, 0.75, 0.25)
    assert m["f1"] == pytest.approx(0.75)
    assert m["mcc"] == pytest.approx((3 * 3 - 1 * 1) / math.sqrt(4 * 4 * 4 * 4))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(Y, S >= 0.5))


def test_threshold_metrics_when_nothing_is_flagged_or_there_is_no_spam():
    none = threshold_metrics(Y, S, 0.95)
    assert (none["precision"], none["recall"], none["fpr"]) == (0.0, 0.0, 0.0)
    ham_only = threshold_metrics([0, 0, 0, 0], [0.1, 0.6, 0.7, 0.2], 0.5)
    assert ham_only["fpr"] == 0.5 and math.isnan(ham_only["mcc"])


def test_full_metrics_combines_both():
    m = full_metrics(Y, S, 0.5)
    assert m["roc_auc"] == pytest.approx(13 / 16) and m["at_spam_threshold"]["threshold"] == 0.5


@pytest.mark.parametrize("seed", range(3))
def test_thresholds_flag_at_most_the_allowed_share_of_validation_ham(seed):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(2000, int), np.ones(300, int)]
    probs = np.r_[rng.beta(2, 8, 2000), rng.beta(8, 2, 300)]
    th = thresholds_from_validation(y, probs)
    ham = probs[y == 0]
    for band, rate in (("unsure", 0.05), ("spam", 0.01), ("discard", 0.001)):
        assert np.mean(ham >= th[band]) <= rate
        # ...and no lower: one notch down would flag more ham than allowed.
        below = np.sort(ham)[::-1][int(np.floor(rate * len(ham)))]
        assert th[band] == np.nextafter(below, 2.0) and np.mean(ham >= below) > rate
    assert th["unsure"] <= th["spam"] <= th["discard"] <= 1.0


def test_thresholds_stay_ordered_and_defined_on_degenerate_sets():
    assert thresholds_from_validation([1, 1], [0.2, 0.9]) == {"unsure": 0.5, "spam": 0.5, "discard": 0.5}
    th = thresholds_from_validation([0, 0, 0, 1], [1.0, 1.0, 1.0, 1.0])
    assert th == {"unsure": 1.0, "spam": 1.0, "discard": 1.0}


def test_the_report_writes_public_metrics_only(tmp_path):
    gate = full_metrics(Y, S, 0.5)
    metrics = {
        "version": "v-unit",
        "training": {"n_examples": 8, "n_spam": 4, "params": {"C": 1.0}, "seconds": 1.5, "corpora": {"unit": 8}},
        "thresholds": {"unsure": 0.3, "spam": 0.5, "discard": 0.9},
        "loco": {"unit": {**ranking_metrics(Y, S), "at_shipped_thresholds": threshold_metrics(Y, S, 0.5)}},
        "gate": gate,
        "evaluation": {"loco_baseline_pooled": {"roc_auc": 0.5, "_y": Y, "_b": S}},
    }
    write_report(tmp_path, metrics, {"model": (Y, S)})
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored["evaluation"]["loco_baseline_pooled"] == {"roc_auc": 0.5}  # arrays behind "_" keys dropped
    assert stored["gate"]["roc_auc"] == pytest.approx(13 / 16)
    report = (tmp_path / "report.md").read_text()
    assert "# Model report v-unit" in report and "spam ≥ 0.5000" in report
    assert "| unit | 8 | 4 | 0.8125 |" in report
    assert "tn/fp/fn/tp 3/1/1/3" in report

"""Training: grouped-CV model selection, Platt calibration, thresholds, registration, promotion gate.

Model = ``Pipeline([("features", make_features()), ("clf", LogisticRegression(class_weight="balanced"))])``.
Calibration: a 1-D logistic (Platt) fit on grouped out-of-fold decision values;
thresholds from the same out-of-fold probabilities (see ``evaluate.thresholds_from_validation``).
"""
from __future__ import annotations

import hashlib
import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from model_training import data as data_mod
from model_training.data import Example
from model_training.evaluate import (
    full_metrics,
    lovo_and_cross_corpus,
    ranking_metrics,
    thresholds_from_validation,
    write_report,
)
from model_training.feedback_trust import mask_unsupported
from model_training.gate_checks import trigger_check
from model_training.registry import gate
from spamguard.scoring.features import make_features
from spamguard.scoring.model import SpamModel
from spamguard.scoring.registry import Registry

log = logging.getLogger(__name__)

RANDOM_STATE = 20261127
C_GRID = (4.0, 16.0, 64.0)
QUICK_C = 16.0
SMS_BUCKETS = 5


@dataclass
class FitResult:
    model: SpamModel
    thresholds: dict[str, float]
    params: dict[str, Any]
    oof_y: np.ndarray
    oof_p: np.ndarray
    cv: dict[str, Any] = field(default_factory=dict)


def cv_group(example: Example) -> str:
    """Group used for CV folds: the video / site; the SMS corpus (no natural groups) in hash buckets."""
    if example.group == "sms":
        h = int(hashlib.sha256(data_mod.text_key(example.text).encode()).hexdigest()[:8], 16)
        return f"sms:{h % SMS_BUCKETS}"
    return example.group


SITE_WEIGHT_SHARE = 0.02


def example_weights(examples: list[Example]) -> np.ndarray:
    """Sample weights.

    * The SMS corpus (out-of-domain, 3x larger) gets the same total weight as
      YouTube; without this SMS ham dominates and the model learns "digits/links =
      spam" from text messages, which hurts web comments.
    * Each reporting key's *untrusted* (API) feedback weighs in total at most
      ``SITE_WEIGHT_SHARE`` of the corpus weight, so even a full per-key quota of
      coordinated false reports is outvoted by the corpora.  Moderator labels weigh 1.
    """
    n_yt = sum(e.source == "youtube" for e in examples)
    n_sms = sum(e.source == "sms" for e in examples)
    sms_weight = min(1.0, n_yt / n_sms) if n_sms and n_yt else 1.0
    w = np.array([sms_weight if e.source == "sms" else 1.0 for e in examples])
    corpus_weight = float(w[[e.source != "db" for e in examples]].sum()) if examples else 0.0
    per_site: dict[str, int] = {}
    for e in examples:
        if e.source == "db" and not e.trusted:
            per_site[e.group] = per_site.get(e.group, 0) + 1
    budget = SITE_WEIGHT_SHARE * max(corpus_weight, 1.0)
    for i, e in enumerate(examples):
        if e.source == "db" and not e.trusted:
            w[i] = min(1.0, budget / per_site[e.group])
    return w


def build_pipeline(C: float = QUICK_C, **feature_params: Any) -> Pipeline:
    return Pipeline([
        ("features", make_features(**feature_params)),
        ("clf", LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=RANDOM_STATE)),
    ])


def _platt(decisions: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e4, solver="lbfgs").fit(decisions.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _fold_decisions(X: list, y: np.ndarray, w: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray,
                    grid: Sequence[float]) -> dict[float, np.ndarray]:
    """Fit the features once on the training fold, then one classifier per C."""
    features = make_features()
    Xtr = features.fit_transform([X[i] for i in train_idx])
    Xte = features.transform([X[i] for i in test_idx])
    out = {}
    for C in grid:
        clf = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=RANDOM_STATE)
        out[C] = clf.fit(Xtr, y[train_idx], sample_weight=w[train_idx]).decision_function(Xte)
    return out


MIN_THRESHOLD_HAM = 100  # comment ham needed before thresholds ignore the SMS corpus


def fit_with_cv(examples: list[Example], grid: Sequence[float] = C_GRID, n_splits: int = 5,
                n_jobs: int = 1, progress: bool = False) -> FitResult:
    """Choose C by grouped CV, Platt-calibrate and set thresholds on the out-of-fold values, refit on all."""
    X = [e.comment for e in examples]
    y = np.array([e.label for e in examples])
    groups = np.array([cv_group(e) for e in examples])
    w = example_weights(examples)
    n_splits = min(n_splits, len(set(groups)))
    splits = list(GroupKFold(n_splits=n_splits).split(X, y, groups))
    if n_jobs != 1:
        from joblib import Parallel, delayed
        folds = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_fold_decisions)(X, y, w, tr, te, grid) for tr, te in splits)
    else:
        folds = (_fold_decisions(X, y, w, tr, te, grid) for tr, te in splits)
    if progress:
        from tqdm import tqdm
        folds = tqdm(folds, total=len(splits), desc=f"grouped CV (C in {list(grid)})", unit="fold")
    folds = list(folds)
    oof = {C: np.zeros(len(y)) for C in grid}
    for (_tr, te), fold in zip(splits, folds):
        for C in grid:
            oof[C][te] = fold[C]
    # Per-fold scales differ a little; pooled metrics are what the thresholds will face.
    trusted = np.array([e.trusted for e in examples])
    scores = {C: ranking_metrics(y[trusted], oof[C][trusted]) for C in grid}
    best = max(grid, key=lambda C: (scores[C].get("recall_at_1pct_fpr", 0) + scores[C].get("roc_auc", 0), -C))
    # Calibration and thresholds from trusted labels only (corpora + moderator decisions).
    a, b = _platt(oof[best][trusted], y[trusted])
    oof_p = 1.0 / (1.0 + np.exp(-(a * oof[best] + b)))
    # Thresholds face web comments, not SMS: SMS ham scores far lower than comment ham, so
    # letting it set "1 % of ham" would block several times that share of real comments.
    on_domain = trusted & np.array([e.source != "sms" for e in examples])
    basis = on_domain if np.sum(y[on_domain] == 0) >= MIN_THRESHOLD_HAM else trusted
    thresholds = thresholds_from_validation(y[basis], oof_p[basis])
    pipeline = build_pipeline(C=best).fit(X, y, clf__sample_weight=w)
    model = SpamModel(pipeline, (a, b), {"C": best})
    cv = {"n_splits": n_splits, "grid": {str(C): scores[C] for C in grid}, "chosen_C": best}
    return FitResult(model, thresholds, {"C": best}, y[trusted], oof_p[trusted], cv)


def fit_quick(examples: list[Example]) -> FitResult:
    return fit_with_cv(examples, grid=(QUICK_C,), n_splits=3)


def _inner_fit(examples: list[Example]) -> FitResult:
    """What the outer evaluation splits call: inner 3-fold grouped CV over the C grid."""
    return fit_with_cv(examples, grid=C_GRID, n_splits=3)


def screen_untrusted(trusted_train: list[Example], feedback: list[Example]) -> tuple[list[Example], int]:
    """Drop untrusted (API) reports that a referee trained on trusted data confidently contradicts.

    The referee is a quick model fitted on the corpora + moderator labels only.  An
    API "ham" report of a comment the referee scores at or above its ``discard``
    threshold (or a "spam" report of one it scores below 1 %) is quarantined: it
    stays in the database, where a moderator decision (trusted) can still teach
    the model.  Together with the per-key cap and weight budget this keeps one
    abusive key from flipping verdicts.  Returns (kept, number quarantined).
    """
    untrusted = [e for e in feedback if not e.trusted]
    if not untrusted:
        return feedback, 0
    referee = fit_quick(trusted_train + [e for e in feedback if e.trusted])
    probs = referee.model.predict_proba([e.comment for e in untrusted])
    discard = referee.thresholds["discard"]
    bad = {id(e) for e, p in zip(untrusted, probs) if (e.label == 0 and p >= discard) or (e.label == 1 and p < 0.01)}
    kept = [e for e in feedback if id(e) not in bad]
    if bad:
        log.warning("quarantined %d API feedback reports contradicting the trusted referee", len(bad))
    return kept, len(bad)


def _versions() -> dict[str, str]:
    import joblib
    import scipy
    import sklearn
    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "joblib": joblib.__version__}


def _gate_metrics(model: SpamModel, gate_set: list[Example], spam_threshold: float) -> dict[str, Any]:
    probs = model.predict_proba([e.comment for e in gate_set])
    return full_metrics([e.label for e in gate_set], probs, spam_threshold), probs


def train_and_register(model_dir: str | Path, *, quick: bool = False, from_db_session: Any = None,
                       promote: bool = True, tolerance: float | None = None, cap_per_key: int | None = None,
                       evaluate: bool | None = None, n_jobs: int = 2, progress: bool = True,
                       api_feedback: bool = True) -> dict[str, Any]:
    """Train on the corpora (+ DB feedback), evaluate, register, and promote through the gate.

    Returns the manifest (with ``promoted`` and ``gate_decision``).  ``quick``:
    fixed C, 3-fold calibration, no LOVO/cross-corpus (a few seconds).  ``api_feedback=False``:
    from the DB only moderator decisions, not submit-spam/ham reports.
    """
    from spamguard.config import from_env

    config = from_env()
    tolerance = config["SPAMGUARD_PROMOTE_TOLERANCE"] if tolerance is None else tolerance
    cap_per_key = config["SPAMGUARD_FEEDBACK_CAP_PER_KEY"] if cap_per_key is None else cap_per_key
    evaluate = (not quick) if evaluate is None else evaluate
    started = time.perf_counter()

    corpora = data_mod.load_corpora()
    train, gate_set = data_mod.gate_split(corpora)
    feedback: list[Example] = []
    quarantined = masked = 0
    if from_db_session is not None:
        held_out = data_mod.gate_keys(gate_set)
        feedback = [e for e in data_mod.load_feedback(from_db_session, cap_per_key)
                    if data_mod.text_key(e.text) not in held_out and (api_feedback or e.trusted)]
        feedback, quarantined = screen_untrusted(train, feedback)
        feedback, masked = mask_unsupported(train, feedback, config["SPAMGUARD_REPUTATION_MIN_SITES"])
        train = train + feedback

    if quick:
        result = fit_quick(train)
    else:
        result = fit_with_cv(train, n_jobs=n_jobs, progress=progress)
    gate_result, gate_probs = _gate_metrics(result.model, gate_set, result.thresholds["spam"])
    metrics: dict[str, Any] = {
        "training": {"n_examples": len(train), "n_spam": int(sum(e.label for e in train)),
                     "n_feedback": len(feedback), "n_feedback_quarantined": quarantined,
                     "n_features_masked": masked, "params": result.params, "cv": result.cv},
        "thresholds": result.thresholds,
        "oof": full_metrics(result.oof_y, result.oof_p, result.thresholds["spam"]),
        "gate": gate_result,
    }
    curves = {"out-of-fold": (result.oof_y, result.oof_p),
              "gate set": (np.array([e.label for e in gate_set]), gate_probs)}
    if evaluate:
        metrics["lovo"], metrics["cross_corpus"] = lovo_and_cross_corpus(
            corpora, _inner_fit, n_jobs=n_jobs, progress=progress)
        lovo = metrics["lovo"]
        curves["LOVO pooled"] = (np.concatenate([f["_y"] for f in lovo["folds"]]),
                                 np.concatenate([f["_p"] for f in lovo["folds"]]))
        curves["LOVO baseline"] = (curves["LOVO pooled"][0], np.concatenate([f["_b"] for f in lovo["folds"]]))
    metrics["training"]["seconds"] = time.perf_counter() - started

    digest, size = data_mod.dataset_digest(train)
    gate_digest, _ = data_mod.dataset_digest(gate_set)
    manifest = {
        "created": None, "kind": "quick" if quick else "full",
        "training_data": {"sha256": digest, "bytes": size, "n_examples": len(train), "n_feedback": len(feedback),
                          "n_feedback_quarantined": quarantined, "n_features_masked": masked},
        "gate_set": {"sha256": gate_digest, "n": len(gate_set)},
        "libraries": _versions(), "params": result.params, "thresholds": result.thresholds,
        "metrics": _summary(metrics),
    }
    from datetime import datetime
    manifest["created"] = datetime.now(UTC).isoformat()
    registry = Registry(model_dir)
    version = registry.register(result.model, manifest)
    metrics["version"] = version
    write_report(registry.path(version), metrics, curves)

    # Promotion gate: compare with the current model on the same fixed gate set.
    current = registry.current_version()
    current_metrics = triggers = None
    if current is not None:
        try:
            current_model, current_manifest = registry.load(current)
            current_metrics, _ = _gate_metrics(current_model, gate_set, current_manifest["thresholds"]["spam"])
        except Exception as exc:  # noqa: BLE001 - a broken current model must not block a good candidate
            log.warning("current model %s unusable for the gate (%s); treating as absent", current, exc)
    if current_metrics is not None:  # backdoor check: words that moved toward ham, appended to gate spam
        triggers = trigger_check(current_model, current_manifest["thresholds"]["spam"], result.model,
                                 result.thresholds["spam"], [e.comment for e in gate_set if e.label == 1],
                                 config["SPAMGUARD_TRIGGER_TOLERANCE"])
    ok, why = gate(gate_result, current_metrics, tolerance)
    if ok and triggers is not None and not triggers.passed:
        ok, why = False, f"trigger test: {triggers.reason}"
    promoted = False
    if promote and ok:
        registry.promote(version, reason=f"auto: {why}")
        promoted = True
    decision = {"passed": ok, "reason": why, "compared_with": current, "promoted": promoted,
                "trigger_test": triggers.as_dict() if triggers else None,
                "current_gate_metrics": _pick(current_metrics) if current_metrics else None}
    manifest = registry.update_manifest(version, gate_decision=decision)
    manifest["promoted"] = promoted
    return manifest


def _pick(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in ("n", "n_spam", "roc_auc", "average_precision", "recall_at_1pct_fpr",
                                  "recall_at_0.5pct_fpr")}


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {"oof": _pick(metrics["oof"]), "gate": _pick(metrics["gate"]),
           "gate_at_spam_threshold": metrics["gate"].get("at_spam_threshold"),
           "train_seconds": metrics["training"].get("seconds")}
    if "lovo" in metrics:
        out["lovo_pooled"] = _pick(metrics["lovo"]["pooled"])
        out["lovo_mean_per_video"] = metrics["lovo"]["mean_per_video"]
        out["lovo_pooled_baseline"] = _pick(metrics["lovo"]["pooled_baseline"])
        out["lovo_at_inner_thresholds"] = metrics["lovo"]["pooled"]["at_inner_spam_thresholds"]
    if "cross_corpus" in metrics:
        out["cross_corpus"] = {k: {"model": _pick(v["model"]), "baseline": _pick(v["baseline"])}
                               for k, v in metrics["cross_corpus"].items()}
    return out

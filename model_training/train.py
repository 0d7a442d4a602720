"""Training: leave-one-corpus-out model selection, Platt calibration, worst-corpus thresholds, gate.

Model = ``Pipeline([("features", make_features()), ("clf", LogisticRegression(class_weight="balanced"))])``.
Calibration: a 1-D logistic (Platt) fit on the held-out decision values of every corpus;
each threshold is the highest any held-out corpus needs (``worst_corpus_thresholds``).
"""

from __future__ import annotations

import logging
import platform
import resource
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from model_training import data as data_mod
from model_training import primal
from model_training.compact import CompactMatrix
from model_training.data import Example
from model_training.evaluate import (
    full_metrics,
    out_of_domain_evaluation,
    ranking_metrics,
    threshold_metrics,
    thresholds_from_validation,
    write_report,
)
from model_training.feedback_trust import mask_unsupported, vouched_words
from model_training.gate_checks import trigger_check
from model_training.registry import gate
from model_training.vectorize import FittedUnion
from spamguard.scoring import signals
from spamguard.scoring.model import SpamModel
from spamguard.scoring.registry import Registry
from spamguard.scoring.transformers import make_features

log = logging.getLogger(__name__)

RANDOM_STATE = 20261127
# Regularisation: leave-one-corpus-out prefers strong regularisation (weights that transfer to
# comments unlike the training corpora), and the dual liblinear solver is fast there.
C_GRID = (2.0, 8.0)
QUICK_C = 8.0
CORPUS_WEIGHT_CAP = 2000.0
SITE_WEIGHT_SHARE = 0.10
# One site label is worth up to this many corpus comments: 30 reports of a new campaign must be able to
# outweigh thousands of corpus rows that never saw it (measured: weight 1 learned 0 % of a campaign).
FEEDBACK_WEIGHT = 50.0
# API *ham* reports keep the old, small influence (weight ≤ 1, 2 % per key): whitelisting spam by a
# flood of submit-ham is the poisoning attack; spam reports are checked by the site's implicit
# negatives and the site-ham gate instead.
HAM_REPORT_SHARE = 0.02
MIN_THRESHOLD_HAM = 100  # a held-out corpus needs this much ham to set a threshold
# liblinear's dual solver converges on the corpora in ~50 iterations, but crawls to any cap when heavily
# weighted near-duplicates carry opposite labels (the soak's random moderator decisions on one template:
# 1000 iterations, 16 CPU-s a fit, ~31 fits a retrain, and the answer still off the optimum). The primal
# (trust-region Newton) solves the same strictly convex problem in ~10 iterations whatever the weights, so
# a dual fit not converged within DUAL_MAX_ITER is redone in the primal (bench/retrain_db.py).
DUAL_MAX_ITER = 100
# Memory of one fold fit per nonzero of the matrix: the row subset X[train] (8-byte value + 4-byte
# column) and liblinear's feature_node copy of it (16 bytes).  Parallel fold fits are allowed while
# n_jobs of them stay within PARALLEL_FOLDS_MAX_BYTES (fold_jobs).
FIT_BYTES_PER_NONZERO = 28
PARALLEL_FOLDS_MAX_BYTES = 1 << 30
# Above this many nonzeros (counted before min_df pruning; ~55 k comments of ~360) the matrix is kept
# compact (model_training/compact.py, ~5 B a nonzero) and fitted by the primal solver
# (model_training/primal.py: liblinear's objective, no copies).  liblinear's path holds ~40 B a nonzero
# (float64 CSR, a fit's row subset and liblinear's 16-byte nodes): 0.8 GB here, 14 GB at 1 M comments.
# Below it (the bundled corpora: ~5 M) the liblinear fits stay, so their models are unchanged; the
# primal path costs more CPU (~140 passes over the matrix a fit, where the dual needs ~30-60).
LARGE_NNZ = 20_000_000


@dataclass
class FitResult:
    model: SpamModel
    thresholds: dict[str, float]
    params: dict[str, Any]
    oof_y: np.ndarray
    oof_p: np.ndarray
    cv: dict[str, Any] = field(default_factory=dict)
    # Leave-one-corpus-out: per held-out corpus metrics, plus what evaluation reuses.
    loco: dict[str, Any] = field(default_factory=dict)
    matrix: Any = None
    weights: np.ndarray | None = None
    oof_decision: np.ndarray | None = None
    dual: bool = True  # the final fit converged in the dual (refits on row subsets start from the same solver)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)  # fit_loco's (bench/train_scale.py)


class _Stages(dict[str, dict[str, float]]):
    """Per stage: wall and this process's CPU seconds, and its peak RSS so far (MB)."""

    def __init__(self) -> None:
        super().__init__()
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def mark(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        self[name] = {"wall_s": round(wall - self._wall, 1), "cpu_s": round(cpu - self._cpu, 1), "peak_mb": round(peak)}
        self._wall, self._cpu = wall, cpu


def example_weights(examples: list[Example]) -> np.ndarray:
    """Sample weights.

    * Each corpus weighs in total at most ``CORPUS_WEIGHT_CAP`` examples, so the 9,000 Stack
      Exchange or 5,000 SMS messages do not drown the web-comment corpora (and no corpus's
      quirks dominate what the model learns).
    * Per reporting key, its API spam reports weigh in total at most ``SITE_WEIGHT_SHARE`` of the
      corpus weight, and its implicit negatives as much again (each row up to ``FEEDBACK_WEIGHT``):
      enough for 30 reports to teach a new campaign, while the implicit negatives from the same
      site keep the topic itself ham.  API *ham* reports weigh at most ``HAM_REPORT_SHARE`` in
      total and 1 each, so a submit-ham flood cannot whitelist spam.  Moderator labels weigh
      ``FEEDBACK_WEIGHT``.
    """
    counts = Counter(e.source for e in examples if e.source != "db")
    w = np.array(
        [min(1.0, CORPUS_WEIGHT_CAP / counts[e.source]) if e.source != "db" else FEEDBACK_WEIGHT for e in examples]
    )
    corpus_weight = float(w[[e.source != "db" for e in examples]].sum()) if examples else 0.0

    # Per site, spam reports, ham reports and implicit negatives (load_site_ham) have separate budgets.
    def kind(e: Example) -> str:
        return "implicit" if e.implicit else ("spam" if e.label else "ham")

    per_site = Counter((e.group, kind(e)) for e in examples if e.source == "db" and not e.trusted)
    for i, e in enumerate(examples):
        if e.source == "db" and not e.trusted:
            n = per_site[e.group, kind(e)]
            if kind(e) == "ham":
                w[i] = min(1.0, HAM_REPORT_SHARE * max(corpus_weight, 1.0) / n)
            else:
                w[i] = min(FEEDBACK_WEIGHT, SITE_WEIGHT_SHARE * max(corpus_weight, 1.0) / n)
    return w


def make_classifier(C: float, dual: bool = True) -> LogisticRegression:
    return LogisticRegression(
        C=C,
        class_weight="balanced",
        solver="liblinear",
        dual=dual,
        max_iter=DUAL_MAX_ITER if dual else 1000,
        random_state=RANDOM_STATE,
    )


def fit_classifier(C: float, X: Any, y: np.ndarray, w: np.ndarray, dual: bool = True) -> LogisticRegression:
    """The dual fit when it converges within DUAL_MAX_ITER (the usual case), else the primal one.

    ``dual=False`` goes straight to the primal: for row subsets of data whose full fit needed it.
    """
    if dual:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = make_classifier(C).fit(X, y, sample_weight=w)
        if int(np.max(clf.n_iter_)) < DUAL_MAX_ITER:
            return clf
    return make_classifier(C, dual=False).fit(X, y, sample_weight=w)


def build_pipeline(C: float = QUICK_C, **feature_params: Any) -> Pipeline:
    return Pipeline([("features", make_features(**feature_params)), ("clf", make_classifier(C))])


def _platt(decisions: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    # Pooled on purpose: fitted per held-out corpus and averaged, the intercepts (each fold's model
    # scores its unseen corpus high) put the thresholds at 0.97-0.999 (measured); the pooled slope
    # (~0.33) is what out-of-domain scores support.
    lr = LogisticRegression(C=1e4, solver="lbfgs").fit(decisions.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def loco_folds(examples: list[Example]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(held-out corpus, train rows, test rows): every evaluation corpus once; synthetic and DB rows always train."""
    sources = np.array([e.source for e in examples])
    return [
        (c, np.flatnonzero(sources != c), np.flatnonzero(sources == c))
        for c in data_mod.EVAL_CORPORA
        if (sources == c).any()
    ]


def fit_decisions(
    X: Any,
    y: np.ndarray,
    w: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    grid: Sequence[float],
    dual: bool = True,
) -> dict[float, np.ndarray]:
    """One classifier per C on the training rows; decision values on the test rows."""
    if isinstance(X, CompactMatrix):
        train_rows = np.zeros(len(y), dtype=bool)
        train_rows[train_idx] = True
        return {C: primal_decisions(X, y, w, train_rows, test_idx, C)[0] for C in grid}
    return {
        C: fit_classifier(C, X[train_idx], y[train_idx], w[train_idx], dual).decision_function(X[test_idx])
        for C in grid
    }


def parallel_decisions(
    X: Any,
    y: np.ndarray,
    w: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    grid: Sequence[float],
    n_jobs: int,
) -> list[dict[float, np.ndarray]]:
    n_jobs = fold_jobs(n_jobs, X.nnz)
    if n_jobs == 1 or len(splits) < 2:
        return [fit_decisions(X, y, w, tr, te, grid) for tr, te in splits]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(fit_decisions)(X, y, w, tr, te, grid) for tr, te in splits)


def fold_jobs(n_jobs: int, nnz: int) -> int:
    """How many fold fits run at once: ``n_jobs`` while their copies of the matrix stay small, else 1.

    Each fit holds its training rows twice (``X[train]`` and liblinear's copy of it), so parallel
    workers multiply that memory (at 100 k comments ~1 GB a worker).  Sequential folds give the
    same results: each fit is deterministic.  (Not threads: liblinear's random generator is
    global to the process, so concurrent fits would perturb each other's coordinate order.)
    """
    return n_jobs if n_jobs * FIT_BYTES_PER_NONZERO * nnz <= PARALLEL_FOLDS_MAX_BYTES else 1


def large_decisions(
    X: CompactMatrix,
    y: np.ndarray,
    w: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    grid: Sequence[float],
) -> tuple[list[dict[float, np.ndarray]], dict[float, primal.Solution]]:
    """``parallel_decisions`` by the primal solver, plus the fits on all rows (the final model's).

    Warm starts: each C on all rows from the previous C's solution, each fold from its C's fit on all
    rows (a fold drops one corpus, so the optimum moves a little).  Folds zero the held-out rows' cost.
    """
    full: dict[float, primal.Solution] = {}
    start = None
    for C in sorted(grid):
        full[C] = primal.fit(X, y, primal.row_costs(y, w, C), w0=start)
        start = full[C].w
        log.info("all rows, C=%g: %d Newton steps, %d passes", C, full[C].n_iter, full[C].n_passes)
    results = []
    for tr, te in splits:
        train_rows = np.zeros(len(y), dtype=bool)
        train_rows[tr] = True
        results.append({C: primal_decisions(X, y, w, train_rows, te, C, full[C].w)[0] for C in grid})
    return results, full


def primal_decisions(
    X: CompactMatrix,
    y: np.ndarray,
    w: np.ndarray,
    train_rows: np.ndarray,
    test_idx: np.ndarray,
    C: float,
    w0: np.ndarray | None = None,
) -> tuple[np.ndarray, primal.Solution]:
    """The primal fit on the rows ``train_rows`` (a mask) and its decision values on ``test_idx``."""
    sol = primal.fit(X, y, primal.row_costs(y, w, C, train_rows), w0=w0, train=train_rows)
    log.info("%d training rows, C=%g: %d Newton steps, %d passes", train_rows.sum(), C, sol.n_iter, sol.n_passes)
    return (X.matvec(sol.coef) + sol.intercept)[test_idx], sol


def as_classifier(C: float, sol: primal.Solution, y: np.ndarray) -> LogisticRegression:
    """The primal solution as the fitted LogisticRegression liblinear's primal solver would give."""
    clf = make_classifier(C, dual=False)
    clf.classes_ = np.unique(y)
    clf.coef_ = sol.coef.reshape(1, -1)
    clf.intercept_ = np.array([sol.intercept])
    clf.n_features_in_ = len(sol.coef)
    clf.n_iter_ = np.array([sol.n_iter], dtype=np.int32)
    return clf


def worst_corpus_thresholds(y: np.ndarray, probs: np.ndarray, corpus: np.ndarray) -> dict[str, float]:
    """Each threshold is the highest any held-out corpus needs: the promised FPR holds on the worst one."""
    per = [
        thresholds_from_validation(y[corpus == c], probs[corpus == c])
        for c in np.unique(corpus)
        if np.sum(y[corpus == c] == 0) >= MIN_THRESHOLD_HAM
    ]
    if not per:
        return thresholds_from_validation(y, probs)
    th = {k: max(t[k] for t in per) for k in ("unsure", "spam", "discard")}
    th["spam"] = max(th["spam"], th["unsure"])
    th["discard"] = max(th["discard"], th["spam"])
    return th


def fit_loco(
    examples: list[Example],
    grid: Sequence[float] = C_GRID,
    n_jobs: int = 1,
    progress: bool = False,
    large: bool | None = None,
) -> FitResult:
    """Fit the features once, choose C by leave-one-corpus-out, calibrate and set thresholds on it, refit.

    ``large``: the compact matrix and primal solver (default: above ``LARGE_NNZ`` nonzeros).

    The TF-IDF vocabularies and idf are fitted once on every example (no labels are used); a
    column that only the held-out corpus has gets no weight from the training rows, so this
    shortcut does not leak labels.  C maximises the held-out corpora's mean recall at 1 % FPR
    (then the worst one's).
    """
    stages = _Stages()
    comments = [e.comment for e in examples]
    y = np.array([e.label for e in examples])
    w = example_weights(examples)
    features = make_features()
    fitted = FittedUnion(features, comments)
    del comments
    large = fitted.nnz_bound > LARGE_NNZ if large is None else large
    # = features.fit_transform(comments).tocsr(), in bounded memory; or the same rows compact
    X = fitted.compact(threads=n_jobs) if large else fitted.csr()
    del fitted
    stages.mark("features")
    folds = loco_folds(examples)
    if progress:
        log.info("leave-one-corpus-out: %d folds x C in %s%s", len(folds), list(grid), " (compact)" * large)
    if large:
        results, full = large_decisions(X, y, w, [(tr, te) for _, tr, te in folds], grid)
    else:
        results = parallel_decisions(X, y, w, [(tr, te) for _, tr, te in folds], grid, n_jobs)
    stages.mark("folds")
    rows = np.concatenate([te for _, _, te in folds])
    corpus = np.array([examples[i].source for i in rows])
    yo = y[rows]
    dec = {C: np.concatenate([r[C] for r in results]) for C in grid}

    def per_corpus(scores: np.ndarray) -> dict[str, dict[str, Any]]:
        return {c: ranking_metrics(yo[corpus == c], scores[corpus == c]) for c in np.unique(corpus)}

    scores = {C: per_corpus(dec[C]) for C in grid}

    def rank(C: float) -> tuple[float, float, float, float]:
        # Mean over held-out corpora (each counts once) first: the worst corpus alone (Instagram, recall
        # ≈ 0.05 at any C) decided C by differences of one comment and cost the others a third of their recall.
        with_spam = [m for m in scores[C].values() if "recall_at_1pct_fpr" in m]
        recalls = [m["recall_at_1pct_fpr"] for m in with_spam]
        return (
            float(np.mean(recalls)) if recalls else 0.0,
            min(recalls, default=0.0),
            float(np.mean([m["roc_auc"] for m in with_spam])) if with_spam else 0.0,
            -C,
        )

    best = max(grid, key=rank)
    a, b = _platt(dec[best], yo)
    probs = 1.0 / (1.0 + np.exp(-(a * dec[best] + b)))
    thresholds = worst_corpus_thresholds(yo, probs, corpus)
    clf = as_classifier(best, full[best], y) if large else fit_classifier(best, X, y, w)
    apply_priors(features, clf, X, a)
    model = SpamModel(Pipeline([("features", features), ("clf", clf)]), (a, b), {"C": best})
    loco = {
        c: {
            **scores[best][c],
            "at_shipped_thresholds": threshold_metrics(yo[corpus == c], probs[corpus == c], thresholds["spam"]),
            "_y": yo[corpus == c],
            "_p": probs[corpus == c],
            "_rows": rows[corpus == c],
        }
        for c in np.unique(corpus)
    }
    cv = {"protocol": "leave-one-corpus-out", "grid": {str(C): scores[C] for C in grid}, "chosen_C": best}
    oof_dec = np.full(len(y), np.nan)
    oof_dec[rows] = dec[best]
    stages.mark("final")
    return FitResult(model, thresholds, {"C": best}, yo, probs, cv, loco, X, w, oof_dec, bool(clf.dual), stages)


def apply_priors(features: Any, clf: LogisticRegression, X: Any, platt_slope: float) -> dict[str, float]:
    """Give request-signal features with too little labelled support their documented prior (signals.py).

    Priors are logits; the classifier's decision is scaled by the Platt slope, hence the division.
    Returns the features that got their prior.
    """
    meta = dict(features.transformer_list).get("meta")
    if meta is None or platt_slope <= 0:
        return {}
    offset = X.shape[1] - len(meta.vocabulary_)  # meta is the union's last block
    if isinstance(X, CompactMatrix):
        support = X.column_support(offset)
    else:
        support = np.asarray((X[:, offset:] != 0).sum(axis=0)).ravel()
    applied = {}
    for name, prior in signals.PRIORS.items():
        i = meta.vocabulary_.get(name)
        if i is not None and support[i] < signals.MIN_SUPPORT:
            clf.coef_[0, offset + i] = prior / platt_slope * meta.scale_[i]
            applied[name] = prior
    return applied


def fit_quick(examples: list[Example]) -> FitResult:
    return fit_loco(examples, grid=(QUICK_C,))


def screen_untrusted(trusted_train: list[Example], feedback: list[Example]) -> tuple[list[Example], int]:
    """Drop untrusted (API) reports that a referee trained on trusted data confidently contradicts.

    The referee is a quick model fitted on the corpora + moderator labels only.  An
    API "ham" report of a comment the referee scores at or above its ``spam``
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
    # Worst-corpus thresholds: "spam" already blocks ≤ 1 % of the ham of a corpus the referee never saw.
    spam = referee.thresholds["spam"]
    bad = {id(e) for e, p in zip(untrusted, probs) if (e.label == 0 and p >= spam) or (e.label == 1 and p < 0.01)}
    kept = [e for e in feedback if id(e) not in bad]
    if bad:
        log.warning("quarantined %d API feedback reports contradicting the trusted referee", len(bad))
    return kept, len(bad)


def _versions() -> dict[str, str]:
    import joblib
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


def _gate_metrics(model: SpamModel, gate_set: list[Example], spam_threshold: float) -> dict[str, Any]:
    probs = model.predict_proba([e.comment for e in gate_set])
    return full_metrics([e.label for e in gate_set], probs, spam_threshold), probs


def train_and_register(
    model_dir: str | Path,
    *,
    quick: bool = False,
    from_db_session: Any = None,
    promote: bool = True,
    tolerance: float | None = None,
    cap_per_key: int | None = None,
    evaluate: bool | None = None,
    n_jobs: int = 2,
    progress: bool = True,
    api_feedback: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
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
    site_ham: list[Example] = []
    quarantined = masked = 0
    if from_db_session is not None:
        held_out = data_mod.gate_keys(gate_set)
        feedback = [
            e
            for e in data_mod.load_feedback(from_db_session, cap_per_key)
            if data_mod.text_key(e.text) not in held_out and (api_feedback or e.trusted)
        ]
        reporting = {int(e.group.split(":", 1)[1]) for e in feedback if e.label == 1}
        implicit, site_ham = data_mod.load_site_ham(
            from_db_session, reporting, now or datetime.now(UTC), config["SPAMGUARD_IMPLICIT_HAM_DAYS"], cap_per_key
        )
        feedback, quarantined = screen_untrusted(train, feedback + implicit)
        feedback, masked = mask_unsupported(train, feedback)
        train = train + feedback

    if quick:
        result = fit_quick(train)
    else:
        result = fit_loco(train, n_jobs=n_jobs, progress=progress)
    gate_result, gate_probs = _gate_metrics(result.model, gate_set, result.thresholds["spam"])
    metrics: dict[str, Any] = {
        "training": {
            "n_examples": len(train),
            "n_spam": int(sum(e.label for e in train)),
            "n_feedback": len(feedback),
            "n_feedback_quarantined": quarantined,
            "n_features_masked": masked,
            "params": result.params,
            "cv": result.cv,
            "corpora": dict(Counter(f"{e.source}:{'spam' if e.label else 'ham'}" for e in train)),
        },
        "thresholds": result.thresholds,
        "oof": full_metrics(result.oof_y, result.oof_p, result.thresholds["spam"]),
        "loco": result.loco,
        "gate": gate_result,
    }
    gate_result["loco_worst_recall_at_1pct_fpr"] = loco_worst(result.loco)
    curves = {
        "leave-one-corpus-out": (result.oof_y, result.oof_p),
        "gate set": (np.array([e.label for e in gate_set]), gate_probs),
    }
    if evaluate:
        metrics["evaluation"] = out_of_domain_evaluation(train, result, n_jobs=n_jobs)
        base = metrics["evaluation"]["loco_baseline_pooled"]
        curves["leave-one-corpus-out baseline"] = (np.asarray(base["_y"]), np.asarray(base["_b"]))
    metrics["training"]["seconds"] = time.perf_counter() - started

    digest, size = data_mod.dataset_digest(train)
    gate_digest, _ = data_mod.dataset_digest(gate_set)
    manifest = {
        "created": None,
        "kind": "quick" if quick else "full",
        "training_data": {
            "sha256": digest,
            "bytes": size,
            "n_examples": len(train),
            "n_feedback": len(feedback),
            "n_feedback_quarantined": quarantined,
            "n_features_masked": masked,
        },
        "gate_set": {"sha256": gate_digest, "n": len(gate_set)},
        "libraries": _versions(),
        "params": result.params,
        "thresholds": result.thresholds,
        "metrics": _summary(metrics),
    }
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
            stored = current_manifest.get("metrics", {}).get("loco_worst_recall_at_1pct_fpr")
            if stored is not None:
                current_metrics["loco_worst_recall_at_1pct_fpr"] = stored
        except Exception as exc:  # noqa: BLE001 - a broken current model must not block a good candidate
            log.warning("current model %s unusable for the gate (%s); treating as absent", current, exc)
    if current_metrics is not None:  # backdoor check: words that moved toward ham, appended to gate spam
        triggers = trigger_check(
            current_model,
            current_manifest["thresholds"]["spam"],
            result.model,
            result.thresholds["spam"],
            [e.comment for e in gate_set if e.label == 1],
            config["SPAMGUARD_TRIGGER_TOLERANCE"],
            exempt=frozenset(vouched_words(feedback)),
        )
    ok, why = gate(gate_result, current_metrics, tolerance)
    if ok and triggers is not None and not triggers.passed:
        ok, why = False, f"trigger test: {triggers.reason}"
    site_ok, site_why = site_ham_gate(result, result.thresholds["spam"], site_ham, registry, current)
    if not site_ok:
        ok, why = False, (f"{why}; {site_why}" if not ok else site_why)
    promoted = False
    if promote and ok:
        registry.promote(version, reason=f"auto: {why}")
        promoted = True
    decision = {
        "passed": ok,
        "reason": why,
        "compared_with": current,
        "promoted": promoted,
        "trigger_test": triggers.as_dict() if triggers else None,
        "current_gate_metrics": _pick(current_metrics) if current_metrics else None,
    }
    manifest = registry.update_manifest(version, gate_decision=decision)
    manifest["promoted"] = promoted
    return manifest


def site_ham_gate(
    result: FitResult, spam_threshold: float, site_ham: list[Example], registry: Registry, current: str | None
) -> tuple[bool, str]:
    """Refuse a candidate that newly blocks the reporting sites' recent, unreported ham.

    "Newly": at the candidate's spam threshold but not at the current model's (when there is
    one).  More than 1 % of that ham (and at least 2 comments) newly blocked fails the gate.
    """
    if not site_ham:
        return True, "no recent site ham"
    comments = [e.comment for e in site_ham]
    blocked = result.model.predict_proba(comments) >= spam_threshold
    if current is not None:
        try:
            current_model, manifest = registry.load(current)
            blocked &= current_model.predict_proba(comments) < manifest["thresholds"]["spam"]
        except Exception as exc:  # noqa: BLE001 - as for the main gate
            log.warning("current model %s unusable for the site-ham gate (%s)", current, exc)
    n = int(blocked.sum())
    if n >= 2 and n > 0.01 * len(site_ham):
        return False, f"would newly block {n} of {len(site_ham)} recent unreported comments of the reporting sites"
    return True, f"newly blocks {n} of {len(site_ham)} recent site ham"


def _pick(m: dict[str, Any]) -> dict[str, Any]:
    return {
        k: m.get(k)
        for k in ("n", "n_spam", "roc_auc", "average_precision", "recall_at_1pct_fpr", "recall_at_0.5pct_fpr")
    }


def loco_worst(loco: dict[str, Any]) -> float:
    """The worst held-out corpus's recall at 1 % FPR (corpora with spam only): the gate's out-of-domain number."""
    values = [m["recall_at_1pct_fpr"] for m in loco.values() if "recall_at_1pct_fpr" in m]
    return float(min(values)) if values else float("nan")


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {
        "oof": _pick(metrics["oof"]),
        "gate": _pick(metrics["gate"]),
        "gate_at_spam_threshold": metrics["gate"].get("at_spam_threshold"),
        "train_seconds": metrics["training"].get("seconds"),
        "loco_worst_recall_at_1pct_fpr": loco_worst(metrics["loco"]),
        "loco": {
            c: {
                **_pick(m),
                "ham_blocked_at_spam_threshold": m["at_shipped_thresholds"]["fpr"],
                "recall_at_spam_threshold": m["at_shipped_thresholds"]["recall"],
            }
            for c, m in metrics["loco"].items()
        },
    }
    if "evaluation" in metrics:
        ev = metrics["evaluation"]
        out["loco_nested"] = {
            c: {k: v for k, v in m.items() if not k.startswith("_")} for c, m in ev["loco_nested"].items()
        }
        out["loco_baseline"] = {c: _pick(m) for c, m in ev["loco_baseline"].items()}
        out["loco_length_only"] = {c: _pick(m) for c, m in ev["loco_length_only"].items()}
        out["lovo_pooled"] = _pick(ev["lovo"]["pooled"])
        out["lovo_pooled_baseline"] = _pick(ev["lovo"]["pooled_baseline"])
    return out

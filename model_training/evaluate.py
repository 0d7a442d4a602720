"""Evaluation: metrics, nested leave-one-corpus-out, leave-one-video-out, baselines, report and plots.

Honesty rules: data is deduplicated before any split; splits are by corpus (or video);
calibration and thresholds for a held-out corpus come from an *inner* leave-one-corpus-out
over the other corpora only; the held-out corpus is scored once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from model_training.data import Example


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, max_fpr: float) -> float:
    """Best recall reachable while the false-positive rate stays ≤ max_fpr (curve-based)."""
    y = np.asarray(y)
    if y.min() == y.max():
        return float("nan")
    # Every operating point: the default drops collinear ones, which are real cut-offs with more recall.
    fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=False)
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def ranking_metrics(y: Any, scores: Any) -> dict[str, float]:
    y, scores = np.asarray(y), np.asarray(scores, dtype=float)
    if y.min() == y.max():
        return {"n": len(y), "n_spam": int(y.sum())}
    return {
        "n": len(y),
        "n_spam": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
        "recall_at_1pct_fpr": recall_at_fpr(y, scores, 0.01),
        "recall_at_0.5pct_fpr": recall_at_fpr(y, scores, 0.005),
    }


def threshold_metrics(y: Any, probs: Any, threshold: float) -> dict[str, Any]:
    y, pred = np.asarray(y), (np.asarray(probs) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "threshold": float(threshold),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(y, pred)) if len(set(y)) > 1 else float("nan"),
        "fpr": float(fp / max(fp + tn, 1)),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


def full_metrics(y: Any, probs: Any, threshold: float) -> dict[str, Any]:
    return {**ranking_metrics(y, probs), "at_spam_threshold": threshold_metrics(y, probs, threshold)}


def thresholds_from_validation(
    y: Any, probs: Any, spam_fpr: float = 0.01, discard_fpr: float = 0.001, unsure_fpr: float = 0.05
) -> dict[str, float]:
    """Thresholds from out-of-fold validation probabilities.

    ``spam``: lowest probability at which at most 1 % of validation ham is ≥ it;
    ``discard``: the same at 0.1 %; ``unsure``: the same at 5 % (the band
    [unsure, spam) goes to the moderation queue).  Ordered unsure ≤ spam ≤ discard.
    """
    y, probs = np.asarray(y), np.asarray(probs, dtype=float)
    ham = np.sort(probs[y == 0])[::-1]

    def at(rate: float) -> float:
        k = int(np.floor(rate * len(ham)))
        if len(ham) == 0:
            return 0.5
        return float(min(np.nextafter(ham[min(k, len(ham) - 1)], 2.0), 1.0))

    unsure, spam, discard = at(unsure_fpr), at(spam_fpr), at(discard_fpr)
    spam = max(spam, unsure)
    discard = max(discard, spam)
    return {"unsure": unsure, "spam": spam, "discard": discard}


# --------------------------------------------------------------------------- protocols


def baseline_scores(
    train: list[Example], test: list[Example], random_state: int = 0, weights: np.ndarray | None = None
) -> np.ndarray:
    """Plain word TF-IDF + LogisticRegression on the raw (normalised) content."""
    vec = TfidfVectorizer()
    X = vec.fit_transform([e.text for e in train])
    clf = LogisticRegression(max_iter=2000, random_state=random_state).fit(
        X, [e.label for e in train], sample_weight=weights
    )
    return clf.decision_function(vec.transform([e.text for e in test]))


def length_only_scores(train: list[Example], test: list[Example], weights: np.ndarray | None = None) -> np.ndarray:
    """A leak check: logistic regression on log(length) alone (with its square, so 'medium' can win)."""

    def feats(exs: list[Example]) -> np.ndarray:
        n = np.log1p([len(e.text) for e in exs])
        return np.column_stack([n, n**2])

    clf = LogisticRegression(max_iter=1000).fit(feats(train), [e.label for e in train], sample_weight=weights)
    return clf.decision_function(feats(test))


def _baselines_for_fold(train: list[Example], test: list[Example], w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return baseline_scores(train, test, weights=w), length_only_scores(train, test, weights=w)


def out_of_domain_evaluation(examples: list[Example], result: Any, n_jobs: int = 2) -> dict[str, Any]:
    """What ``model train`` (full) adds to the report, all reusing the fitted feature matrix:

    * ``loco_nested``: for each held-out corpus, calibration and thresholds chosen by an *inner*
      leave-one-corpus-out over the other corpora only; the held-out corpus's ham blocked and spam
      caught at that threshold is the honest estimate of what a new kind of site will see;
    * ``loco_baseline`` / ``loco_length_only``: word TF-IDF + LR and a length-only model on the same folds;
    * ``lovo``: leave-one-video-out within YouTube (the old headline), model and baseline.
    """
    from joblib import Parallel, delayed

    from model_training.train import _platt, fit_decisions, loco_folds, worst_corpus_thresholds

    X, w, C = result.matrix, result.weights, result.params["C"]
    y = np.array([e.label for e in examples])
    sources = np.array([e.source for e in examples])
    folds = loco_folds(examples)
    names = [c for c, _, _ in folds]
    # Inner folds: (outer, inner) -> train on everything but both, score the inner corpus.
    inner = [(o, i) for o in names for i in names if i != o]
    splits = [(np.flatnonzero((sources != o) & (sources != i)), np.flatnonzero(sources == i)) for o, i in inner]
    videos = sorted({e.group for e in examples if e.source == "youtube"})
    groups = np.array([e.group for e in examples])
    splits += [(np.flatnonzero(groups != v), np.flatnonzero(groups == v)) for v in videos]
    jobs = [delayed(fit_decisions)(X, y, w, tr, te, (C,), result.dual) for tr, te in splits]
    jobs += [
        delayed(_baselines_for_fold)([examples[j] for j in tr], [examples[j] for j in te], w[tr]) for _, tr, te in folds
    ]
    jobs += [
        delayed(baseline_scores)(
            [e for e in examples if e.group != v], [e for e in examples if e.group == v], weights=w[groups != v]
        )
        for v in videos
    ]
    out = Parallel(n_jobs=n_jobs)(jobs)
    inner_dec, lovo_dec = out[: len(inner)], out[len(inner) : len(splits)]
    base_loco, base_lovo = out[len(splits) : len(splits) + len(folds)], out[len(splits) + len(folds) :]

    nested = {}
    for o, _, te in folds:
        pairs = [(i, d[C]) for (oo, i), d in zip(inner, inner_dec) if oo == o]
        d_in = np.concatenate([d for _, d in pairs])
        y_in = np.concatenate([y[sources == i] for i, _ in pairs])
        c_in = np.concatenate([np.full(int(np.sum(sources == i)), i) for i, _ in pairs])
        if y_in.min() == y_in.max():
            continue
        a, b = _platt(d_in, y_in)
        p_in = 1.0 / (1.0 + np.exp(-(a * d_in + b)))
        th = worst_corpus_thresholds(y_in, p_in, c_in)
        p_out = 1.0 / (1.0 + np.exp(-(a * result.oof_decision[te] + b)))
        at = threshold_metrics(y[te], p_out, th["spam"])
        nested[o] = {
            "inner_thresholds": th,
            "ham_blocked_at_spam_threshold": at["fpr"],
            "recall_at_spam_threshold": at["recall"],
            "ham_blocked_at_unsure_threshold": threshold_metrics(y[te], p_out, th["unsure"])["fpr"],
        }
    loco_baseline = {c: ranking_metrics(y[te], b[0]) for (c, _, te), b in zip(folds, base_loco)}
    loco_length = {c: ranking_metrics(y[te], b[1]) for (c, _, te), b in zip(folds, base_loco)}
    a, b = result.model.a, result.model.b
    lovo_y = np.concatenate([y[groups == v] for v in videos]) if videos else np.array([])
    lovo_p = np.concatenate([d[C] for d in lovo_dec]) if videos else np.array([])
    lovo_b = np.concatenate(base_lovo) if videos else np.array([])
    lovo = {
        "folds": [
            {"name": v, "model": ranking_metrics(y[groups == v], d[C]), "baseline": ranking_metrics(y[groups == v], bb)}
            for v, d, bb in zip(videos, lovo_dec, base_lovo)
        ],
        "pooled": ranking_metrics(lovo_y, a * lovo_p + b) if videos else {},
        "pooled_baseline": ranking_metrics(lovo_y, lovo_b) if videos else {},
    }
    all_te = np.concatenate([te for _, _, te in folds])
    # Baseline scores are per-fold logits: pooled only for the curve, never for a threshold.
    pooled_b = np.concatenate([b[0] for b in base_loco])
    return {
        "loco_nested": nested,
        "loco_baseline": loco_baseline,
        "loco_length_only": loco_length,
        "lovo": lovo,
        "loco_baseline_pooled": {**ranking_metrics(y[all_te], pooled_b), "_y": y[all_te], "_b": pooled_b},
    }


# --------------------------------------------------------------------------- outputs


def _strip_private(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_private(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_strip_private(v) for v in obj]
    return obj


def plot_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], out_dir: Path) -> bool:
    """roc.png and pr.png, one line per named (y, score) pair; False when matplotlib (extra `plots`) is absent."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, (y, s) in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
    ax.axvline(0.01, color="grey", ls=":", lw=1)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(0, 1)
    ax.set_xlabel("false-positive rate (ham blocked)")
    ax.set_ylabel("recall (spam caught)")
    ax.set_title("ROC")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out_dir / "roc.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, (y, s) in curves.items():
        prec, rec, _ = precision_recall_curve(y, s)
        ax.plot(rec, prec, label=f"{name} (AP {average_precision_score(y, s):.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out_dir / "pr.png", dpi=110)
    plt.close(fig)
    return True


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def write_report(out_dir: Path, metrics: dict[str, Any], curves: dict[str, tuple[Any, Any]]) -> None:
    out_dir = Path(out_dir)
    clean = _strip_private(metrics)
    (out_dir / "metrics.json").write_text(json.dumps(clean, indent=2, sort_keys=True, default=float))
    plotted = plot_curves({k: (np.asarray(y), np.asarray(s)) for k, (y, s) in curves.items()}, out_dir)
    tr = metrics["training"]
    lines = [f"# Model report {metrics.get('version', '')}", ""]
    lines += [
        (
            f"Trained on {tr['n_examples']} deduplicated examples ({tr['n_spam']} spam); "
            f"params {tr['params']}; wall time {tr.get('seconds', 0):.1f}s."
        ),
        "",
        "Training rows per corpus: " + ", ".join(f"{k} {v}" for k, v in sorted(tr.get("corpora", {}).items())),
        "",
    ]
    th = metrics["thresholds"]
    lines += [
        "## Thresholds (leave-one-corpus-out, worst held-out corpus)",
        "",
        (
            f"unsure ≥ {th['unsure']:.4f} (≤5 % ham on every held-out corpus), spam ≥ {th['spam']:.4f} (≤1 %), "
            f"discard ≥ {th['discard']:.4f} (≤0.1 %)."
        ),
        "",
    ]
    ev = metrics.get("evaluation", {})
    lines += [
        "## Headline: leave-one-corpus-out (train on every other corpus, score the held-out one)",
        "",
        "| held-out corpus | n | spam | ROC-AUC | recall@1%FPR | ham blocked @spam thr. | recall @spam thr. | "
        "nested: ham blocked | nested: recall | baseline AUC | baseline recall@1%FPR | length-only AUC |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c, m in metrics["loco"].items():
        at = m["at_shipped_thresholds"]
        nest = ev.get("loco_nested", {}).get(c, {})
        base = ev.get("loco_baseline", {}).get(c, {})
        length = ev.get("loco_length_only", {}).get(c, {})
        lines.append(
            f"| {c} | {m.get('n')} | {m.get('n_spam')} | {_fmt(m.get('roc_auc', '-'))} | "
            f"{_fmt(m.get('recall_at_1pct_fpr', '-'))} | {_fmt(at['fpr'])} | "
            f"{_fmt(at['recall']) if m.get('n_spam') else '-'} | "
            f"{_fmt(nest.get('ham_blocked_at_spam_threshold', '-'))} | "
            f"{_fmt(nest.get('recall_at_spam_threshold', '-')) if m.get('n_spam') else '-'} | "
            f"{_fmt(base.get('roc_auc', '-'))} | {_fmt(base.get('recall_at_1pct_fpr', '-'))} | "
            f"{_fmt(length.get('roc_auc', '-'))} |"
        )
    lines += [
        "",
        (
            "*ham blocked / recall @spam thr.*: the shipped thresholds applied to the held-out scores they were "
            "chosen on (so ≤ 1 % by construction). *nested*: thresholds chosen by an inner leave-one-corpus-out "
            "that never saw the held-out corpus: what a new kind of site can expect. Baseline: word TF-IDF + "
            "logistic regression on the same folds; length-only: logistic regression on comment length alone "
            "(a leak check). Stack Exchange is ham only: AUC and recall do not apply."
        ),
        "",
    ]
    rows = [("fixed gate set", metrics["gate"])]
    if "lovo" in ev:
        rows.append(("YouTube leave-one-video-out, pooled", ev["lovo"]["pooled"]))
        rows.append(("YouTube leave-one-video-out, pooled, baseline", ev["lovo"]["pooled_baseline"]))
    lines += [
        "## In-domain checks",
        "",
        "| set | n | spam | ROC-AUC | AP | recall@1%FPR | recall@0.5%FPR |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in rows:
        lines.append(
            f"| {name} | {m.get('n')} | {m.get('n_spam')} | {_fmt(m.get('roc_auc'))} | "
            f"{_fmt(m.get('average_precision'))} | {_fmt(m.get('recall_at_1pct_fpr'))} | "
            f"{_fmt(m.get('recall_at_0.5pct_fpr'))} |"
        )
    g = metrics["gate"].get("at_spam_threshold")
    if g:
        c = g["confusion"]
        lines += [
            "",
            (
                f"Gate set at the spam threshold: precision {_fmt(g['precision'])}, recall {_fmt(g['recall'])}, "
                f"ham blocked {_fmt(g['fpr'])} (tn/fp/fn/tp {c['tn']}/{c['fp']}/{c['fn']}/{c['tp']})."
            ),
        ]
    if "lovo" in ev:
        lines += [
            "",
            "| held-out video | ROC-AUC | recall@1%FPR | baseline AUC | baseline recall@1%FPR |",
            "|---|---|---|---|---|",
        ]
        for f in ev["lovo"]["folds"]:
            m, b = f["model"], f["baseline"]
            lines.append(
                f"| {f['name']} | {_fmt(m.get('roc_auc'))} | {_fmt(m.get('recall_at_1pct_fpr'))} | "
                f"{_fmt(b.get('roc_auc'))} | {_fmt(b.get('recall_at_1pct_fpr'))} |"
            )
    lines += [
        "",
        (
            "Protocol: every corpus deduplicated on normalised text (across corpora) before any split; the "
            "gate set is a fixed hash-selected 20 % of the real corpora that no model trains on. Synthetic "
            "spintax spam and site feedback only ever train. C, Platt calibration and thresholds come from "
            "leave-one-corpus-out on the training part; TF-IDF vocabularies are fitted once without labels."
        ),
        "",
        (
            "![ROC](roc.png) ![PR](pr.png)"
            if plotted
            else "(No plots: install the `plots` extra, `pip install spamguard[plots]`.)"
        ),
        "",
    ]
    (out_dir / "report.md").write_text("\n".join(lines))


def evaluate_version(model_dir: str | Path, version: str | None = None) -> dict[str, Any]:
    """Score a registered version on the fixed gate set (what `spamguard model evaluate` prints)."""
    from model_training.data import gate_split, load_corpora
    from spamguard.scoring.registry import Registry

    registry = Registry(model_dir)
    version = version or registry.current_version()
    model, manifest = registry.load(version)
    _, gate = gate_split(load_corpora())
    t = time.perf_counter()
    probs = model.predict_proba([e.comment for e in gate])
    result = full_metrics([e.label for e in gate], probs, manifest["thresholds"]["spam"])
    result["seconds"] = time.perf_counter() - t
    # Ham blocked per corpus at the shipped thresholds (these corpora were seen in training: in-domain).
    sources = np.array([e.source for e in gate])
    y = np.array([e.label for e in gate])
    result["per_corpus_at_spam_threshold"] = {
        c: {
            "ham_blocked": float(np.mean(probs[(sources == c) & (y == 0)] >= manifest["thresholds"]["spam"])),
            "recall": (
                float(np.mean(probs[(sources == c) & (y == 1)] >= manifest["thresholds"]["spam"]))
                if np.any((sources == c) & (y == 1))
                else None
            ),
        }
        for c in sorted(set(sources))
    }
    return {"version": version, "gate": result, "stored": manifest.get("metrics", {})}

"""Evaluation: metrics, leave-one-video-out, cross-corpus, baseline, report and plots.

Honesty rules: data is deduplicated before any split; splits are grouped;
hyper-parameters, calibration and thresholds come from *inner* grouped CV on
the training part only; the held-out fold is scored once.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
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
    fpr, tpr, _ = roc_curve(y, scores)
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def ranking_metrics(y: Any, scores: Any) -> dict[str, float]:
    y, scores = np.asarray(y), np.asarray(scores, dtype=float)
    if y.min() == y.max():
        return {"n": len(y), "n_spam": int(y.sum())}
    return {
        "n": len(y), "n_spam": int(y.sum()),
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


def thresholds_from_validation(y: Any, probs: Any, spam_fpr: float = 0.01, discard_fpr: float = 0.001,
                               unsure_fpr: float = 0.05) -> dict[str, float]:
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

def baseline_scores(train: list[Example], test: list[Example], random_state: int = 0) -> np.ndarray:
    """Plain word TF-IDF + LogisticRegression on the raw (normalised) content."""
    vec = TfidfVectorizer()
    X = vec.fit_transform([e.text for e in train])
    clf = LogisticRegression(max_iter=2000, random_state=random_state).fit(X, [e.label for e in train])
    return clf.decision_function(vec.transform([e.text for e in test]))


def run_split(name: str, train: list[Example], test: list[Example], fit: Callable[..., Any]) -> dict[str, Any]:
    """Fit with inner CV on `train` only, score `test` once; model + baseline metrics."""
    result = fit(train)
    probs = result.model.predict_proba([e.comment for e in test])
    y = np.array([e.label for e in test])
    base = baseline_scores(train, test)
    return {
        "name": name,
        "n_train": len(train),
        "chosen_params": result.params,
        "inner_thresholds": result.thresholds,
        "model": full_metrics(y, probs, result.thresholds["spam"]),
        "baseline": ranking_metrics(y, base),
        "_y": y.tolist(), "_p": probs.tolist(), "_b": base.tolist(),
    }


def _lovo_splits(examples: list[Example]) -> list[tuple[str, list[Example], list[Example]]]:
    videos = sorted({e.group for e in examples if e.source == "youtube"})
    return [(v, [e for e in examples if e.group != v], [e for e in examples if e.group == v]) for v in videos]


def _cross_splits(examples: list[Example]) -> list[tuple[str, list[Example], list[Example]]]:
    yt = [e for e in examples if e.source == "youtube"]
    sms = [e for e in examples if e.source == "sms"]
    return [("youtube_to_sms", yt, sms), ("sms_to_youtube", sms, yt)]


def _run_all(splits: list[tuple[str, list[Example], list[Example]]], fit: Callable[..., Any], n_jobs: int,
             progress: bool, desc: str) -> list[dict[str, Any]]:
    from joblib import Parallel, delayed

    # Largest training sets first so the two workers finish together.
    order = sorted(range(len(splits)), key=lambda i: -len(splits[i][1]))
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(run_split)(*splits[i], fit) for i in order)
    if progress:
        from tqdm import tqdm
        results = tqdm(results, total=len(splits), desc=desc, unit="split")
    out: list[dict[str, Any]] = [None] * len(splits)  # type: ignore[list-item]
    for i, res in zip(order, results):
        out[i] = res
    return out


def _summarise_lovo(folds: list[dict[str, Any]]) -> dict[str, Any]:
    y = np.concatenate([f["_y"] for f in folds])
    p = np.concatenate([f["_p"] for f in folds])
    b = np.concatenate([f["_b"] for f in folds])
    # Pooled at each fold's own (inner-validated) threshold.
    pred = np.concatenate([np.asarray(f["_p"]) >= f["inner_thresholds"]["spam"] for f in folds]).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    pooled = {
        **ranking_metrics(y, p),
        "at_inner_spam_thresholds": {"recall": float(tp / max(tp + fn, 1)), "fpr": float(fp / max(fp + tn, 1)),
                                     "precision": float(tp / max(tp + fp, 1)),
                                     "mcc": float(matthews_corrcoef(y, pred)), "f1": float(f1_score(y, pred)),
                                     "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}},
    }
    keys = ("roc_auc", "recall_at_1pct_fpr", "recall_at_0.5pct_fpr")
    return {"folds": folds, "pooled": pooled, "pooled_baseline": ranking_metrics(y, b),
            "mean_per_video": {k: float(np.mean([f["model"][k] for f in folds])) for k in keys},
            "mean_per_video_baseline": {k: float(np.mean([f["baseline"][k] for f in folds])) for k in keys}}


def lovo_and_cross_corpus(examples: list[Example], fit: Callable[..., Any], n_jobs: int = 2,
                          progress: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both protocols in one parallel batch (7 fits with inner CV)."""
    lovo, cross = _lovo_splits(examples), _cross_splits(examples)
    results = _run_all(lovo + cross, fit, n_jobs, progress, "evaluation (LOVO + cross-corpus)")
    return (_summarise_lovo(results[:len(lovo)]),
            {s[0]: r for s, r in zip(cross, results[len(lovo):])})


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
    (out_dir / "metrics.json").write_text(json.dumps(clean, indent=2, sort_keys=True))
    plotted = plot_curves({k: (np.asarray(y), np.asarray(s)) for k, (y, s) in curves.items()}, out_dir)
    lines = [f"# Model report {metrics.get('version', '')}", ""]
    lines += [(f"Trained on {metrics['training']['n_examples']} deduplicated examples "
               f"({metrics['training']['n_spam']} spam); params {metrics['training']['params']}; "
               f"wall time {metrics['training'].get('seconds', 0):.1f}s."), ""]
    th = metrics["thresholds"]
    lines += ["## Thresholds (grouped out-of-fold validation, comment ham only: SMS ham excluded)", "",
              (f"unsure ≥ {th['unsure']:.4f} (≈5 % validation ham FPR), spam ≥ {th['spam']:.4f} (≤1 %), "
               f"discard ≥ {th['discard']:.4f} (≤0.1 %)."), ""]
    rows = [("out-of-fold (training)", metrics["oof"]), ("fixed gate set", metrics["gate"])]
    if "lovo" in metrics:
        rows.append(("LOVO pooled", metrics["lovo"]["pooled"]))
        rows.append(("LOVO pooled baseline (word tf-idf + LR)", metrics["lovo"]["pooled_baseline"]))
    if "cross_corpus" in metrics:
        for key, res in metrics["cross_corpus"].items():
            rows.append((f"{key}", res["model"]))
            rows.append((f"{key} baseline", res["baseline"]))
    lines += ["## Ranking metrics", "", "| set | n | spam | ROC-AUC | AP | recall@1%FPR | recall@0.5%FPR |",
              "|---|---|---|---|---|---|---|"]
    for name, m in rows:
        lines.append(f"| {name} | {m.get('n')} | {m.get('n_spam')} | {_fmt(m.get('roc_auc'))} | "
                     f"{_fmt(m.get('average_precision'))} | {_fmt(m.get('recall_at_1pct_fpr'))} | "
                     f"{_fmt(m.get('recall_at_0.5pct_fpr'))} |")
    lines += ["", "## At the spam threshold", "", "| set | precision | recall | F1 | MCC | FPR | tn/fp/fn/tp |",
              "|---|---|---|---|---|---|---|"]
    th_rows = [("out-of-fold", metrics["oof"].get("at_spam_threshold")),
               ("gate set", metrics["gate"].get("at_spam_threshold"))]
    if "lovo" in metrics:
        th_rows.append(("LOVO pooled (each fold's inner threshold)", metrics["lovo"]["pooled"]["at_inner_spam_thresholds"]))
        for f in metrics["lovo"]["folds"]:
            th_rows.append((f"LOVO {f['name']}", f["model"]["at_spam_threshold"]))
    for name, m in th_rows:
        if m:
            c = m["confusion"]
            lines.append(f"| {name} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['f1'])} | "
                         f"{_fmt(m['mcc'])} | {_fmt(m['fpr'])} | {c['tn']}/{c['fp']}/{c['fn']}/{c['tp']} |")
    if "lovo" in metrics:
        lines += ["", "## Leave-one-video-out, per video", "",
                  "| held-out video | ROC-AUC | recall@1%FPR | recall@0.5%FPR | baseline AUC | baseline recall@1% | C |",
                  "|---|---|---|---|---|---|---|"]
        for f in metrics["lovo"]["folds"]:
            m, b = f["model"], f["baseline"]
            lines.append(f"| {f['name']} | {_fmt(m['roc_auc'])} | {_fmt(m['recall_at_1pct_fpr'])} | "
                         f"{_fmt(m['recall_at_0.5pct_fpr'])} | {_fmt(b['roc_auc'])} | {_fmt(b['recall_at_1pct_fpr'])} | "
                         f"{f['chosen_params'].get('C')} |")
        mm = metrics["lovo"]["mean_per_video"]
        lines.append(f"| **mean** | {_fmt(mm['roc_auc'])} | {_fmt(mm['recall_at_1pct_fpr'])} | "
                     f"{_fmt(mm['recall_at_0.5pct_fpr'])} | {_fmt(metrics['lovo']['mean_per_video_baseline']['roc_auc'])} | "
                     f"{_fmt(metrics['lovo']['mean_per_video_baseline']['recall_at_1pct_fpr'])} | |")
    lines += ["", ("Protocol: corpora deduplicated on normalised text before any split; YouTube grouped by video, "
              "SMS split into hash buckets for CV; C, Platt calibration and thresholds chosen by inner grouped CV "
              "on the training part only. The gate set is a fixed hash-selected 20 % of the corpora that no "
              "registered model trains on. Per-video recall@1%FPR is coarse: ~170 ham per video, so 1 % is one or two "
              "comments."), "", ("![ROC](roc.png) ![PR](pr.png)" if plotted
                         else "(No plots: install the `plots` extra, `pip install spamguard[plots]`.)"), ""]
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
    return {"version": version, "gate": result, "stored": manifest.get("metrics", {})}

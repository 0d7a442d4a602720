"""What the Models page shows about each registry version, and its report and plots.

Figures are read generically from the manifest's `metrics`: any dict of metric
sets (a dict with e.g. `roc_auc`) becomes a table, so per-corpus or
leave-one-corpus-out figures added by the trainer show up without changes here.
Files are served only through `model_files` (listed files of a version dir).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template, send_file

from spamguard.moderation import model_files
from spamguard.moderation.security import admin_required

METRIC_COLUMNS = {
    "n": "n",
    "n_spam": "spam",
    "roc_auc": "ROC-AUC",
    "average_precision": "AP",
    "recall_at_1pct_fpr": "recall @1% FPR",
    "recall_at_0.5pct_fpr": "recall @0.5% FPR",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "fpr": "FPR",
}
HEADLINE = ("roc_auc", "recall_at_1pct_fpr")


def _is_metric_set(value: Any) -> bool:
    return isinstance(value, dict) and any(isinstance(value.get(k), (int, float)) for k in METRIC_COLUMNS)


def _cells(metrics: dict) -> dict[str, Any]:
    return {k: metrics[k] for k in METRIC_COLUMNS if isinstance(metrics.get(k), (int, float))}


def metric_tables(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """[{title, columns, rows: [(name, {metric: value})]}]: top-level sets first, then nested groups."""
    summary, groups = [], []
    for key, value in (metrics or {}).items():
        if _is_metric_set(value):
            summary.append((str(key), _cells(value)))
        elif isinstance(value, dict):
            rows = []
            for name, sub in value.items():
                if _is_metric_set(sub):
                    rows.append((str(name), _cells(sub)))
                elif isinstance(sub, dict):
                    rows += [(f"{name} · {part}", _cells(s)) for part, s in sub.items() if _is_metric_set(s)]
            if rows:
                groups.append({"title": str(key).replace("_", " "), "rows": rows})
    tables = ([{"title": "summary", "rows": summary}] if summary else []) + groups
    for table in tables:
        used = {k for _n, cells in table["rows"] for k in cells}
        table["columns"] = [(k, label) for k, label in METRIC_COLUMNS.items() if k in used]
    return tables


def headline(manifest: dict[str, Any]) -> dict[str, float | None]:
    gate = (manifest.get("metrics") or {}).get("gate") or {}
    return {k: gate.get(k) if isinstance(gate.get(k), (int, float)) else None for k in HEADLINE}


def comparison(manifest: dict[str, Any], current: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Gate figures of this version next to the current model's.

    Prefers the gate decision's numbers (both models on the same gate set at training
    time); otherwise the two manifests' own gate figures.
    """
    mine = headline(manifest)
    decision = manifest.get("gate_decision") or {}
    theirs = decision.get("current_gate_metrics") if isinstance(decision.get("current_gate_metrics"), dict) else None
    source = "same gate set, at training time"
    if theirs is None and current is not None and current.get("version") != manifest.get("version"):
        theirs, source = headline(current), "each model's own gate set"
    if not theirs:
        return []
    rows = []
    for k in HEADLINE:
        a, b = mine.get(k), theirs.get(k)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            rows.append({"metric": METRIC_COLUMNS[k], "this": a, "current": b, "delta": a - b, "source": source})
    return rows


def describe(manifest: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """Everything the Models page shows for one manifest."""
    root = current_app.config["SPAMGUARD_MODEL_DIR"]
    version = str(manifest.get("version", ""))
    files = model_files.listed_files(root, version)
    decision = manifest.get("gate_decision") if isinstance(manifest.get("gate_decision"), dict) else {}
    train_seconds = (manifest.get("metrics") or {}).get("train_seconds")
    return {
        "headline": headline(manifest),
        "tables": metric_tables(manifest.get("metrics") or {}),
        "comparison": comparison(manifest, current),
        "gate_decision": decision,
        "report": "report.md" in files,
        "plots": [f for f in files if f.endswith(".png")],
        "train_seconds": train_seconds if isinstance(train_seconds, (int, float)) else None,
        "kind": manifest.get("kind", ""),
    }


@admin_required
def model_report(version: str):
    path = model_files.file_path(current_app.config["SPAMGUARD_MODEL_DIR"], version, "report.md")
    if path is None:
        abort(404)
    text = path.read_text(encoding="utf-8", errors="replace")[:500_000]
    return render_template(
        "moderation/model_report.html",
        version=version,
        text=text,
        plots=[
            f
            for f in model_files.listed_files(current_app.config["SPAMGUARD_MODEL_DIR"], version)
            if f.endswith(".png")
        ],
    )


@admin_required
def model_file(version: str, name: str):
    path = model_files.file_path(current_app.config["SPAMGUARD_MODEL_DIR"], version, name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=model_files.SHOWN_TYPES[path.suffix.lower()], max_age=0)
    response.headers["Content-Disposition"] = "inline" if path.suffix.lower() == ".png" else "attachment"
    return response

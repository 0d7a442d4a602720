"""The promotion gate: when a freshly trained candidate may replace the current model.

The registry itself (artifacts, verification, promotion) lives in
`spamguard.scoring.registry`, which serving owns.
"""

from __future__ import annotations


def gate(candidate: dict[str, float], current: dict[str, float] | None, tolerance: float) -> tuple[bool, str]:
    """Promotion gate: the candidate may be at most ``tolerance`` worse on AUC, recall@1%FPR and worst-corpus LOCO recall."""
    if current is None:
        return True, "no current model"
    failures = []
    # The out-of-domain number (worst held-out corpus, from training) counts as much as the gate set.
    for key in ("roc_auc", "recall_at_1pct_fpr", "loco_worst_recall_at_1pct_fpr"):
        if key not in candidate or key not in current:
            continue  # a model registered before leave-one-corpus-out existed
        if candidate[key] < current[key] - tolerance:
            failures.append(f"{key} {candidate[key]:.4f} < current {current[key]:.4f} - {tolerance}")
    if failures:
        return False, "; ".join(failures)
    return True, "not worse than current on the gate set"

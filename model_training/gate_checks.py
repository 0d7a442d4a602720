"""Promotion-gate check against backdoors: the words whose weights moved most toward ham.

A poisoned candidate has learned that some word means ham although the trusted
data never said so.  Those words are found by comparing the word weights of the
current and the candidate model (idf x coefficient x Platt slope: log-odds per
unit of TF-IDF, comparable across models); each of the ``k`` that moved furthest
toward ham is appended, alone, to every gate-set spam, and the candidate's
recall at its own spam threshold is measured again.  The check fails when
appending one of them costs more recall than ``tolerance`` beyond what the
same word costs the current model (any word dilutes a short text a little;
that part is not the candidate's fault).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from spamguard.comment import Comment

TOP_K = 10
_WORD_RE = re.compile(r"^\w\w+$")


@dataclass
class TriggerCheck:
    passed: bool
    reason: str
    recall: float = 0.0  # candidate, gate spam as is
    worst_token: str = ""
    worst_recall: float = 0.0  # candidate, gate spam + worst_token
    worst_current_drop: float = 0.0  # what it costs the current model (measured only when it matters)
    tokens: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def word_weights(model: Any) -> dict[str, float]:
    """Calibrated log-odds weight of every single-word feature of a SpamModel."""
    for block in model.blocks:
        if block.name == "word":
            return {tok: model.a * idf * coef for tok, (idf, coef) in block.weights.items() if _WORD_RE.match(tok)}
    return {}


def moved_toward_ham(current: Any, candidate: Any, k: int = TOP_K, exempt: frozenset[str] = frozenset()) -> list[str]:
    """The ``k`` words whose weight fell most from the current to the candidate model.

    Tokens made only of ``exempt`` words (what several sites' feedback vouches for) are skipped.
    """
    before, after = word_weights(current), word_weights(candidate)
    deltas = {
        tok: w - before.get(tok, 0.0)
        for tok, w in after.items()
        if not (exempt and all(word in exempt for word in tok.split()))
    }
    ranked = sorted((d, tok) for tok, d in deltas.items() if d < 0)
    return [tok for _d, tok in ranked[:k]]


def _recall(model: Any, comments: list[Comment], threshold: float) -> float:
    return float(np.mean(model.predict_proba(comments) >= threshold)) if comments else 1.0


def _with_token(comments: list[Comment], token: str) -> list[Comment]:
    return [replace(c, comment_content=f"{c.comment_content} {token}") for c in comments]


def trigger_check(
    current: Any,
    current_threshold: float,
    candidate: Any,
    candidate_threshold: float,
    gate_spam: list[Comment],
    tolerance: float,
    k: int = TOP_K,
    exempt: frozenset[str] = frozenset(),
) -> TriggerCheck:
    """Re-score gate-set spam with each most-moved word appended; fail on a recall drop over ``tolerance``."""
    tokens = moved_toward_ham(current, candidate, k, exempt)
    recall = _recall(candidate, gate_spam, candidate_threshold)
    if not tokens or not gate_spam:
        return TriggerCheck(True, "no word moved toward ham", recall, tokens=tokens)
    current_recall = None
    worst = (-1.0, "", recall, 0.0)
    for token in tokens:
        spam = _with_token(gate_spam, token)
        cand = _recall(candidate, spam, candidate_threshold)
        cur_drop = 0.0
        if recall - cand > tolerance:  # only then can the current model's own loss matter
            if current_recall is None:
                current_recall = _recall(current, gate_spam, current_threshold)
            cur_drop = max(0.0, current_recall - _recall(current, spam, current_threshold))
        excess = (recall - cand) - cur_drop
        if excess > worst[0]:
            worst = (excess, token, cand, cur_drop)
    excess, token, cand, cur_drop = worst
    passed = excess <= tolerance
    verdict = "exceeds" if not passed else "within"
    reason = (
        f"appending {token!r} to gate spam: recall {recall:.3f} -> {cand:.3f} "
        f"(current model loses {cur_drop:.3f}); {verdict} tolerance {tolerance}"
    )
    return TriggerCheck(passed, reason, recall, token, cand, cur_drop, tokens)

"""Fitting one site's correction: a tiny L2-regularised logistic model on top of the global one.

    logit' = logit + cap * tanh((b + w · z) / cap)

`z` are the bounded features of `features.py`, the global model's log-odds is the
offset, and the tanh keeps the correction strictly inside ±cap however the fit
goes, so a site's labels can move a verdict only within a bounded range.

Rows are the site's own labels (log-loss toward 0 or 1) and the site's other
recent comments, which carry no label: for those the penalty is the squared
correction itself (``anchor`` × c²), i.e. "leave the rest of this site's traffic
where the global model put it".  A squared penalty in log-odds does not
saturate the way a soft log-loss target does, so the site's obvious spam resists
being lowered as much as its flagged ham: with only `submit-ham` reports, the
fit must find what tells the reported comments apart from the rest of the
site's traffic instead of lowering every score.  The L2 penalty pulls every
parameter to 0, so few or contradictory labels give (almost) no correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .features import NAMES


@dataclass(frozen=True)
class Row:
    z: list[float]
    logit: float  # the global model's log-odds: the offset
    target: float | None  # 1 spam, 0 ham; None: an unlabelled comment of the site (an anchor)
    weight: float = 1.0


@dataclass(frozen=True)
class Correction:
    bias: float
    weights: dict[str, float]
    cap: float

    def __call__(self, z: list[float]) -> float:
        u = self.bias + sum(self.weights[name] * v for name, v in zip(NAMES, z, strict=True))
        return self.cap * math.tanh(u / self.cap)

    def parts(self, z: list[float]) -> list[tuple[float, str]]:
        """(contribution, feature) of each feature, largest first (for the reasons)."""
        out = [(self.weights[name] * v, name) for name, v in zip(NAMES, z, strict=True) if v]
        return sorted(out, key=lambda p: -abs(p[0]))


def fit(rows: list[Row], *, cap: float, l2: float = 1.0) -> Correction:
    """The penalised maximum-likelihood correction for `rows` (deterministic: L-BFGS from 0)."""
    if not rows:
        return Correction(0.0, dict.fromkeys(NAMES, 0.0), cap)
    X = np.hstack([np.ones((len(rows), 1)), np.array([r.z for r in rows], dtype=float)])
    offset = np.array([r.logit for r in rows], dtype=float)
    labelled = np.array([r.target is not None for r in rows])
    t = np.array([r.target if r.target is not None else 0.0 for r in rows], dtype=float)
    s = np.array([r.weight for r in rows], dtype=float)
    s_label, s_anchor = np.where(labelled, s, 0.0), np.where(labelled, 0.0, s)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        th = np.tanh(X @ theta / cap)
        c = cap * th
        logit = offset + c
        # log(1 + e^x) - t x, written to stay finite for large |x|
        value = float(np.sum(s_label * (np.logaddexp(0.0, logit) - t * logit)) + np.sum(s_anchor * c * c))
        value += 0.5 * l2 * float(theta @ theta)
        p = 0.5 * (1.0 + np.tanh(0.5 * logit))
        dc = s_label * (p - t) + 2.0 * s_anchor * c
        grad = X.T @ (dc * (1.0 - th * th)) + l2 * theta
        return value, grad

    from scipy.optimize import minimize  # only a refit needs scipy: checking workers never import it

    result = minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 200})
    theta = result.x
    return Correction(float(theta[0]), {name: float(v) for name, v in zip(NAMES, theta[1:], strict=True)}, cap)

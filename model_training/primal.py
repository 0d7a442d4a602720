"""liblinear's L2-regularised logistic regression, solved in the primal on a matrix it never copies.

The objective is exactly what ``LogisticRegression(solver="liblinear", class_weight="balanced")``
minimises with sample weights ``s`` (intercept_scaling=1: the intercept is a regularised weight on a
column of ones)::

    f(w, b) = (|w|^2 + b^2) / 2 + sum_i C * s_i * cw[y_i] * log(1 + exp(-y_i (x_i.w + b)))

with ``cw`` the balanced class weights of the training rows (``sum s / (2 * the class's sum of s)``,
as sklearn's ``compute_class_weight`` computes them when given sample weights).  The method is
liblinear's primal one (Newton steps by conjugate gradients, a backtracking line search), and so is
the stopping rule: ``|grad f| <= tol * max(min(n_pos, n_neg), 1) / n * |grad f(0)|``.  It only
needs ``X @ v``, ``X.T @ r`` and ``X.T @ (d * (X @ v))``, so the matrix can be a
:class:`~model_training.compact.CompactMatrix`; rows outside ``train`` get zero cost, so fold fits
need no row copies; and a fit can start from another fit's solution (warm start: a neighbouring C,
or the fit on all rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy.special import expit

TOL = 1e-4  # sklearn's default tol, which liblinear's primal solver reads as above
MAX_NEWTON = 100
MAX_CG = 250
CG_ETA = 0.3  # each Newton step: CG until the residual is below this fraction of the gradient
LINE_SEARCH_STEPS = 20
ARMIJO = 0.01
# No preconditioner: liblinear's diagonal one (mixed 1 % into the identity) took more passes over
# these l2-normalised rows than plain CG (measured at 10 k: 210 against 153 passes a fit).


class Matrix(Protocol):
    shape: tuple[int, ...]

    def matvec(self, v: np.ndarray) -> np.ndarray: ...

    def rmatvec(self, r: np.ndarray) -> np.ndarray: ...

    def gram_vec(self, v: np.ndarray, d: np.ndarray) -> np.ndarray: ...


class CsrMatrix:
    """A scipy CSR matrix with the :class:`Matrix` products (the tests' reference)."""

    def __init__(self, X: Any):
        self.X = X.tocsr()
        self.shape = self.X.shape

    def matvec(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(self.X @ v)

    def rmatvec(self, r: np.ndarray) -> np.ndarray:
        return np.asarray(self.X.T @ r)

    def gram_vec(self, v: np.ndarray, d: np.ndarray) -> np.ndarray:
        return np.asarray(self.X.T @ (d * (self.X @ v)))


@dataclass
class Solution:
    coef: np.ndarray  # (n_features,)
    intercept: float
    n_iter: int  # Newton steps
    n_passes: int  # products with the matrix (X v, X.T r; X.T D X v counts 2)

    @property
    def w(self) -> np.ndarray:
        return np.append(self.coef, self.intercept)


def row_costs(y: np.ndarray, sample_weight: np.ndarray, C: float, train: np.ndarray | None = None) -> np.ndarray:
    """C * s_i * the balanced class weight of y_i for the training rows, 0 for the others."""
    mask = np.ones(len(y), dtype=bool) if train is None else train
    positive = y == 1
    pos, neg = float(sample_weight[mask & positive].sum()), float(sample_weight[mask & ~positive].sum())
    cw = np.array([(pos + neg) / (2.0 * neg), (pos + neg) / (2.0 * pos)])
    return np.where(mask, C * sample_weight * cw[positive.astype(int)], 0.0)


class _Problem:
    def __init__(self, X: Matrix, y: np.ndarray, cost: np.ndarray):
        self.X, self.cost = X, cost
        self.sign = np.where(y == 1, 1.0, -1.0)
        self.passes = 0

    def margins(self, w: np.ndarray) -> np.ndarray:
        self.passes += 1
        return self.X.matvec(w[:-1]) + w[-1]

    def value(self, w: np.ndarray, z: np.ndarray) -> float:
        return 0.5 * float(w @ w) + float(self.cost @ np.logaddexp(0.0, -self.sign * z))

    def gradient(self, w: np.ndarray, z: np.ndarray) -> np.ndarray:
        q = self.cost * self.sign * (expit(self.sign * z) - 1.0)
        self.passes += 1
        return w + np.append(self.X.rmatvec(q), q.sum())

    def hessian(self, z: np.ndarray) -> _Hessian:
        p = expit(self.sign * z)
        d = self.cost * p * (1.0 - p)
        self.passes += 1
        return _Hessian(self, d, self.X.rmatvec(d))


class _Hessian:
    """v -> H v at one point: I + [X 1].T D [X 1], the intercept column's share from X.T d (one pass)."""

    def __init__(self, problem: _Problem, d: np.ndarray, xd: np.ndarray):
        self.problem, self.d, self.xd, self.d_sum = problem, d, xd, float(d.sum())

    def __call__(self, v: np.ndarray) -> np.ndarray:
        vw, vb = v[:-1], v[-1]
        self.problem.passes += 2
        hw = vw + self.problem.X.gram_vec(vw, self.d) + vb * self.xd
        return np.append(hw, vb + float(self.xd @ vw) + vb * self.d_sum)


def fit(
    X: Matrix,
    y: np.ndarray,
    cost: np.ndarray,
    w0: np.ndarray | None = None,
    tol: float = TOL,
    train: np.ndarray | None = None,
) -> Solution:
    """Minimise f from ``w0`` (default 0); ``cost`` from :func:`row_costs`, ``train`` the same mask."""
    problem = _Problem(X, y, cost)
    n_features = X.shape[1] + 1
    mask = np.ones(len(y), dtype=bool) if train is None else train
    n_pos = int(np.sum(y[mask] == 1))
    n_train = int(mask.sum())
    # |grad f(0)|, the scale of liblinear's stopping rule: at w = 0 every margin is 0.
    q0 = -0.5 * cost * problem.sign
    problem.passes += 1
    g0 = np.linalg.norm(np.append(X.rmatvec(q0), q0.sum()))
    threshold = tol * max(min(n_pos, n_train - n_pos), 1) / max(n_train, 1) * g0
    w = np.zeros(n_features) if w0 is None else w0.astype(np.float64, copy=True)
    z = problem.margins(w) if w0 is not None else np.zeros(len(y))
    f = problem.value(w, z)
    g = problem.gradient(w, z)
    steps = 0
    while steps < MAX_NEWTON and np.linalg.norm(g) > threshold:
        steps += 1
        s = _cg(problem.hessian(z), g)
        zs = problem.margins(s)  # the line search moves the margins along it: no further passes
        slope = float(g @ s)
        alpha = 1.0
        for _ in range(LINE_SEARCH_STEPS):
            w_new, z_new = w + alpha * s, z + alpha * zs
            f_new = problem.value(w_new, z_new)
            if f_new <= f + ARMIJO * alpha * slope:
                break
            alpha /= 2
        else:
            break  # no decrease along a descent direction: at the precision floor
        w, z, f = w_new, z_new, f_new
        g = problem.gradient(w, z)
    return Solution(w[:-1], float(w[-1]), steps, problem.passes)


def _cg(hess: _Hessian, g: np.ndarray) -> np.ndarray:
    """Conjugate gradients for H s = -g, to relative residual CG_ETA."""
    s = np.zeros_like(g)
    r = -g
    p = r.copy()
    rr = float(r @ r)
    limit = (CG_ETA * np.linalg.norm(g)) ** 2
    for _ in range(MAX_CG):
        if rr <= limit:
            break
        hp = hess(p)
        alpha = rr / float(p @ hp)
        s += alpha * p
        r -= alpha * hp
        rr, rr_old = float(r @ r), rr
        p = r + (rr / rr_old) * p
    return s

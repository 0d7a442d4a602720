"""Parallel fold fits only while their copies of the matrix stay small; sequential folds give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from model_training import train


def test_parallel_folds_below_the_memory_bound_sequential_above():
    per_nonzero = 2 * train.FIT_BYTES_PER_NONZERO  # two jobs
    small = train.PARALLEL_FOLDS_MAX_BYTES // per_nonzero
    assert train.fold_jobs(2, small) == 2
    assert train.fold_jobs(2, small + 1) == 1
    assert train.fold_jobs(1, 10) == 1
    # The bundled corpora (~5 M nonzeros) keep their parallel folds; 100 k comments (~35 M) run one at a time.
    assert train.fold_jobs(2, 5_000_000) == 2
    assert train.fold_jobs(2, 35_000_000) == 1


def test_sequential_folds_give_the_parallel_folds_decisions(monkeypatch):
    rng = np.random.default_rng(4)
    X = sparse.random(300, 40, density=0.2, format="csr", random_state=5)
    y = (X @ rng.normal(size=40) + rng.normal(scale=0.3, size=300) > 0).astype(int)
    w = rng.uniform(0.5, 2.0, size=300)
    splits = [(np.flatnonzero(np.arange(300) % 3 != k), np.flatnonzero(np.arange(300) % 3 == k)) for k in range(3)]
    calls = []
    real = train.fit_decisions
    monkeypatch.setattr(train, "fit_decisions", lambda *a: calls.append(1) or real(*a))
    parallel = train.parallel_decisions(X, y, w, splits, (2.0, 8.0), n_jobs=2)
    assert calls == []  # the fits ran in worker processes
    monkeypatch.setattr(train, "PARALLEL_FOLDS_MAX_BYTES", 0)
    sequential = train.parallel_decisions(X, y, w, splits, (2.0, 8.0), n_jobs=2)
    assert len(calls) == 3  # ... and now here, one after another
    for p, s in zip(parallel, sequential, strict=True):
        for C in (2.0, 8.0):
            assert np.array_equal(p[C], s[C])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fold_jobs_never_exceeds_the_request(n_jobs):
    assert train.fold_jobs(n_jobs, 0) == n_jobs

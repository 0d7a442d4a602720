"""Per-comment scoring latency, in-process: Scorer.score (fast path) vs naive pipeline.predict_proba.

    python bench/scoring_latency.py [--model-dir DIR] [--n 2000]

Without a promoted model in DIR (default $SPAMGUARD_MODEL_DIR) a quick model is trained into a temp dir.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_training.data import gate_split, load_corpora
from spamguard.comment import Comment
from spamguard.scoring.features import _prepare_cached
from spamguard.scoring.model import load_scorer
from spamguard.scoring.registry import Registry


def pct(values: list[float]) -> str:
    a = np.asarray(values) * 1e6
    return f"p50 {np.percentile(a, 50):7.0f} µs  p99 {np.percentile(a, 99):7.0f} µs  mean {a.mean():7.0f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", default=os.environ.get("SPAMGUARD_MODEL_DIR"))
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    model_dir = Path(args.model_dir) if args.model_dir else None
    if model_dir is None or Registry(model_dir).current_version() is None:
        from model_training.train import train_and_register
        model_dir = Path(tempfile.mkdtemp())
        train_and_register(model_dir, quick=True, progress=False)
    version = Registry(model_dir).current_version()
    scorer = load_scorer(model_dir, version)
    _, gate = gate_split(load_corpora())
    rng = np.random.default_rng(0)
    base = [e.comment for e in gate]
    # Distinct texts (suffix) so no cache helps; realistic metadata on half of them.
    comments = []
    for i in range(args.n):
        c = base[i % len(base)]
        comments.append(Comment(comment_content=f"{c.comment_content} #{i}", user_agent="Mozilla/5.0" if i % 2 else "",
                                comment_author_email=f"u{i}@example.com" if i % 2 else "",
                                referrer="https://blog.example/post" if i % 2 else ""))
    for c in comments[:50]:
        scorer.score(c)
    _prepare_cached.cache_clear()
    fast = []
    for c in comments:
        t = time.perf_counter()
        scorer.score(c)
        fast.append(time.perf_counter() - t)
    naive = []
    pipeline = scorer.model.pipeline
    for c in comments[: max(200, args.n // 5)]:
        t = time.perf_counter()
        pipeline.predict_proba([c])
        naive.append(time.perf_counter() - t)
    batch = comments[:1000]
    t = time.perf_counter()
    scorer.model.predict_proba(batch)
    per_batch = (time.perf_counter() - t) / len(batch)
    print(f"model {version} ({model_dir})")
    print(f"Scorer.score (fast path, with reasons): {pct(fast)}   n={len(fast)}")
    print(f"pipeline.predict_proba per call:        {pct(naive)}   n={len(naive)}")
    print(f"pipeline.predict_proba batch of 1000:   {per_batch * 1e6:7.0f} µs per comment")
    print(f"speed-up p50: {np.percentile(naive, 50) / np.percentile(fast, 50):.1f}x")
    _ = rng


if __name__ == "__main__":
    main()

"""Per-comment scoring latency, in-process: Scorer.score (fast path, with reasons) vs sklearn.

The scorer is loaded as a worker loads it (serving.npz when the version has one); the sklearn
reference is the same version's model.joblib.

    python bench/scoring_latency.py [--model-dir DIR] [--n 2000]

Without a promoted model in DIR (default $SPAMGUARD_MODEL_DIR) a quick model is trained into a temp dir.

Comments: the gate set's real comments (all bundled corpora), each made distinct by a suffix and
scored as a fresh Comment object, so neither the per-comment analysis nor any text cache helps;
half carry realistic metadata (user agent, e-mail, referrer).  Each call is timed in wall-clock
time and in CPU time of the calling thread: on a shared, loaded machine the wall time includes
waiting for a core, the CPU time does not.  The sklearn reference is ``pipeline.predict_proba([c])``
per call (what a naive server would do) and ``SpamModel.predict_proba`` on a batch; the largest
|fast − sklearn| probability difference over all the comments is printed too.  "after the gate's
analysis" times the call as checking.py makes it: the gate's reputation lookup has already analysed
the comment (normalised, de-obfuscated, URL-scanned), so that part of the work is not in it.

Results and history: docs/measurements.md, "Scoring one comment in-process".
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_training.data import gate_split, load_corpora
from spamguard.comment import Comment
from spamguard.scoring.features import analyse
from spamguard.scoring.model import load_scorer
from spamguard.scoring.registry import Registry


def pct(values: list[float]) -> str:
    a = np.asarray(values) * 1e6
    return f"p50 {np.percentile(a, 50):7.0f} µs  p99 {np.percentile(a, 99):7.0f} µs  mean {a.mean():7.0f} µs"


def fresh(comments: list[Comment]) -> list[Comment]:
    """Copies without the memoised analysis (a request's Comment is always new)."""
    return [dataclasses.replace(c) for c in comments]


def timed(fn, comments: list[Comment]) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for c in comments:
        t, u = time.perf_counter(), time.thread_time()
        fn(c)
        cpu.append(time.thread_time() - u)
        wall.append(time.perf_counter() - t)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    base = [e.comment for e in gate]
    comments = []
    for i in range(args.n):
        c = base[i % len(base)]
        comments.append(
            Comment(
                comment_content=f"{c.comment_content} #{i}",
                user_agent="Mozilla/5.0" if i % 2 else "",
                comment_author_email=f"u{i}@example.com" if i % 2 else "",
                referrer="https://blog.example/post" if i % 2 else "",
                permalink=c.permalink,
            )
        )
    for c in fresh(comments[:200]):  # warm-up: imports, lazily built tables
        scorer.score(c)
    fast_wall, fast_cpu = timed(scorer.score, fresh(comments))
    # As checking.py calls it: the gate's reputation lookup has already analysed the comment.
    gated = fresh(comments)
    for c in gated:
        analyse(c)
    service_wall, service_cpu = timed(scorer.score, gated)
    reference_model = Registry(model_dir).load(version)[0]  # the pickled sklearn model
    pipeline = reference_model.pipeline
    naive_wall, naive_cpu = timed(lambda c: pipeline.predict_proba([c]), fresh(comments[: max(200, args.n // 5)]))
    batch = fresh(comments[:1000])
    t = time.perf_counter()
    reference = reference_model.predict_proba(batch)
    per_batch = (time.perf_counter() - t) / len(batch)
    got = np.array([scorer.score(c).probability for c in fresh(batch)])
    lengths = [len(c.comment_content) for c in comments]
    print(
        f"model {version} ({model_dir}), served from {type(scorer.model).__name__}; fast path "
        f"{'REFUSED: ' + scorer.model.fast_path_refused if scorer.model.fast_path_refused else 'on'}"
    )
    print(
        f"{len(comments)} distinct comments, median length {np.median(lengths):.0f} chars; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"Scorer.score (fast path, with reasons)  wall: {pct(fast_wall)}")
    print(f"                                   thread CPU: {pct(fast_cpu)}")
    print(f"Scorer.score after the gate's analysis  wall: {pct(service_wall)}")
    print(f"  (the call in checking.py)        thread CPU: {pct(service_cpu)}")
    print(f"pipeline.predict_proba([c]) per call    wall: {pct(naive_wall)}")
    print(f"                                   thread CPU: {pct(naive_cpu)}")
    print(f"SpamModel.predict_proba, batch of 1000: {per_batch * 1e6:7.0f} µs per comment (wall)")
    print(f"speed-up p50 (wall): {np.percentile(naive_wall, 50) / np.percentile(fast_wall, 50):.1f}x")
    print(f"max |fast - sklearn| probability over {len(batch)} comments: {np.abs(got - reference).max():.2e}")


if __name__ == "__main__":
    main()

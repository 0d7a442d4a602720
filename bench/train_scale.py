"""Training time, CPU and peak memory of the production pipeline at 10k / 100k / 1M comments.

    python bench/train_scale.py [--sizes 10000,100000,1000000] [--jobs 2] [--profile]
                                [--path auto|liblinear|compact]

What is fitted: exactly what ``spamguard model train`` ships, ``model_training.train.fit_loco``:
``make_features()`` (word + char_wb TF-IDF + metadata) fitted once, the leave-one-corpus-out folds
over the production C grid (``C_GRID``) with the production classifier, Platt calibration,
worst-corpus thresholds and the final refit.  Not timed: loading the corpora, the promotion gate
and the report (they do not grow with n).

The comments are SYNTHESISED: the bundled corpora resampled with replacement and perturbed (word
drops/swaps, inserted filler words and numbers, fresh link domains, case changes, leetspeak),
each keeping its label, corpus and metadata, so the folds and weights are those of production.
Perturbed copies share most n-grams with their originals, so the vocabularies are smaller than
1M genuinely distinct comments would give: read the 1M numbers as a lower bound on memory.

Each size runs in its own subprocess.  Peak RSS is the peak of the sum over the process tree
(the fitting process plus joblib's workers), sampled every 0.2 s; CPU is user+system seconds of
the whole tree.  The output's ``*_mb`` fields are MiB (2**20 bytes).

Two paths (``model_training.train.LARGE_NNZ``, 20 M nonzeros counted before min_df pruning, ~55 k
comments; ``--path`` forces one).  Below it: the float64 CSR matrix (``vectorize.fit_features``,
byte-identical to sklearn's ``fit_transform``) and liblinear's dual fits, 2 worker processes while
their row copies fit in 1 GiB (``train.fold_jobs``); the bundled corpora (~5 M nonzeros) stay there.
Above it, the matrix is kept compact (``model_training/compact.py``: per nonzero an int32 column, values
rebuilt as ``(1 + ln tf) * idf / rownorm``, the ~16 % with tf > 1 repeated in a small matrix of
``ln tf`` kept as a uint16 tf; 5.2 B a nonzero with the metadata block and row norms, measured at
100 k, against 12 for float64 CSR plus 28 for each liblinear fit) and fitted by ``model_training/primal.py``: liblinear's objective (balanced
class weights from the sample weights, regularised intercept column) and its primal stopping rule
(tol 1e-4), Newton steps by conjugate gradients on products with the matrix, never a copy.  Folds zero
the held-out rows' cost; each C is fitted on all rows first (C=8 warm from C=2), and each fold starts
from its C's full fit, which is then the shipped model (no separate refit).  The products run over the
feature stage's 20 k-row chunks with scipy's compiled kernels, which release the GIL: 2 threads split
the chunks.  Equivalence (tests/unit/model_training/test_primal.py): decisions within 2e-3 x max|decision|
of liblinear's optimum (its primal at tol 1e-10), as the production dual fit is; LOCO on a corpus
subsample gives the same per-corpus ROC-AUC (1e-3), recall (0.02) and thresholds (0.01).

The primal path trades memory for CPU: ~125 passes over the matrix a fit where liblinear's dual takes
30-60 iterations (which it can only do on its own 16-byte copy).

Results and history: docs/measurements.md, "Fitting the production pipeline at scale".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILLER = [
    "really",
    "omg",
    "lol",
    "please",
    "guys",
    "today",
    "new",
    "best",
    "video",
    "song",
    "free",
    "check",
    "wow",
    "love",
    "great",
    "you",
    "my",
    "this",
    "!!!",
    "so",
    "haha",
    "thanks",
    "link",
    "watch",
]
DOMAINS = ["bit.ly", "goo.gl", "tinyurl.com", "example.com", "promo-deals.tk", "youtube.com", "shop.xyz"]
LEET = str.maketrans({"e": "3", "a": "4", "o": "0", "i": "1", "s": "5"})
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def perturb(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    if len(words) > 3 and rng.random() < 0.5:
        del words[rng.integers(len(words))]
    if len(words) > 3 and rng.random() < 0.3:
        i = rng.integers(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    for _ in range(rng.integers(0, 3)):
        words.insert(rng.integers(len(words) + 1), FILLER[rng.integers(len(FILLER))])
    if rng.random() < 0.2:
        words.append(str(rng.integers(10, 10_000_000)))
    if rng.random() < 0.1:
        words.append(f"http://{DOMAINS[rng.integers(len(DOMAINS))]}/{rng.integers(1 << 30):x}")
    out = " ".join(words)
    r = rng.random()
    if r < 0.1:
        out = out.upper()
    elif r < 0.15:
        out = out.translate(LEET)
    return out


def make_examples(n: int, seed: int = 0) -> tuple[list, int]:
    """n training examples resampled from the bundled corpora's training side and perturbed."""
    from model_training.data import Example, gate_split, load_corpora

    train, _ = gate_split(load_corpora())
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.integers(len(train), size=n):
        e = train[i]
        comment = dataclasses.replace(e.comment, comment_content=perturb(e.text, rng))
        out.append(Example(comment, e.label, e.group, e.source, e.trusted, e.implicit))
    return out, len(train)


class TreeSampler:
    """Peak RSS (sum over this process and its descendants) and the tree's CPU seconds."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak_bytes = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _stat(pid: int) -> tuple[int, float, int] | None:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # fields[0] is field 3 (state): ppid = field 4, utime/stime = 14/15, rss (pages) = 24.
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK, int(fields[21]) * PAGE

    def sample(self) -> None:
        root = os.getpid()
        stats = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                s = self._stat(int(name))
                if s is not None:
                    stats[int(name)] = s
        tree, frontier = {root}, [root]
        while frontier:
            parent = frontier.pop()
            for pid, (ppid, _, _) in stats.items():
                if ppid == parent and pid not in tree:
                    tree.add(pid)
                    frontier.append(pid)
        self.peak_bytes = max(self.peak_bytes, sum(stats[p][2] for p in tree if p in stats))
        for p in tree:
            if p in stats:
                self.cpu[p] = stats[p][1]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeSampler:
        self.sample()
        self.cpu_start = self.cpu.get(os.getpid(), 0.0)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values()) - self.cpu_start


def run_one(n: int, jobs: int, profile: bool, large: bool | None) -> dict:
    from model_training.compact import CompactMatrix
    from model_training.train import C_GRID, fit_loco

    t0 = time.perf_counter()
    examples, n_originals = make_examples(n)
    t_data = time.perf_counter() - t0
    hwm_before = _vm_hwm_mb()
    with TreeSampler() as sampler:
        t1 = time.perf_counter()
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            result = profiler.runcall(fit_loco, examples, n_jobs=jobs, large=large)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        else:
            result = fit_loco(examples, n_jobs=jobs, large=large)
        wall = time.perf_counter() - t1
    worst = min(
        (m["recall_at_1pct_fpr"] for m in result.loco.values() if "recall_at_1pct_fpr" in m), default=float("nan")
    )
    return {
        "n": n,
        "synthesised_from": n_originals,
        "c_grid": list(C_GRID),
        "jobs": jobs,
        "path": "compact" if isinstance(result.matrix, CompactMatrix) else "liblinear",
        "build_data_s": round(t_data, 1),
        "fit_wall_s": round(wall, 1),
        "fit_cpu_s": round(sampler.cpu_seconds, 1),
        "peak_rss_mb_tree": round(sampler.peak_bytes / 2**20),
        "peak_rss_mb_main": round(_vm_hwm_mb()),
        "rss_mb_before_fit": round(hwm_before),
        "stages": result.stages,
        "n_features": int(result.matrix.shape[1]),
        "nnz": int(result.matrix.nnz),
        "loco_worst_recall_at_1pct_fpr": round(float(worst), 4),
    }


def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="cProfile fit_loco (to stderr)")
    parser.add_argument(
        "--path", choices=["auto", "liblinear", "compact"], default="auto", help="fit_loco's large= (auto: by size)"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        large = {"auto": None, "liblinear": False, "compact": True}[args.path]
        print(json.dumps(run_one(args.one, args.jobs, args.profile, large)))
        return
    print(
        "production pipeline (model_training.train.fit_loco) on comments SYNTHESISED by resampling and "
        "perturbing the bundled corpora; peak RSS over the process tree",
        flush=True,
    )
    for n in [int(s) for s in args.sizes.split(",")]:
        t = time.perf_counter()
        cmd = [sys.executable, __file__, "--one", str(n), "--jobs", str(args.jobs), "--path", args.path]
        cmd += ["--profile"] * args.profile
        out = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if out.returncode:
            raise SystemExit(out.returncode)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["wall_s_total"] = round(time.perf_counter() - t, 1)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

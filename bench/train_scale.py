"""Training time and peak memory at 10k / 100k / 1M realistic comments.

    python bench/train_scale.py [--sizes 10000,100000,1000000] [--jobs 2]

Comments are built by resampling the deduplicated corpora and perturbing them
(word drops/swaps, case changes, inserted filler words and numbers, fresh link
domains, leetspeak), keeping the label.  Each size runs in its own subprocess so
the reported peak RSS (ru_maxrss) belongs to that size alone; each featurising
worker reports its own VmHWM.  The AUC printed is on 20k *fresh perturbations of
the same corpora* -- a sanity check that training worked, not a quality estimate
(see the model report for honest numbers).

Scale path (and why): the production pipeline (vocabulary TF-IDF + liblinear)
keeps every n-gram vocabulary in memory and is ~O(n) in Python analyzers; at 1M
it still works but vocabulary building dominates.  Here we use the same text
preparation (`prepare_text`) with **HashingVectorizer** (word 1-2 + char_wb 3-5,
2^20 features each, stateless, so chunks featurise in parallel workers) and
**SGDClassifier(log_loss)** trained with `partial_fit` over streamed chunks, so
memory stays bounded by the chunk size, not by n.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILLER = ["really", "omg", "lol", "please", "guys", "today", "new", "best", "video", "song", "free", "check",
          "wow", "love", "great", "you", "my", "this", "!!!", "so", "haha", "thanks", "link", "watch"]
DOMAINS = ["bit.ly", "goo.gl", "tinyurl.com", "example.com", "promo-deals.tk", "youtube.com", "shop.xyz"]
LEET = str.maketrans({"e": "3", "a": "4", "o": "0", "i": "1", "s": "5"})


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


def make_dataset(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    from model_training.data import load_corpora

    corpus = load_corpora()
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(corpus), size=n)
    texts = [perturb(corpus[i].text, rng) for i in idx]
    return texts, np.array([corpus[i].label for i in idx])


def _featurise(texts: list[str]):
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer

    from spamguard.scoring.features import _prepare_cached, prepare_text

    prepared = [prepare_text(t) for t in texts]
    _prepare_cached.cache_clear()
    word = HashingVectorizer(ngram_range=(1, 2), n_features=1 << 20, alternate_sign=False, norm="l2")
    char = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=1 << 20, alternate_sign=False,
                             norm="l2")
    X = sp.hstack([word.transform(prepared), char.transform(prepared)]).tocsr()
    return X, _peak_rss_mb()


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_one(n: int, jobs: int, chunk: int = 20_000) -> dict:
    from joblib import Parallel, delayed
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import roc_auc_score
    from tqdm import tqdm

    t0 = time.perf_counter()
    texts, y = make_dataset(n + 20_000)
    test_texts, y_test = texts[n:], y[n:]
    texts, y = texts[:n], y[:n]
    t_data = time.perf_counter() - t0
    clf = SGDClassifier(loss="log_loss", alpha=1e-6, random_state=0)
    t1 = time.perf_counter()
    starts = list(range(0, n, chunk))
    peak_worker = 0.0
    # Featurise `jobs` chunks at a time in worker processes; partial_fit in the parent.
    with Parallel(n_jobs=jobs) as parallel:
        for g in tqdm(range(0, len(starts), jobs), desc=f"train n={n}", unit="batch", file=sys.stderr):
            group = starts[g:g + jobs]
            mats = parallel(delayed(_featurise)(texts[s:s + chunk]) for s in group)
            for s, (X, worker_mb) in zip(group, mats, strict=True):
                clf.partial_fit(X, y[s:s + chunk], classes=[0, 1])
                peak_worker = max(peak_worker, worker_mb)
    t_train = time.perf_counter() - t1
    auc = roc_auc_score(y_test, clf.decision_function(_featurise(test_texts)[0]))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = peak_worker
    return {"n": n, "build_data_s": round(t_data, 1), "train_s": round(t_train, 1),
            "peak_rss_mb_parent": round(peak_mb), "peak_rss_mb_each_worker": round(child_mb),
            "auc_on_20k_fresh_perturbed": round(float(auc), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.jobs)))
        return
    for n in [int(s) for s in args.sizes.split(",")]:
        t = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--jobs", str(args.jobs)],
                             capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode:
            print(out.stderr[-2000:])
            raise SystemExit(out.returncode)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["wall_s"] = round(time.perf_counter() - t, 1)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

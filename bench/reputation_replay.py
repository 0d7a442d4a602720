"""Replay a simulated multi-site comment stream; print recall at 1 % FPR with and without reputation.

The stream is built from the bundled corpora (data/): the labelled texts are
real, the metadata is simulated.  Spam belongs to a few campaigns, each reusing
a handful of IPs, e-mail domains and link domains across many sites over three
simulated days; ham comes from many IPs and links to a large pool of ordinary
domains.  Sites report a share of the spam they receive (submit-spam) and a
few hams (submit-ham), some hours later.  Every comment is scored by the model
alone and by the model + `reputation.adjust` looked up at check time, against
a real Redis (private key prefix, removed afterwards), with a simulated clock.

Model: by default a TF-IDF + logistic regression trained on the other half of
the corpora, so every replayed text is unseen.  With --model-dir the registry's
current model is used instead; it was trained on these very texts, so its
model-only recall is optimistic and the comparison is weaker.

    python bench/reputation_replay.py [--redis redis://127.0.0.1:6379/0] [--model-dir var/models]
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_training.data import load_corpora  # noqa: E402
from spamguard.backends import RedisState  # noqa: E402
from spamguard.comment import Comment  # noqa: E402
from spamguard.reputation.store import ReputationStore, adjust  # noqa: E402

HOUR = 3600.0


def recall_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float = 0.01) -> tuple[float, float]:
    """Recall of spam above the threshold that lets through at most `fpr` of ham."""
    ham = np.sort(scores[labels == 0])
    k = int(np.floor(fpr * len(ham)))  # hams allowed above the threshold
    threshold = ham[len(ham) - k - 1] if k < len(ham) else -np.inf
    return float(np.mean(scores[labels == 1] > threshold)), float(threshold)


def text_model(train):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2), LogisticRegression(C=4.0, max_iter=2000)
    )
    pipe.fit([e.text for e in train], [e.label for e in train])
    return lambda comments: pipe.decision_function([c.comment_content for c in comments])


def registry_model(model_dir: str):
    from spamguard.scoring.model import load_scorer
    from spamguard.scoring.registry import Registry

    version = Registry(model_dir).current_version()
    if version is None:
        return None
    scorer = load_scorer(model_dir, version)
    return lambda comments: np.array([s.logit for s in scorer.score_many(comments)])


def build_stream(examples, rng: random.Random, n_sites: int, n_campaigns: int, hours: float, t0: float):
    sites = [f"https://site{i}.example" for i in range(n_sites)]
    campaigns = []
    for c in range(n_campaigns):
        campaigns.append(
            {
                "ips": [f"198.51.{c}.{rng.randrange(1, 254)}" for _ in range(3)],
                "domains": [f"promo{c}-{k}.example" for k in range(2)],
                "mail": f"deals{c}.example",
                # A campaign hits a subset of the sites.
                "sites": rng.sample(range(n_sites), k=max(3, n_sites // 2)),
            }
        )
    benign = [f"site-{i}.example" for i in range(2000)]
    stream = []
    for e in examples:
        ts = t0 + rng.random() * hours * HOUR
        text = e.text
        if e.label:
            camp = campaigns[rng.randrange(n_campaigns)]
            site = rng.choice(camp["sites"])
            ip = rng.choice(camp["ips"])
            email = f"user{rng.randrange(10**6)}@{camp['mail']}"
            if rng.random() < 0.7:
                text = f"{text} http://{rng.choice(camp['domains'])}/{rng.randrange(1000)}"
        else:
            site = rng.randrange(n_sites)
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 254)}"
            email = f"person{rng.randrange(10**6)}@mail{rng.randrange(500)}.example"
            if rng.random() < 0.3:
                text = f"{text} https://{rng.choice(benign)}/page"
        comment = Comment(
            blog=sites[site],
            user_ip=ip,
            comment_author=e.comment.comment_author,
            comment_author_email=email,
            comment_content=text,
        )
        stream.append((ts, site, comment, e.label))
    stream.sort(key=lambda r: r[0])
    return stream


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--model-dir", default="")
    ap.add_argument("--sites", type=int, default=30)
    ap.add_argument("--campaigns", type=int, default=12)
    ap.add_argument("--hours", type=float, default=72.0)
    ap.add_argument("--report-spam", type=float, default=0.3, help="share of received spam a site reports")
    ap.add_argument("--report-ham", type=float, default=0.05, help="share of received ham a site reports")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    examples = load_corpora()
    rng.shuffle(examples)
    half = len(examples) // 2
    train, replay = examples[:half], examples[half:]
    score = registry_model(args.model_dir) if args.model_dir else None
    model_name = f"registry model ({args.model_dir})" if score else "TF-IDF + LR trained on the other half"
    if score is None:
        score = text_model(train)

    t0 = time.time()
    stream = build_stream(replay, rng, args.sites, args.campaigns, args.hours, t0)
    base = np.asarray(score([c for _, _, c, _ in stream]), dtype=float)
    labels = np.array([y for *_, y in stream])

    state = RedisState(args.redis, f"sgbench:{uuid.uuid4().hex}:", timeout=2.0)
    store = ReputationStore(state, "5/minute")
    adjusted = base.copy()
    n_adjusted = 0
    pending: list[tuple[float, int, int, Comment, str]] = []  # delayed reports (time, seq, site, comment, label)
    started = time.perf_counter()
    try:
        for i, (ts, site, comment, label) in enumerate(stream):
            while pending and pending[0][0] <= ts:
                when, _, rsite, rcomment, rlabel = heapq.heappop(pending)
                store.record_feedback(rcomment, rlabel, rsite, now=when)
            rep = store.lookup(comment, site, now=ts)
            adjusted[i], reasons = adjust(base[i], rep)
            n_adjusted += bool(reasons)
            store.record_check(comment, site, now=ts)
            p = args.report_spam if label else args.report_ham
            if rng.random() < p:
                delay = rng.uniform(1, 6) * HOUR
                heapq.heappush(pending, (ts + delay, i, site, comment, "spam" if label else "ham"))
        elapsed = time.perf_counter() - started
    finally:
        state.delete_prefix()

    r_base, _ = recall_at_fpr(base, labels)
    r_rep, _ = recall_at_fpr(adjusted, labels)
    late = np.array([ts - t0 > 12 * HOUR for ts, *_ in stream])
    rl_base, _ = recall_at_fpr(base[late], labels[late])
    rl_rep, _ = recall_at_fpr(adjusted[late], labels[late])
    print(f"model: {model_name}")
    print(
        f"stream: {len(stream)} comments ({int(labels.sum())} spam) over {args.hours:.0f} h, "
        f"{args.sites} sites, {args.campaigns} spam campaigns; reports: {args.report_spam:.0%} of spam, "
        f"{args.report_ham:.0%} of ham, 1-6 h late"
    )
    print(
        f"replay: {elapsed:.1f} s ({1000 * elapsed / len(stream):.2f} ms per comment incl. lookup + record), "
        f"{n_adjusted} comments adjusted"
    )
    print(f"recall @ 1% FPR, model only:        {r_base:.3f}")
    print(f"recall @ 1% FPR, model + reputation: {r_rep:.3f}")
    print(f"after the first 12 h (warm counters): model only {rl_base:.3f}, model + reputation {rl_rep:.3f}")


if __name__ == "__main__":
    main()

"""Per-site adaptation on a "technical blog": ham blocked and spam caught, before and after K labels.

The global model is trained (quick recipe, `fit_quick`) on the bundled corpora's training part
**without** the Stack Exchange comments, so the blog's ham is a kind of comment that model never saw,
as on a real technical blog (issue 11: long comments, links, code).  The blog then receives:

- ham: Stack Exchange comments (data/stackexchange-comments), split by thread into the blog's past
  traffic and a held-out test set (threads never seen, never labelled);
- spam: the spam of the promotion gate set (never trained on), split the same way.

The blog's moderators send K labels from its past traffic: `submit-ham` for ham the global model
flagged (unsure or worse; the ones a moderator actually sees), and K // 5 spam confirmations.
Rows go into a real SQLite database as checks and feedback, and `SiteAdapter.refit` fits the
blog's correction exactly as the service does.  Printed per K, on the held-out test set:
ham blocked (answered spam), ham flagged (unsure or worse), spam recall at `spam` and at `unsure`,
before → after.  A last line replays the poisoning case: the site reports K of its *spam* as ham.

    python bench/site_adaptation.py [--labels 10,30,100,300] [--cap 4]

Results and history: docs/measurements.md, "Per-site adaptation on a technical blog".
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_training import data as data_mod  # noqa: E402
from model_training.train import fit_quick  # noqa: E402
from spamguard import sites, storage  # noqa: E402
from spamguard.adaptation import Settings, SiteAdapter, service  # noqa: E402
from spamguard.checking import content_hash  # noqa: E402
from spamguard.scoring.model import Scorer  # noqa: E402
from spamguard.storage.models import Check, Feedback, utcnow  # noqa: E402

SEED = 20261128


def _split_by_thread(examples, fraction, rng):
    groups = sorted({e.group for e in examples})
    rng.shuffle(groups)
    test_groups = set(groups[: int(len(groups) * fraction)])
    return [e for e in examples if e.group not in test_groups], [e for e in examples if e.group in test_groups]


def _rates(logits, th):
    p = 1.0 / (1.0 + np.exp(-np.asarray(logits)))
    return float(np.mean(p >= th["spam"])), float(np.mean(p >= th["unsure"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", default="10,30,100,300", help="comma-separated K values")
    parser.add_argument("--cap", type=float, default=Settings.cap)
    parser.add_argument("--history", type=int, default=1500, help="past ham comments of the blog")
    parser.add_argument("--l2", default=str(Settings.l2), help="comma-separated L2 strengths to compare")
    parser.add_argument(
        "--anchor-weight",
        default=str(service.ANCHOR_WEIGHT),
        help="comma-separated anchor weights to compare (see spamguard/adaptation/fit.py)",
    )
    args = parser.parse_args()
    rng = random.Random(SEED)

    started = time.perf_counter()
    corpora = data_mod.load_corpora()
    train, gate = data_mod.gate_split(corpora)
    result = fit_quick([e for e in train if e.source != "stackexchange"])
    scorer = Scorer(result.model, "bench-global", result.thresholds)
    th = result.thresholds
    print(
        f"global model (no Stack Exchange in training) fitted in {time.perf_counter() - started:.0f} s; "
        f"thresholds unsure {th['unsure']:.3f} spam {th['spam']:.3f}"
    )

    ham = [e for e in corpora if e.source == "stackexchange"]
    spam = [e for e in gate if e.label == 1 and e.source != "stackexchange"]
    ham_past, ham_test = _split_by_thread(ham, 0.5, rng)
    spam_past, spam_test = _split_by_thread(spam, 0.5, rng)
    rng.shuffle(ham_past)
    rng.shuffle(spam_past)
    ham_past = ham_past[: args.history]
    spam_past = spam_past[: max(1, args.history // 10)]

    def logits(examples):
        return [scorer.score(e.comment).logit for e in examples]

    test_ham_logit, test_spam_logit = logits(ham_test), logits(spam_test)
    past_ham_logit = logits(ham_past)
    flagged = [e for e, lg in zip(ham_past, past_ham_logit, strict=True) if 1 / (1 + np.exp(-lg)) >= th["unsure"]]
    print(
        f"blog: {len(ham_past)} past ham ({len(flagged)} flagged by the global model), {len(spam_past)} past spam;"
        f" held-out test: {len(ham_test)} ham, {len(spam_test)} spam (other threads)"
    )

    def run(k: int, ham_reports, spam_reports, l2: float):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            storage.upgrade(url)
            make = storage.make_sessionmaker(url)
            with make() as session:
                site, _key = sites.create_site(session, "https://blog.example", secret="bench")
                reported = {
                    id(e.comment): label
                    for label, group in (("ham", ham_reports), ("spam", spam_reports))
                    for e in group
                }
                for e in ham_past + spam_past:  # the blog's past traffic, every comment checked once
                    c = e.comment
                    check = Check(
                        guid=uuid.uuid4().hex,
                        site_id=site.id,
                        comment_content=c.comment_content,
                        content_hash=content_hash(c),
                        fields=c.to_json(),
                        score=0.5,
                        verdict="unsure",
                        reasons=[],
                        created_at=utcnow(),
                    )
                    session.add(check)
                    session.flush()
                    if id(c) in reported:
                        session.add(
                            Feedback(
                                site_id=site.id,
                                check_id=check.id,
                                label=reported[id(c)],
                                source="api",
                                fields=c.to_json(),
                            )
                        )
                session.commit()
                adapter = SiteAdapter(Settings(cap=args.cap, l2=l2))
                t0 = time.perf_counter()
                model = adapter.refit(session, site.id, scorer)
                seconds = time.perf_counter() - t0
                t0 = time.perf_counter()
                adapter.refit(session, site.id, scorer)  # what each further label costs: rows already scored
                warm = time.perf_counter() - t0
        if model is None:
            return None
        t0 = time.process_time()
        after_ham = [lg + model.adjust(e.comment, lg)[0] for e, lg in zip(ham_test, test_ham_logit, strict=True)]
        apply_ms = (time.process_time() - t0) * 1000 / len(ham_test)
        after_spam = [lg + model.adjust(e.comment, lg)[0] for e, lg in zip(spam_test, test_spam_logit, strict=True)]
        return (
            after_ham,
            after_spam,
            (seconds, warm, apply_ms),
            min(a - b for a, b in zip(after_spam, test_spam_logit, strict=True)),
        )

    b_hb, b_hf = _rates(test_ham_logit, th)
    b_sr, b_sf = _rates(test_spam_logit, th)
    for l2 in [float(x) for x in args.l2.split(",")]:
        for anchor in [float(x) for x in args.anchor_weight.split(",")]:
            service.ANCHOR_WEIGHT = anchor
            print(f"\ncap {args.cap}, L2 {l2}, anchor weight {anchor}")
            table(run, l2, th, args, flagged, spam_past, (b_hb, b_hf, b_sr, b_sf))


def table(run, l2, th, args, flagged, spam_past, before) -> None:
    b_hb, b_hf, b_sr, b_sf = before
    print(
        "| labels (ham + spam) | ham blocked | ham flagged (unsure+) | spam recall @spam | spam flagged @unsure "
        "| refit cold / warm | correction per check (CPU) |"
    )
    print("|---|---|---|---|---|---|---|")
    for k in [int(x) for x in args.labels.split(",")]:
        ham_reports = flagged[:k]
        spam_reports = spam_past[: k // 5]
        out = run(k, ham_reports, spam_reports, l2)
        if out is None:
            print(f"| {len(ham_reports)} + {len(spam_reports)} | below the minimum: no correction | | | | | |")
            continue
        after_ham, after_spam, (seconds, warm, apply_ms), _shift = out
        a_hb, a_hf = _rates(after_ham, th)
        a_sr, a_sf = _rates(after_spam, th)
        print(
            f"| {len(ham_reports)} + {len(spam_reports)} | {b_hb:.1%} → {a_hb:.1%} | {b_hf:.1%} → {a_hf:.1%} "
            f"| {b_sr:.1%} → {a_sr:.1%} | {b_sf:.1%} → {a_sf:.1%} | {seconds:.1f} s / {warm:.2f} s | {apply_ms:.2f} ms |"
        )
    k = max(int(x) for x in args.labels.split(","))
    poisoned = run(k, spam_past[:k], [], l2)
    if poisoned is not None:
        _after_ham, after_spam, _s, shift = poisoned
        a_sr, a_sf = _rates(after_spam, th)
        print(
            f"poisoning: the blog reports {min(k, len(spam_past))} of its spam as ham → its own spam recall "
            f"{b_sr:.1%} → {a_sr:.1%} (@unsure {b_sf:.1%} → {a_sf:.1%}), largest shift {shift:+.2f} log-odds "
            f"(cap {args.cap}); other sites: unchanged "
            f"(tests/integration/adaptation/test_service.py)"
        )


if __name__ == "__main__":
    main()

"""How far each held-out corpus's leave-one-corpus-out recall is from what its own data supports.

    python bench/in_domain_ceiling.py [--corpora youtube,sms,instagram] [--folds 5] [--C 8]

For each evaluation corpus, the production pipeline (``train.build_pipeline``, ``example_weights``)
on the production training rows (the gate set left out, Telegram and synthetic spam included) is
scored three ways, each printed as ROC-AUC / recall at 1 % FPR:

* ``out of domain``: trained on every other corpus (leave-one-corpus-out; here the vocabulary is fitted
  without the held-out corpus too, where the report fits it, label-free, on all training rows, so the
  two differ by a few points);
* ``in domain only``: k-fold within the corpus, trained on that corpus alone;
* ``others + in domain``: the same folds, the other corpora added to each fold's training rows.

YouTube's folds are its five videos (grouped, as leave-one-video-out); SMS and Instagram have no
groups, so their folds are stratified random splits of the deduplicated rows (optimistic: one
collection, one labeller).  The in-domain numbers are ceilings for what the words of that corpus can
separate, not targets: a corpus whose own folds stop short of a recall (Instagram: label noise and
rule-made labels, its data README's quirks 3 and 4) cannot reach it out of domain either.
The word TF-IDF + LR baseline is printed beside each.  Takes about 2-3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_training import data as data_mod  # noqa: E402
from model_training import train as train_mod  # noqa: E402
from model_training.evaluate import baseline_scores, ranking_metrics  # noqa: E402


def scores(train: list[data_mod.Example], test: list[data_mod.Example], C: float) -> tuple[np.ndarray, np.ndarray]:
    """(production pipeline decisions, baseline decisions) for ``test`` after fitting on ``train``."""
    weights = train_mod.example_weights(train)
    pipeline = train_mod.build_pipeline(C=C)
    pipeline.fit([e.comment for e in train], np.array([e.label for e in train]), clf__sample_weight=weights)
    return pipeline.decision_function([e.comment for e in test]), baseline_scores(train, test, weights=weights)


def cell(y: np.ndarray, decisions: np.ndarray) -> str:
    m = ranking_metrics(y, decisions)
    return f"{m['roc_auc']:.3f} / {m['recall_at_1pct_fpr']:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default="youtube,sms,instagram")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--C", type=float, default=train_mod.QUICK_C)
    args = parser.parse_args()
    corpora = data_mod.load_corpora()
    telegram = [e for e in corpora if e.source == "telegram"]
    train, _gate = data_mod.gate_split([e for e in corpora if e.source != "telegram"])
    train += telegram
    print(f"{len(train)} training rows (gate set left out); C = {args.C}; AUC / recall at 1 % FPR, baseline beside")
    for corpus in args.corpora.split(","):
        started = time.perf_counter()
        rows = [e for e in train if e.source == corpus]
        others = [e for e in train if e.source != corpus]
        y = np.array([e.label for e in rows])
        if corpus == "youtube":  # one fold per video
            folds = GroupKFold(n_splits=min(args.folds, 5)).split(rows, y, [e.group for e in rows])
        else:
            folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0).split(rows, y)
        own, own_base = np.zeros(len(rows)), np.zeros(len(rows))
        mixed, mixed_base = np.zeros(len(rows)), np.zeros(len(rows))
        for tr, te in folds:
            test = [rows[i] for i in te]
            own[te], own_base[te] = scores([rows[i] for i in tr], test, args.C)
            mixed[te], mixed_base[te] = scores([rows[i] for i in tr] + others, test, args.C)
        ood, ood_base = scores(others, rows, args.C)
        print(f"{corpus} ({len(rows)} rows, {int(y.sum())} spam, {time.perf_counter() - started:.0f}s):")
        for label, model, base in (
            ("out of domain", ood, ood_base),
            ("in domain only", own, own_base),
            ("others + in domain", mixed, mixed_base),
        ):
            print(f"  {label:<20} {cell(y, model)}   (baseline {cell(y, base)})", flush=True)


if __name__ == "__main__":
    main()

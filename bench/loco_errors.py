"""Error analysis under leave-one-corpus-out: the missed spam and the top-scoring ham at 1 % FPR.

    python bench/loco_errors.py [--examples=N] [--out=FILE]

Fits the production feature union once on the training part (as ``bench/loco_experiments.py``
does, Telegram spam included), one model per held-out corpus, and puts each held-out corpus's cut
where 1 % of its ham scores above it.  Prints, per corpus, the missed spam and the ham above the
cut grouped by a coarse category (keyword rules below: a reading aid, not a feature), the counts,
and up to N examples per category with their behaviour columns; ``--out`` also writes every row.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_training import data as data_mod  # noqa: E402
from model_training import train as train_mod  # noqa: E402
from spamguard.scoring.behaviour import COLUMNS  # noqa: E402
from spamguard.scoring.features import meta_dict  # noqa: E402

# Rule columns printed beside each example.
SHOWN = (*COLUMNS, "blocklist_terms", "n_links")

# First match wins; ordered from the most specific.
CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("investment / crypto", re.compile(r"invest|crypto|bitcoin|btc|forex|trad(e|ing)|profit|earn|income", re.I)),
    ("prize / free offer", re.compile(r"\bwin|won\b|prize|free|award|claim|cash|£|\$\d|reward|bonus|gift", re.I)),
    ("contact / reply request", re.compile(r"\b(call|text|txt|reply|send|contact|dm|inbox|whatsapp|telegram)\b", re.I)),
    (
        "self-promotion (channel/music)",
        re.compile(r"subscri|channel|my (video|music|song|page|profile)|check (out|my)|follow me", re.I),
    ),
    ("link", re.compile(r"https?://|www\.|\.com\b", re.I)),
    ("dating / adult", re.compile(r"\bsex|dating|\bhot\b|girls?\b|single|xxx", re.I)),
    ("praise / generic", re.compile(r"\b(great|nice|love|amazing|awesome|good|cool|best)\b", re.I)),
]


def category(text: str) -> str:
    for name, pattern in CATEGORIES:
        if pattern.search(text):
            return name
    return "other"


def main(argv: list[str]) -> None:
    n_examples = 6
    out_path = None
    for arg in argv:
        if arg.startswith("--examples="):
            n_examples = int(arg.split("=", 1)[1])
        elif arg.startswith("--out="):
            out_path = Path(arg.split("=", 1)[1])
    corpora = data_mod.load_corpora()
    telegram = [e for e in corpora if e.source == "telegram"]
    plain, _gate = data_mod.gate_split([e for e in corpora if e.source != "telegram"])
    train = plain + telegram
    y = np.array([e.label for e in train])
    w = train_mod.example_weights(train)
    features = train_mod.make_features()
    X = features.fit_transform([e.comment for e in train]).tocsr()
    rows_out = []
    for corpus, tr, te in train_mod.loco_folds(train):
        d = train_mod.fit_decisions(X, y, w, tr, te, (train_mod.QUICK_C,))[train_mod.QUICK_C]
        yt = y[te]
        if not yt.any():
            continue
        ham_d = np.sort(d[yt == 0])[::-1]
        k = int(np.floor(0.01 * len(ham_d)))  # at most k ham strictly above the cut
        cut = ham_d[k]
        missed = [i for i, v in zip(te, d, strict=True) if y[i] == 1 and v <= cut]
        top_ham = [i for i, v in zip(te, d, strict=True) if y[i] == 0 and v > cut]
        score = dict(zip(te.tolist(), d.tolist(), strict=True))
        print(
            f"\n=== held-out {corpus}: {len(missed)} of {int(yt.sum())} spam missed, "
            f"{len(top_ham)} of {int((yt == 0).sum())} ham above the cut {cut:.3f}"
        )
        for label, rows in (("missed spam", missed), ("top ham", top_ham)):
            groups: dict[str, list[int]] = defaultdict(list)
            for i in rows:
                groups[category(train[i].comment.comment_content)].append(i)
            counts = Counter({k: len(v) for k, v in groups.items()})
            print(f"--- {label}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
            for name, _ in counts.most_common():
                print(f"  [{name}]")
                ordered = sorted(groups[name], key=lambda i: -score[i] if label == "top ham" else score[i])
                for i in ordered[:n_examples]:
                    meta = meta_dict(train[i].comment)
                    beh = {k: round(v, 2) for k, v in meta.items() if k in SHOWN}
                    text = " ".join(train[i].comment.comment_content.split())[:200]
                    print(f"    {score[i]:+.2f} {beh} {text!r}")
            for i in rows:
                rows_out.append(
                    (
                        corpus,
                        label,
                        category(train[i].comment.comment_content),
                        score[i],
                        " ".join(train[i].comment.comment_content.split()),
                    )
                )
    if out_path:
        with out_path.open("w", encoding="utf-8") as handle:
            for row in rows_out:
                handle.write("\t".join(map(str, row)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

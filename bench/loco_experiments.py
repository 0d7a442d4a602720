"""Leave-one-corpus-out experiments on the training recipe (prints numbers; nothing is registered).

    python bench/loco_experiments.py VARIANT [VARIANT ...]

A variant is ``name:key=value;key=value`` with keys ``C`` (comma list), ``weights`` (``train``:
the recipe's ``example_weights``; ``cap``: each corpus capped at 2,000; ``group``: every
(corpus, class) equal), ``drop`` (meta columns to zero, comma list) and any ``make_features``
keyword (``feat=name``, the harness's alternative feature sets).  Features are fitted once per
feature set on the training part of the bundled corpora (as ``fit_loco`` does).  Prints, per
held-out corpus, ROC-AUC / recall at 1 % FPR and the worst corpus, so recipes are chosen by
leave-one-corpus-out only.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.pipeline import FeatureUnion, Pipeline  # noqa: E402

from model_training import data as data_mod  # noqa: E402
from model_training import train as train_mod  # noqa: E402
from model_training.evaluate import ranking_metrics  # noqa: E402
from spamguard.scoring.transformers import CommentText, MetaFeatures  # noqa: E402


def weights(kind: str, examples: list[data_mod.Example]) -> np.ndarray:
    if kind == "train":
        return train_mod.example_weights(examples)
    if kind == "cap":
        counts = Counter(e.source for e in examples)
        return np.array([min(1.0, 2000.0 / counts[e.source]) for e in examples])
    counts = Counter((e.source, e.label) for e in examples)
    return np.array([1000.0 / counts[e.source, e.label] for e in examples])


class NoPunctText(CommentText):
    """Prepared text without punctuation other than money signs: punctuation style is corpus identity."""

    def transform(self, X):  # type: ignore[no-untyped-def]
        return [_PUNCT_RE.sub(" ", t) for t in super().transform(X)]


_PUNCT_RE = re.compile(r"[^\w\s$£€]")


def _union(
    text_cls: type,
    char: bool = True,
    word: bool = True,
    token: str = r"(?u)\b\w\w+\b|[^\w\s]",
    analyzer: str = "char_wb",
) -> FeatureUnion:
    parts = []
    if word:
        parts.append(
            (
                "word",
                Pipeline(
                    [
                        ("text", text_cls()),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                ngram_range=(1, 2),
                                min_df=2,
                                sublinear_tf=True,
                                max_features=300_000,
                                token_pattern=token,
                            ),
                        ),
                    ]
                ),
            )
        )
    if char:
        parts.append(
            (
                "char",
                Pipeline(
                    [
                        ("text", text_cls()),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                analyzer=analyzer, ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=300_000
                            ),
                        ),
                    ]
                ),
            )
        )
    parts.append(("meta", MetaFeatures()))
    return FeatureUnion(parts)


FEATURE_SETS = {
    "default": train_mod.make_features,
    "nopunct": lambda: _union(NoPunctText, token=r"(?u)\b\w\w+\b|[$£€]"),
    "wordonly": lambda: _union(CommentText, char=False),
    "charonly": lambda: _union(CommentText, word=False),
    "nopunct_char": lambda: _union(NoPunctText, word=False),
}


def se_nested(X, y, w, sources, folds, results, C: float) -> float:
    """Stack Exchange ham blocked at a spam threshold chosen by an inner LOCO without Stack Exchange."""
    names = [c for c, _, _ in folds if c != "stackexchange"]
    se = [r[C] for (c, _, _), r in zip(folds, results, strict=True) if c == "stackexchange"]
    if not se:
        return float("nan")
    splits = [
        (np.flatnonzero((sources != "stackexchange") & (sources != i)), np.flatnonzero(sources == i)) for i in names
    ]
    inner = [train_mod.fit_decisions(X, y, w, tr, te, (C,))[C] for tr, te in splits]
    d_in = np.concatenate(inner)
    y_in = np.concatenate([y[te] for _, te in splits])
    c_in = np.concatenate([sources[te] for _, te in splits])
    a, b = train_mod._platt(d_in, y_in)
    th = train_mod.worst_corpus_thresholds(y_in, 1 / (1 + np.exp(-(a * d_in + b))), c_in)
    p_se = 1 / (1 + np.exp(-(a * se[0] + b)))
    return float(np.mean(p_se >= th["spam"]))


def parse(variant: str) -> tuple[str, dict[str, str]]:
    name, _, spec = variant.partition(":")
    return name, dict(kv.split("=", 1) for kv in spec.split(";") if kv)


def main(variants: list[str]) -> None:
    train, _gate = data_mod.gate_split(data_mod.load_corpora())
    y = np.array([e.label for e in train])
    folds = train_mod.loco_folds(train)
    cache: dict[str, tuple] = {}
    for variant in variants:
        name, opts = parse(variant)
        feat = opts.get("feat", "default")
        if feat not in cache:
            t = time.perf_counter()
            features = FEATURE_SETS[feat]()
            X = features.fit_transform([e.comment for e in train]).tocsr()
            meta = dict(features.transformer_list).get("meta")
            cache[feat] = (X, meta)
            print(f"features {feat} {X.shape} in {time.perf_counter() - t:.1f}s", flush=True)
        X, meta = cache[feat]
        if opts.get("drop") and meta is not None:
            offset = X.shape[1] - len(meta.vocabulary_)
            cols = [offset + meta.vocabulary_[c] for c in opts["drop"].split(",") if c in meta.vocabulary_]
            mask = np.ones(X.shape[1])
            mask[cols] = 0
            X = (X @ sp.diags(mask)).tocsr()
        grid = tuple(float(c) for c in opts.get("C", str(train_mod.QUICK_C)).split(","))
        w = weights(opts.get("weights", "train"), train)
        t = time.perf_counter()
        results = [train_mod.fit_decisions(X, y, w, tr, te, grid) for _, tr, te in folds]
        sources = np.array([e.source for e in train])
        for C in grid:
            se = se_nested(X, y, w, sources, folds, results, C)
            cells, worst = [f"SE nested ham blocked {se:.3f}"], 1.0
            for (c, _, te), r in zip(folds, results, strict=True):
                m = ranking_metrics(y[te], r[C])
                if "roc_auc" in m:
                    worst = min(worst, m["recall_at_1pct_fpr"])
                    cells.append(f"{c} {m['roc_auc']:.3f}/{m['recall_at_1pct_fpr']:.3f}")
            print(
                f"{name} C={C}: worst {worst:.3f} | " + " | ".join(cells) + f"  ({time.perf_counter() - t:.0f}s)",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])

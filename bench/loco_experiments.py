"""Leave-one-corpus-out experiments on the training recipe (prints numbers; nothing is registered).

    python bench/loco_experiments.py [--per-template=N] VARIANT [VARIANT ...]

A variant is ``name:key=value;key=value``.  Keys:

* ``C``: comma list of regularisation strengths;
* ``weights``: ``train`` (the recipe's ``example_weights``), ``cap`` (each corpus capped at 2,000,
  the recipe's corpus rule alone), ``group`` (every (corpus, class) equal, synthetic included),
  ``corpbal`` (the recipe's weights, then each two-class corpus's classes equal in total) or
  ``group_real`` (every real (corpus, class) equal, the training-only spam at the recipe's weight);
  ``synw``: a factor on the synthetic spam's weight;
* ``feat``: one of the harness's feature sets (``FEATURE_SETS``); ``mf_<name>``: a
  ``make_features`` keyword (``mf_min_df=5``, ``mf_char_ngram=3-5``); ``sp_<param>``: a
  ``set_params`` of the union (``sp_char__tfidf__min_df=2``); ``drop``: meta columns to zero;
* ``stage2``: ``lr`` / ``hgb``, a second model over the linear decision and the metadata, fitted
  on inner leave-one-corpus-out decisions (the held-out corpus is unseen at both stages);
* ``shrink``: k; every text (word/char) column is multiplied by df / (df + k), df its document
  frequency (label-free; the factor can be folded back into the coefficients, so serving would not
  change): a rare n-gram needs a larger weight to matter, i.e. is regularised harder;
* ``andmask``: a tolerance; columns that two training corpora's own models weigh in opposite
  directions are zeroed before the pooled fit;
* ``dom``: a value; one indicator column per corpus in ``doms`` (comma list, default
  youtube,sms,instagram,telegram) with that value on the corpus's rows, so the corpus's base rate need
  not be carried by its words (serving has no such column: the held-out corpus's column trains on no
  row and stays 0, as it would in serving);
* ``cw_<corpus>``: a factor on that corpus's weights (``cw_stackexchange=0.5``);
* ``synzero``: meta columns (comma list) zeroed on the synthetic spam's rows only, so their weights are
  learned from real comments (``synzero=blocklist_terms``: the spintax templates come from the same
  project as the blocklist, so the column fires on them by construction);
* ``tg=1``: keep the English Telegram investment/crypto-fraud spam (``data_mod.load_telegram``,
  training-only rows like the synthetic spam: never held out), which the production recipe trains on;
  without it a variant trains on the corpora before it was added; ``tgw``: a factor on its weight;
* ``ext=1``: also fit on every training row and score two sets no recipe trains on, read from
  ``$SHARED_DATA`` (default /work/shared/data) and never copied: Stack Overflow comments vs Stack
  Exchange spam reports (DeepSPADE data3, deduplicated; ~1/3 of its spam labels look like ordinary
  question titles, so recall there is a lower bound) with a length-only AUC beside it, and the splam
  forum fixtures (24 ham / 40 spam after dropping duplicates and placeholders: counts, not rates).
  Both at the spam threshold this variant's LOCO would ship (Platt + worst-corpus);
* ``phrcw``: the non-stop words a multi-word blocklist entry needs to count (``normalize.MIN_CONTENT_WORDS``,
  2 in production); ``phrcw=0`` counts every entry, as before; with ``ext=1`` the row also prints the
  ``blocklist_terms`` contribution (log-odds) on each splam ham post it fires on;
* ``lencap``: the prose length (characters) where the length feature saturates (``features.LENGTH_CAP_CHARS``,
  600 in production); ``lencap=65536`` is the uncapped feature before issue 11;
* a variant named ``baseline...``: word TF-IDF + LR on the raw text (the report's baseline).

``--per-template=N`` realises each comment-bot spintax template N times instead of 4.
Features are fitted once per feature set on the training part of the bundled corpora (as
``fit_loco`` does).  Prints, per held-out corpus, ROC-AUC / recall at 1 % FPR, the worst corpus and
Stack Exchange's nested ham blocked, so recipes are chosen by leave-one-corpus-out only.

Results and history: docs/measurements.md, "Recipe candidates", "Out-of-domain candidates" and
"Behaviour features".
"""

from __future__ import annotations

import csv
import json
import os
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
from model_training.evaluate import baseline_scores, length_only_scores, ranking_metrics  # noqa: E402
from spamguard.comment import Comment  # noqa: E402
from spamguard.scoring import features as features_mod  # noqa: E402
from spamguard.scoring import normalize as normalize_mod  # noqa: E402
from spamguard.scoring.features import normalise_text  # noqa: E402
from spamguard.scoring.transformers import CommentText, MetaFeatures  # noqa: E402

_LENGTH_CAP = features_mod.LENGTH_CAP_CHARS
_CONTENT_WORDS = normalize_mod.MIN_CONTENT_WORDS
SHARED = Path(os.environ.get("SHARED_DATA", "/work/shared/data"))
# splam placeholders, not comments (its README, quirk 2)
_SPLAM_PLACEHOLDERS = {"uniqueness.txt", "url_only_idiot.txt", "phrase_repeat.txt"}


def _examples(pairs: list[tuple[str, int]], source: str) -> list[data_mod.Example]:
    out = [data_mod.Example(Comment(comment_content=normalise_text(t)), label, source, source) for t, label in pairs]
    return data_mod.dedupe_examples(out)


def external_sets() -> dict[str, list[data_mod.Example]]:
    """The evaluation-only sets (see the docstring); pos.txt is HAM, neg.txt SPAM (DeepSPADE naming)."""
    se = SHARED / "stackexchange-spam-vs-comments"
    with open(se / "pos.txt", encoding="utf-8", newline="") as handle:  # CRLF lines, CSV-quoted
        raw = handle.read().split("\r\n")[:-1]
    ham = [row[0] for row in csv.reader(raw)]
    spam = [json.loads(line, strict=False) for line in (se / "neg.txt").read_text(encoding="utf-8").split("\n")[:-1]]
    forum = SHARED / "forum-comments-splam"
    splam = [
        (f.read_text(encoding="utf-8").replace("\r\n", "\n"), int(label == "spam"))
        for label in ("ham", "spam")
        for f in sorted((forum / label).glob("*.txt"))
        if f.name not in _SPLAM_PLACEHOLDERS
    ]
    return {
        "se_spam_vs_so": _examples([(t, 0) for t in ham] + [(t, 1) for t in spam], "se_spam_vs_so"),
        "splam": _examples(splam, "splam"),
    }


def external_cells(
    train: list[data_mod.Example], scores: dict[str, np.ndarray], probs: dict[str, np.ndarray], spam_th: float, w
) -> list[str]:
    """Ranking metrics on the DeepSPADE set (length-only AUC beside it); counts at the spam threshold."""
    cells = []
    for name, exs in EXTERNAL.items():
        y = np.array([e.label for e in exs])
        blocked = probs[name] >= spam_th
        ham_b, spam_c = int(blocked[y == 0].sum()), int(blocked[y == 1].sum())
        if name == "splam":
            cells.append(f"splam ham blocked {ham_b}/{int((y == 0).sum())}, spam caught {spam_c}/{int(y.sum())}")
            continue
        m = ranking_metrics(y, scores[name])
        lo = ranking_metrics(y, length_only_scores(train, exs, weights=w))
        cells.append(
            f"{name} {m['roc_auc']:.3f}/{m['recall_at_1pct_fpr']:.3f} (length-only, corpora-trained, AUC {lo['roc_auc']:.3f}),"
            f" at spam threshold ham blocked {ham_b / max(int((y == 0).sum()), 1):.3f} spam caught"
            f" {spam_c / max(int(y.sum()), 1):.3f}"
        )
    return cells


EXTERNAL: dict[str, list[data_mod.Example]] = {}


def phrase_contributions(X, meta, clf, features, scale) -> str:
    """``blocklist_terms``'s log-odds contribution (column value × weight) on each splam ham post it fires on."""
    col = X.shape[1] - len(meta.vocabulary_) + meta.vocabulary_["blocklist_terms"]
    ham = [e.comment for e in EXTERNAL["splam"] if e.label == 0]
    values = (features.transform(ham) @ sp.diags(scale))[:, col].toarray().ravel()
    fired = [f"{v * clf.coef_.ravel()[col]:+.2f}" for v in values if v]
    return f"blocklist_terms on splam ham: fires on {len(fired)}/{len(ham)} [{' '.join(fired)}]"


def weights(kind: str, examples: list[data_mod.Example]) -> np.ndarray:
    if kind == "train":
        return train_mod.example_weights(examples)
    if kind == "cap":
        counts = Counter(e.source for e in examples)
        return np.array([min(1.0, 2000.0 / counts[e.source]) for e in examples])
    if kind == "corpbal":  # the recipe's weights, then each two-class corpus's classes given equal totals
        w = train_mod.example_weights(examples)
        per = Counter()
        for e, wi in zip(examples, w, strict=True):
            per[e.source, e.label] += wi
        return np.array(
            [
                wi * (per[e.source, 0] + per[e.source, 1]) / (2 * per[e.source, e.label])
                if per[e.source, 0] and per[e.source, 1]
                else wi
                for e, wi in zip(examples, w, strict=True)
            ]
        )
    counts = Counter((e.source, e.label) for e in examples)
    if kind == "group_real":  # every real (corpus, class) equal; training-only spam keeps the recipe's weight
        w = train_mod.example_weights(examples)
        return np.array(
            [
                wi if e.source in ("synthetic", "telegram") else 1000.0 / counts[e.source, e.label]
                for e, wi in zip(examples, w, strict=True)
            ]
        )
    return np.array([1000.0 / counts[e.source, e.label] for e in examples])


class NoPunctText(CommentText):
    """Prepared text without punctuation other than money signs: punctuation style is corpus identity."""

    def transform(self, X):  # type: ignore[no-untyped-def]
        return [_PUNCT_RE.sub(" ", t) for t in super().transform(X)]


_PUNCT_RE = re.compile(r"[^\w\s$£€]")


class OneNumberText(CommentText):
    """Prepared text with every number one token ``0``: number length (phone vs view count) is corpus identity."""

    def transform(self, X):  # type: ignore[no-untyped-def]
        return [_NUM_RE.sub("0", t) for t in super().transform(X)]


_NUM_RE = re.compile(r"\d+(?:[.,]\d+)*")


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
    "onenum": lambda: _union(OneNumberText),
    "char_nowb": lambda: _union(CommentText, analyzer="char"),
    "nopunct_both": lambda: _union(NoPunctText, token=r"(?u)\b\w\w+\b|[$£€]"),
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


def second_stage(X, y, w, sources, meta_cols: slice, C: float, kind: str) -> dict[str, np.ndarray]:
    """Per held-out corpus: a second model over (linear decision, metadata), fitted on inner-LOCO decisions.

    The inner folds never see the held-out corpus, so its rows are scored by models that never saw it
    at either stage.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    out = {}
    for c in data_mod.EVAL_CORPORA:
        te = np.flatnonzero(sources == c)
        if not y[te].any():
            continue
        rest = [i for i in data_mod.EVAL_CORPORA if i != c and (sources == i).any()]
        inner = [(np.flatnonzero((sources != c) & (sources != i)), np.flatnonzero(sources == i)) for i in rest]
        rows = np.concatenate([b for _, b in inner])
        dec = np.concatenate([train_mod.fit_decisions(X, y, w, a, b, (C,))[C] for a, b in inner])
        tr = np.flatnonzero(sources != c)
        d_te = train_mod.fit_decisions(X, y, w, tr, te, (C,))[C]
        meta = X[:, meta_cols]
        z_tr = np.column_stack([dec, meta[rows].toarray()])
        z_te = np.column_stack([d_te, meta[te].toarray()])
        if kind == "hgb":
            m = HistGradientBoostingClassifier(max_iter=100, max_depth=3, learning_rate=0.1, random_state=0)
        else:
            m = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
        m.fit(z_tr, y[rows], sample_weight=w[rows])
        out[c] = m.predict_proba(z_te)[:, 1]
        t = time.perf_counter()
        for i in range(200):  # the serving cost: one comment per call, as a worker scores
            m.predict_proba(z_te[i : i + 1])
        print(f"  stage2 {kind} held-out {c}: {(time.perf_counter() - t) / 200 * 1e6:.0f} µs per comment", flush=True)
    return out


def and_mask_decisions(X, y, w, sources, tr, te, C: float, tol: float) -> np.ndarray:
    """Keep only columns whose weight no training corpus contradicts (an AND-mask), then fit pooled.

    One model per training corpus that has both classes (plus the one-class corpora, which every
    such model shares); a column one model pushes toward spam (> tol) and another toward ham (< -tol)
    is a corpus shortcut and is zeroed before the pooled fit.
    """
    trs = sources[tr]
    shared = tr[np.isin(trs, ["stackexchange", "synthetic", "db"])]
    signs_pos = np.zeros(X.shape[1], bool)
    signs_neg = np.zeros(X.shape[1], bool)
    for c in np.unique(trs):
        rows = tr[trs == c]
        if len(np.unique(y[rows])) < 2:
            continue
        rows = np.concatenate([rows, shared])
        coef = train_mod.fit_classifier(C, X[rows], y[rows], w[rows]).coef_.ravel()
        signs_pos |= coef > tol
        signs_neg |= coef < -tol
    keep = ~(signs_pos & signs_neg)
    Xm = (X @ sp.diags(keep.astype(float))).tocsr()
    return train_mod.fit_decisions(Xm, y, w, tr, te, (C,))[C]


def _param(value: str):  # type: ignore[no-untyped-def]
    """``2-5`` → (2, 5), ``3`` → 3."""
    return tuple(int(v) for v in value.split("-")) if "-" in value else int(value)


def parse(variant: str) -> tuple[str, dict[str, str]]:
    name, _, spec = variant.partition(":")
    return name, dict(kv.split("=", 1) for kv in spec.split(";") if kv)


def platt_threshold(y, decisions: np.ndarray, sources: np.ndarray) -> tuple[float, float, float]:
    """(a, b, spam threshold) as ``fit_loco`` ships them, from pooled held-out decisions."""
    a, b = train_mod._platt(decisions, y)
    th = train_mod.worst_corpus_thresholds(y, 1 / (1 + np.exp(-(a * decisions + b))), sources)
    return a, b, th["spam"]


def main(variants: list[str]) -> None:
    if variants and variants[0].startswith("--per-template="):  # more spintax realisations per template
        n = int(variants.pop(0).split("=", 1)[1])
        default = data_mod.load_synthetic
        data_mod.load_synthetic = lambda: default(per_template=n)  # type: ignore[assignment]
    corpora = data_mod.load_corpora()  # the production training set (Telegram spam included)
    telegram = [e for e in corpora if e.source == "telegram"]
    plain, _gate = data_mod.gate_split([e for e in corpora if e.source != "telegram"])
    cache: dict[str, tuple] = {}
    for variant in variants:
        name, opts = parse(variant)
        train = plain + telegram if opts.get("tg") == "1" else plain
        y = np.array([e.label for e in train])
        sources = np.array([e.source for e in train])
        folds = train_mod.loco_folds(train)
        w = weights(opts.get("weights", "train"), train)
        if "synw" in opts:  # scale the synthetic comment-bot spam's weight
            w = w * np.where(sources == "synthetic", float(opts["synw"]), 1.0)
        if "tgw" in opts:
            w = w * np.where(sources == "telegram", float(opts["tgw"]), 1.0)
        for k, v in opts.items():  # cw_<corpus>=factor: a factor on one corpus's weights
            if k.startswith("cw_"):
                w = w * np.where(sources == k[3:], float(v), 1.0)
        if opts.get("ext") == "1" and not EXTERNAL:
            EXTERNAL.update(external_sets())
        if name.startswith("baseline"):  # word TF-IDF + LR on the raw text (the report's baseline), same folds
            cells, worst, decs = [], 1.0, []
            for c, tr, te in folds:
                d = baseline_scores([train[i] for i in tr], [train[i] for i in te], weights=w[tr])
                decs.append(d)
                m = ranking_metrics(y[te], d)
                if "roc_auc" in m:
                    worst = min(worst, m["recall_at_1pct_fpr"])
                    cells.append(f"{c} {m['roc_auc']:.3f}/{m['recall_at_1pct_fpr']:.3f}")
            if EXTERNAL and opts.get("ext") == "1":
                rows = np.concatenate([te for _, _, te in folds])
                a, b, th = platt_threshold(y[rows], np.concatenate(decs), sources[rows])
                ext = {k: baseline_scores(train, v, weights=w) for k, v in EXTERNAL.items()}
                cells += external_cells(train, ext, {k: 1 / (1 + np.exp(-(a * d + b))) for k, d in ext.items()}, th, w)
            print(f"{name}: worst {worst:.3f} | " + " | ".join(cells), flush=True)
            continue
        feat = opts.get("feat", "default")
        # prose length cap (features.LENGTH_CAP_CHARS); lencap=65536 is the uncapped feature before issue 11
        features_mod.LENGTH_CAP_CHARS = int(opts.get("lencap", _LENGTH_CAP))
        # non-stop words a multi-word blocklist entry needs (normalize.MIN_CONTENT_WORDS); phrcw=0 is every entry
        normalize_mod.MIN_CONTENT_WORDS = int(opts.get("phrcw", _CONTENT_WORDS))
        normalize_mod.blocklist_phrases.cache_clear()
        normalize_mod._phrase_followers.cache_clear()
        params = {k[3:]: _param(v) for k, v in opts.items() if k.startswith("mf_")}  # make_features keywords
        key = (
            feat
            + opts.get("tg", "")
            + str(features_mod.LENGTH_CAP_CHARS)
            + f"phrcw{normalize_mod.MIN_CONTENT_WORDS}"
            + repr(sorted((k, v) for k, v in opts.items() if k.startswith(("mf_", "sp_"))))
        )
        if key not in cache:
            t = time.perf_counter()
            features = FEATURE_SETS[feat](**params)
            features.set_params(**{k[3:]: _param(v) for k, v in opts.items() if k.startswith("sp_")})
            X = features.fit_transform([e.comment for e in train]).tocsr()
            meta = dict(features.transformer_list).get("meta")
            cache[key] = (X, meta, features)
            print(f"features {key} {X.shape} in {time.perf_counter() - t:.1f}s", flush=True)
        X, meta, features = cache[key]
        scale = np.ones(X.shape[1])  # column factors, applied to the external sets too
        if opts.get("drop") and meta is not None:
            offset = X.shape[1] - len(meta.vocabulary_)
            scale[[offset + meta.vocabulary_[c] for c in opts["drop"].split(",") if c in meta.vocabulary_]] = 0
        if "shrink" in opts:  # text columns scaled by df / (df + k); could be folded back into the coefficients
            n_text = X.shape[1] - (len(meta.vocabulary_) if meta is not None else 0)
            df = np.asarray((X[:, :n_text] != 0).sum(axis=0)).ravel().astype(float)
            scale[:n_text] *= df / (df + float(opts["shrink"]))
        X = (X @ sp.diags(scale)).tocsr()
        if opts.get("synzero") and meta is not None:  # meta columns zeroed on the synthetic spam's rows only
            offset = X.shape[1] - len(meta.vocabulary_)
            synthetic = sources == "synthetic"
            X = X.tocsc(copy=True)
            for c in [offset + meta.vocabulary_[c] for c in opts["synzero"].split(",") if c in meta.vocabulary_]:
                a, b = X.indptr[c], X.indptr[c + 1]
                X.data[a:b][synthetic[X.indices[a:b]]] = 0
            X.eliminate_zeros()
            X = X.tocsr()
        if "dom" in opts:  # corpus indicators; the held-out corpus's column has no training row, so weight 0
            if opts.get("ext") == "1":
                raise SystemExit("dom: the external sets have no corpus column (use without ext=1)")
            doms = opts.get("doms", "youtube,sms,instagram,telegram").split(",")
            ind = np.column_stack([(sources == d) * float(opts["dom"]) for d in doms])
            X = sp.hstack([X, sp.csr_matrix(ind)]).tocsr()
        grid = tuple(float(c) for c in opts.get("C", str(train_mod.QUICK_C)).split(","))
        t = time.perf_counter()
        if "stage2" in opts and meta is not None:
            cols = slice(X.shape[1] - len(meta.vocabulary_), X.shape[1])
            scores = second_stage(X, y, w, sources, cols, grid[0], opts["stage2"])
            cells = [
                f"{c} " + "{roc_auc:.3f}/{recall_at_1pct_fpr:.3f}".format(**ranking_metrics(y[sources == c], p))
                for c, p in scores.items()
            ]
            print(f"{name} stage2={opts['stage2']}: " + " | ".join(cells) + f"  ({time.perf_counter() - t:.0f}s)")
            continue
        if "andmask" in opts:
            cells, worst = [], 1.0
            for c, tr, te in folds:
                m = ranking_metrics(
                    y[te], and_mask_decisions(X, y, w, sources, tr, te, grid[0], float(opts["andmask"]))
                )
                if "roc_auc" in m:
                    worst = min(worst, m["recall_at_1pct_fpr"])
                    cells.append(f"{c} {m['roc_auc']:.3f}/{m['recall_at_1pct_fpr']:.3f}")
            print(
                f"{name}: worst {worst:.3f} | " + " | ".join(cells) + f"  ({time.perf_counter() - t:.0f}s)", flush=True
            )
            continue
        results = [train_mod.fit_decisions(X, y, w, tr, te, grid) for _, tr, te in folds]
        for C in grid:
            se = se_nested(X, y, w, sources, folds, results, C)
            cells, worst = [f"SE nested ham blocked {se:.4f}"], 1.0
            for (c, _, te), r in zip(folds, results, strict=True):
                m = ranking_metrics(y[te], r[C])
                if "roc_auc" in m:
                    worst = min(worst, m["recall_at_1pct_fpr"])
                    cells.append(f"{c} {m['roc_auc']:.3f}/{m['recall_at_1pct_fpr']:.3f}")
            if EXTERNAL and opts.get("ext") == "1":
                rows = np.concatenate([te for _, _, te in folds])
                a, b, th = platt_threshold(y[rows], np.concatenate([r[C] for r in results]), sources[rows])
                clf = train_mod.fit_classifier(C, X, y, w)
                ext = {
                    k: clf.decision_function(features.transform([e.comment for e in v]) @ sp.diags(scale))
                    for k, v in EXTERNAL.items()
                }
                cells += external_cells(train, ext, {k: 1 / (1 + np.exp(-(a * d + b))) for k, d in ext.items()}, th, w)
                if meta is not None and "blocklist_terms" in meta.vocabulary_:
                    cells.append(phrase_contributions(X, meta, clf, features, scale))
            print(
                f"{name} C={C}: worst {worst:.3f} | " + " | ".join(cells) + f"  ({time.perf_counter() - t:.0f}s)",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])

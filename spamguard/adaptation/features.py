"""The handful of bounded, nameable features a site's correction is fitted on.

Each is in [-1, 1] (most in [0, 1]), so a weight says directly how far that
feature can move the log-odds, and a moderator can read the explanation
("long comment", "uses this site's vocabulary").  Everything here is linear in
the text, which is capped first like every other consumer of comment text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Container, Iterable
from dataclasses import dataclass

from spamguard.comment import Comment
from spamguard.scoring.features import find_urls, normalise_text
from spamguard.scoring.stopwords import ENGLISH_STOP_WORDS

NAMES = ("global", "length", "links", "code", "author_email", "ham_words", "spam_words")
# What a feature pushing toward ham/spam means, for the reasons list.
DESCRIPTIONS = {
    "global": "the global model's score",
    "length": "comment length",
    "links": "links",
    "code": "code or an error message",
    "author_email": "author e-mail given",
    "ham_words": "words this site's ham uses",
    "spam_words": "words this site's spam uses",
}
MAX_CHARS = 20_000  # the features look at the first 20 K characters only
MAX_WORDS = 300  # distinct words per comment taken into account
LONG = math.log1p(2000)  # 2,000 characters and more count as fully "long"
GLOBAL_SCALE = 8.0  # global log-odds beyond ±8 count as ±1
VOCAB_SIZE = 400  # words kept per class and site
MIN_DOC_FREQ = 2  # a word one labelled comment uses is that comment's, not the site's

_WORD_RE = re.compile(r"[^\W\d_]{3,30}")
# Pasted code, shell output and tracebacks; each alternative is bounded, so the scan is linear.
_CODE_RE = re.compile(
    r"```|Traceback \(most recent call last\)|\b[A-Z]\w{0,40}(?:Error|Exception)\b|\w\(\)|[;{}]\s*$"
    r"|\b(?:def|import|return|function|const|var|sudo|pip|npm|printf|println|echo)\s|==|=>|::|->|\$\(|#include",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Parts:
    """What the features need of one comment, small enough to keep for every row a refit reuses."""

    text: tuple[float, ...]  # length, links, code, author e-mail: the features that do not depend on the site
    tokens: tuple[str, ...]  # its distinct content words


def words(text: str) -> tuple[str, ...]:
    """Distinct content words (letters only, no stop words), at most MAX_WORDS, casefolded."""
    out: dict[str, None] = {}
    for match in _WORD_RE.finditer(text):
        word = match.group(0).casefold()
        if word not in ENGLISH_STOP_WORDS:
            out[word] = None
            if len(out) >= MAX_WORDS:
                break
    return tuple(out)


def parts(comment: Comment) -> Parts:
    text = normalise_text(comment.comment_content[:MAX_CHARS])
    return Parts(
        (
            min(1.0, math.log1p(len(text)) / LONG),
            min(1.0, len(find_urls(text)) / 3.0),
            1.0 if _CODE_RE.search(text) else 0.0,
            1.0 if "@" in comment.comment_author_email else 0.0,
        ),
        words(text),
    )


def _overlap(tokens: tuple[str, ...], vocab: Container[str], own: Counter[str] | None = None) -> float:
    """Fraction of the comment's words in `vocab`; with `own` (document frequencies of the vocabulary's
    own training rows), a word counts only if other comments use it too (leave-one-out)."""
    if not tokens:
        return 0.0
    if own is None:
        hits = sum(1 for t in tokens if t in vocab)
    else:
        hits = sum(1 for t in tokens if t in vocab and own[t] - 1 >= MIN_DOC_FREQ)
    return hits / len(tokens)


def vector(
    p: Parts,
    global_logit: float,
    ham_vocab: Container[str],
    spam_vocab: Container[str],
    *,
    ham_df: Counter[str] | None = None,
    spam_df: Counter[str] | None = None,
) -> list[float]:
    """The feature vector, in NAMES order.  `ham_df`/`spam_df` are passed only for training rows of
    that class, so a labelled comment does not vouch for its own words."""
    return [
        max(-1.0, min(1.0, global_logit / GLOBAL_SCALE)),
        *p.text,
        _overlap(p.tokens, ham_vocab, ham_df),
        _overlap(p.tokens, spam_vocab, spam_df),
    ]


def vocabulary(
    documents: Iterable[tuple[str, ...]], background: list[tuple[str, ...]]
) -> tuple[list[str], Counter[str]]:
    """The words that mark one class of a site's labelled comments, and their document frequencies.

    A word is kept when at least MIN_DOC_FREQ labelled comments use it and they use it more often
    than the site's other comments (`background`) do: "thanks" or "version" is everyone's, "nozzle" is
    this blog's ham.  The VOCAB_SIZE words with the largest difference are kept."""
    df: Counter[str] = Counter()
    n = 0
    for tokens in documents:
        df.update(tokens)
        n += 1
    bg: Counter[str] = Counter()
    for tokens in background:
        bg.update(tokens)
    lift = {w: c / max(n, 1) - bg[w] / max(len(background), 1) for w, c in df.items() if c >= MIN_DOC_FREQ}
    kept = sorted((w for w, d in lift.items() if d > 0), key=lambda w: (-lift[w], w))[:VOCAB_SIZE]
    return kept, df

"""Poisoning defence: what one key's unconfirmed reports may teach the model.

Rule: a feature that only untrusted (API) feedback supports does not enter the
model.  A word, symbol run, link domain or author e-mail domain in an API report
is *supported* when it also occurs in trusted training data (the corpora,
moderator decisions) or in API reports from at least ``min_sites`` distinct
sites.  Unsupported ones are masked out of the untrusted examples before
fitting: words and symbol runs are deleted, links to unsupported domains
removed, an unsupported author e-mail dropped.  The example itself stays, so
its supported content still counts (within the per-key cap and weight budget);
one left with no text at all is dropped.

Against the trigger-word backdoor (spam reported as ham with a made-up word
appended) this leaves the word out of the vocabulary: the model cannot learn
it, whatever its label.  Matching is on casefolded, normalised text; a word
that only differs by case or normalisation from trusted text is supported.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace

from model_training.data import Example
from spamguard.scoring.features import find_urls, normalise_text, url_domain

# Words, and runs of symbols (emoji, punctuation): the pieces a trigger can be made of.
_PIECE_RE = re.compile(r"\w+|[^\w\s]+")


def _email_domain(example: Example) -> str:
    email = example.comment.comment_author_email.strip().lower()
    return email.rsplit("@", 1)[1] if "@" in email else ""


def _segments(text: str) -> list[tuple[bool, str]]:
    """The text cut into (is_link, part), in order (links as the scorer finds them)."""
    parts, pos = [], 0
    for url in find_urls(text):
        at = text.find(url, pos)
        if at < 0:
            continue
        parts += [(False, text[pos:at]), (True, url)]
        pos = at + len(url)
    return parts + [(False, text[pos:])]


def _features(example: Example) -> tuple[set[str], set[str]]:
    """(text pieces, domains) of one example: content words/symbol runs; link and e-mail domains."""
    pieces, domains = set(), set()
    for is_link, part in _segments(normalise_text(example.text)):
        if is_link:
            domains.add(url_domain(part))
        else:
            pieces.update(p.casefold() for p in _PIECE_RE.findall(part))
    email = _email_domain(example)
    if email:
        domains.add(email)
    return pieces, domains - {""}


def _masked_text(text: str, pieces: set[str], domains: set[str]) -> tuple[str, int]:
    """The text with unsupported pieces and links to unsupported domains blanked; (text, count)."""
    out, masked = [], 0

    def piece(match: re.Match[str]) -> str:
        nonlocal masked
        if match.group(0).casefold() in pieces:
            return match.group(0)
        masked += 1
        return " "

    for is_link, part in _segments(normalise_text(text)):
        if is_link and url_domain(part) not in domains:
            masked += 1
            part = " "
        out.append(part if is_link else _PIECE_RE.sub(piece, part))
    return " ".join("".join(out).split()), masked


# Support from two sites is enough to train on: the rule is that ONE key's unconfirmed reports never
# reach the model (issue: a trigger word planted by one key), while a campaign reported by two sites
# must be learnable. Reputation, which moves live verdicts, asks for more (SPAMGUARD_REPUTATION_MIN_SITES).
MIN_REPORTING_SITES = 2


def vouched_words(feedback: list[Example], min_sites: int = MIN_REPORTING_SITES) -> set[str]:
    """Text pieces the sites' feedback teaches legitimately: in a moderator decision, or in reports or
    implicit ham from ``min_sites`` distinct sites. The gate's trigger test does not treat these as
    planted triggers (a campaign's surroundings, learned from two sites' ham, move toward ham by design)."""
    groups: dict[str, set[str]] = defaultdict(set)
    vouched: set[str] = set()
    for example in feedback:
        pieces, _domains = _features(example)
        if example.trusted:
            vouched |= pieces
        for piece in pieces:
            groups[piece].add(example.group)
    return vouched | {piece for piece, g in groups.items() if len(g) >= min_sites}


def mask_unsupported(
    trusted: list[Example], feedback: list[Example], min_sites: int = MIN_REPORTING_SITES
) -> tuple[list[Example], int]:
    """Mask, in untrusted feedback, every feature no trusted example or ``min_sites`` sites support.

    Returns (feedback with masked copies of the untrusted examples, number of features masked).
    Untrusted examples left without text are dropped.
    """
    untrusted = [e for e in feedback if not e.trusted]
    if not untrusted:
        return feedback, 0
    pieces: set[str] = set()
    domains: set[str] = set()
    for example in trusted + [e for e in feedback if e.trusted]:
        p, d = _features(example)
        pieces |= p
        domains |= d
    reporters: dict[tuple[str, str], set[str]] = defaultdict(set)
    for example in untrusted:
        p, d = _features(example)
        for name in p:
            reporters["piece", name].add(example.group)
        for name in d:
            reporters["domain", name].add(example.group)
    for (kind, name), groups in reporters.items():
        if len(groups) >= min_sites:
            (pieces if kind == "piece" else domains).add(name)

    out, masked = [], 0
    for example in feedback:
        if example.trusted:
            out.append(example)
            continue
        p, d = _features(example)
        if p <= pieces and d <= domains:
            out.append(example)
            continue
        text, n = _masked_text(example.text, pieces, domains)
        masked += n
        if not text:
            continue  # nothing of it is supported: an empty text would only teach "empty means <label>"
        comment = replace(example.comment, comment_content=text)
        if _email_domain(example) and _email_domain(example) not in domains:
            comment.comment_author_email = ""
            masked += 1
        out.append(replace(example, comment=comment))
    return out, masked

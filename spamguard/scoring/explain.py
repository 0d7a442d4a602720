"""Which explanation features are worth showing a moderator.

Function words ("the", "for the") and character n-grams ("lx") move the score but
tell a person nothing they can act on; explanations keep content words, phrases
with at least one content word, and metadata signals.  Used when a comment is
scored and again at display time, so reasons stored by older models read the same.
"""

from __future__ import annotations

import re

from spamguard.scoring.stopwords import ENGLISH_STOP_WORDS

# Placeholders the word vectoriser emits for links, e-mails and numbers count as content.
_PLACEHOLDER = re.compile(r"^<[^<>]+>$|^__\w+__$")
_QUOTED = re.compile(r'^(?P<kind>word|phrase|text fragment|punctuation) "(?P<text>.*)"$', re.S)


def is_function_words(phrase: str) -> bool:
    """True when no token of the phrase carries content (stop words, single characters, punctuation)."""
    for token in phrase.split():
        if _PLACEHOLDER.match(token) or token.isdigit():
            return False
        word = token.strip("'\".,;:!?()[]{}-").lower()
        if len(word) > 1 and word not in ENGLISH_STOP_WORDS:
            return False
    return True


def useful_feature(block: str, feature: str) -> bool:
    """Whether a model feature (block, name) makes a reason a moderator can act on."""
    if block == "char":
        return False
    if block == "word":
        return not is_function_words(feature)
    return True


def useful_reason(reason: str) -> bool:
    """Whether a stored reason string (e.g. 'spam signal: word "the"') is worth showing."""
    text = reason.split(": ", 1)[1] if reason.startswith(("spam signal: ", "ham signal: ")) else reason
    match = _QUOTED.match(text)
    if match is None:
        return True
    if match["kind"] in ("text fragment", "punctuation"):
        return False
    return not is_function_words(match["text"])


def display_reasons(reasons: list[str] | None, limit: int | None = None) -> list[tuple[str, str]]:
    """Useful reasons as (side, text): side is 'spam', 'ham' or '' (rules, reputation, triggers)."""
    out = []
    for reason in reasons or []:
        if not isinstance(reason, str) or not useful_reason(reason):
            continue
        side, text = "", reason
        for prefix in ("spam", "ham"):
            if reason.startswith(f"{prefix} signal: "):
                side, text = prefix, reason[len(prefix) + len(" signal: ") :]
        out.append((side, text))
    return out[:limit] if limit is not None else out

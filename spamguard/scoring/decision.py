"""From a calibrated probability (and Akismet's test triggers) to a verdict.

Order matters and follows the spec's §3 recommendation: an administrator is
always ham, then the guaranteed-spam triggers, then a filled honeypot, then the
model's probability against the thresholds (the site's overrides first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spamguard.comment import Comment

HAM, UNSURE, SPAM, DISCARD = "ham", "unsure", "spam", "discard"
VERDICTS = (HAM, UNSURE, SPAM, DISCARD)
THRESHOLD_NAMES = (UNSURE, SPAM, DISCARD)

GUARANTEED_SPAM_AUTHORS = {"akismet-guaranteed-spam", "viagra-test-123"}
GUARANTEED_SPAM_EMAIL = "akismet-guaranteed-spam@example.com"


@dataclass(frozen=True)
class Decision:
    verdict: str
    reasons: list[str]


def merge_thresholds(model: Mapping[str, float], site: Mapping[str, Any] | None) -> dict[str, float]:
    """The model's thresholds with a site's valid overrides applied, kept in order."""
    merged = {name: float(model[name]) for name in THRESHOLD_NAMES}
    for name, value in (site or {}).items():
        if name in merged and isinstance(value, (int, float)) and 0.0 <= value <= 1.0:
            merged[name] = float(value)
    # unsure <= spam <= discard, whatever the overrides said.
    merged[SPAM] = max(merged[SPAM], merged[UNSURE])
    merged[DISCARD] = max(merged[DISCARD], merged[SPAM])
    return merged


def trigger_verdict(comment: Comment, discard_trigger: str = "") -> Decision | None:
    """Akismet's documented test triggers and the honeypot: verdicts no model may overrule."""
    author = comment.comment_author.strip().lower()
    if "administrator" in comment.roles:
        return Decision(HAM, ["test trigger: user_role administrator"])
    if discard_trigger and author == discard_trigger.lower():
        return Decision(DISCARD, ["test trigger: guaranteed discard author"])
    if author in GUARANTEED_SPAM_AUTHORS or comment.comment_author_email.strip().lower() == GUARANTEED_SPAM_EMAIL:
        return Decision(SPAM, ["test trigger: guaranteed spam"])
    if comment.honeypot_hit:
        return Decision(DISCARD, ["honeypot field filled"])
    return None


def verdict_for(probability: float, thresholds: Mapping[str, float]) -> str:
    if probability >= thresholds[DISCARD]:
        return DISCARD
    if probability >= thresholds[SPAM]:
        return SPAM
    if probability >= thresholds[UNSURE]:
        return UNSURE
    return HAM


def decide(
    comment: Comment, probability: float, reasons: list[str], thresholds: Mapping[str, float], discard_trigger: str = ""
) -> Decision:
    triggered = trigger_verdict(comment, discard_trigger)
    if triggered is not None:
        return Decision(triggered.verdict, triggered.reasons + reasons)
    return Decision(verdict_for(probability, thresholds), reasons)

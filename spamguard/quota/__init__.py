"""Per-key quota in one place: rate windows, the monthly allowance, usage counters and their alerts.

Feedback asks `Quota.refusal_for(site, monthly=False)`; comment-check takes its
limits, usage count and alerts through the check gate (`spamguard.gate`).  The state lives in the backend
(`spamguard.backends`); monthly history is flushed to `UsageMonthly`.
"""

from __future__ import annotations

from spamguard.metrics import record_refusal

from .ratelimit import ALERT_OVER_LIMIT, ALERT_OVER_LIMIT_REPEATED, KeyRateLimiter, LimitResult, parse_limits
from .refusal import OVER_LIMIT_ALERT, Refusal, refusal_from
from .usage import UsageCounter, month_of

__all__ = [
    "ALERT_OVER_LIMIT",
    "ALERT_OVER_LIMIT_REPEATED",
    "OVER_LIMIT_ALERT",
    "KeyRateLimiter",
    "LimitResult",
    "Quota",
    "Refusal",
    "UsageCounter",
    "month_of",
    "parse_limits",
    "refusal_from",
]


class Quota:
    def __init__(self, ratelimit: KeyRateLimiter, usage: UsageCounter) -> None:
        self.ratelimit = ratelimit
        self.usage = usage

    def refusal_for(self, site, monthly: bool = True) -> Refusal | None:
        """Count one call against the key's limits; None when it may proceed.

        comment-check then answers 200 `false` + a GUID + X-akismet-error/alert
        headers + Retry-After (spec §5); the JSON API answers 429.  Feedback
        (`monthly=False`) shares the key's rate window but not its monthly allowance.
        """
        refusal = refusal_from(self.ratelimit.check(site, monthly))
        if refusal is not None:
            record_refusal("monthly_limit" if refusal.reason == "Usage limit exceeded" else "rate_limit")
        return refusal

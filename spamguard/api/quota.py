"""Where per-key limits and usage counting plug into the APIs.

Both APIs call `refusal_for` before scoring and `count_call` after a check is
stored; the Redis work itself lives in `spamguard.limits`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from spamguard.checking import CheckResult
from spamguard.storage.models import Site

OVER_LIMIT_ALERT = "10508"  # "third month over limit": the code WordPress shows its usage banner for


@dataclass(frozen=True)
class Refusal:
    """A call refused before scoring (over the rate or monthly limit)."""

    reason: str  # X-akismet-error text / JSON error message
    retry_after: int  # seconds
    alert_code: str = OVER_LIMIT_ALERT
    alert_msg: str = "This key is over its usage limit."
    # Extra alert headers (X-akismet-alert-api-calls, -usage-limit, ...), sent as given.
    headers: dict[str, str] = field(default_factory=dict)


def refusal_for(site: Site, monthly: bool = True) -> Refusal | None:
    """Count one call against the key's limits; None when it may proceed.

    comment-check then answers 200 `false` + a GUID + X-akismet-error/alert
    headers + Retry-After (spec §5); the JSON API answers 429.  Feedback
    (`monthly=False`) shares the key's rate window but not its monthly allowance.
    """
    result = current_app.extensions["spamguard.ratelimit"].check(site, monthly)
    if result.allowed:
        return None
    from spamguard.metrics import record_refusal

    record_refusal("monthly_limit" if result.reason == "monthly" else "rate_limit")
    if result.reason == "monthly":
        return Refusal("Usage limit exceeded", max(1, result.retry_after), result.alert_code,
                       "This key is over its monthly usage limit; calls are refused until it resets.")
    return Refusal("Rate limit exceeded", max(1, result.retry_after), result.alert_code,
                   f"This key is over its rate limit ({result.limit}).")


def count_call(site: Site, result: CheckResult, is_test: bool = False) -> None:
    """Count one answered check in this month's usage; usage alerts ride on the answer."""
    usage = current_app.extensions["spamguard.usage"]
    usage.record_call(site, result.verdict, is_test=is_test)
    result.alerts.update(usage.alert_headers(site))

"""What a caller over its limits is told, in a form both APIs render (spec §5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ratelimit import LimitResult

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


def refusal_from(result: LimitResult) -> Refusal | None:
    """None when the limit result allows the call, else the refusal to render."""
    if result.allowed:
        return None
    if result.reason == "monthly":
        return Refusal(
            "Usage limit exceeded",
            max(1, result.retry_after),
            result.alert_code,
            "This key is over its monthly usage limit; calls are refused until it resets.",
        )
    return Refusal(
        "Rate limit exceeded",
        max(1, result.retry_after),
        result.alert_code,
        f"This key is over its rate limit ({result.limit}).",
    )

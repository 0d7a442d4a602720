"""Per-API-key rate limits (Flask-Limiter on Redis).

The APIs ask `KeyRateLimiter.check(site)` right after resolving the key (see
`spamguard.api.quota`), instead of relying on Flask-Limiter's decorator error
path: the Akismet protocol needs a refusal that is an HTTP 200 `false` with
alert headers (spec §5), which an exception handler cannot produce per endpoint
cleanly.  The counting itself is
Flask-Limiter's strategy object on its Redis storage, so limits are shared by
every worker and machine.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from flask import Flask, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many

from .redis_state import REDIS_ERRORS, RedisState

log = logging.getLogger("spamguard.limits.ratelimit")

# Alert codes of spec §5: 10508 = over the limit and refused, 10516 = refused for 4+ months.
ALERT_OVER_LIMIT = "10508"
ALERT_OVER_LIMIT_REPEATED = "10516"


@dataclass(frozen=True)
class LimitResult:
    allowed: bool
    retry_after: int = 0          # whole seconds until a retry can succeed; 0 when allowed
    reason: str = ""              # "rate" (per-second/minute window) or "monthly" (usage throttle)
    limit: str = ""               # the limit that refused, e.g. "200 per 1 second"
    alert_code: str = ALERT_OVER_LIMIT


def site_key() -> str:
    """Flask-Limiter key function: the resolved site (set on `g.site` by the API
    blueprints), else the caller's address."""
    site = g.get("site")
    if site is not None:
        return f"site:{site.id}"
    return f"addr:{get_remote_address()}"


@lru_cache(maxsize=512)
def parse_limits(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


class KeyRateLimiter:
    """Counts calls per API key in Redis; fails open when Redis does."""

    def __init__(self, limiter: Limiter, state: RedisState, default_spec: str,
                 monthly_policy: Callable[[object], LimitResult] | None = None) -> None:
        self.limiter = limiter
        self.state = state
        self.default_spec = default_spec
        # Set by init_app: usage-based refusal (three consecutive months over, spec §5).
        self.monthly_policy = monthly_policy

    def spec_for(self, site) -> str:
        override = (getattr(site, "rate_limit", None) or "").strip()
        if override:
            try:
                parse_limits(override)
                return override
            except ValueError:
                log.warning("bad per-site rate limit, using default",
                            extra={"event": "bad_rate_limit", "site_id": site.id})
        return self.default_spec

    def check(self, site, monthly: bool = True) -> LimitResult:
        """Count one call for `site` and say whether it may proceed.

        `monthly=False` (feedback): only the rate window; the monthly allowance counts checks.
        """
        if monthly and self.monthly_policy is not None:
            monthly = self.monthly_policy(site)
            if not monthly.allowed:
                return monthly
        if not self.state.available:
            return LimitResult(True)
        key = f"site:{site.id}"
        strategy = self.limiter.limiter  # Flask-Limiter's strategy on its Redis storage
        try:
            for item in parse_limits(self.spec_for(site)):
                if not strategy.hit(item, key):
                    reset_at = strategy.get_window_stats(item, key).reset_time
                    retry = max(1, math.ceil(reset_at - time.time()))
                    return LimitResult(False, retry, "rate", str(item))
        except REDIS_ERRORS as exc:
            self.state.record_failure("ratelimit", exc)
        return LimitResult(True)


def init_limiter(app: Flask, state: RedisState) -> Limiter:
    """Flask-Limiter on the app: Redis storage under our prefix, errors swallowed.

    No default limits: the per-key limit is counted explicitly by
    `KeyRateLimiter.check` so both APIs can shape their own refusal.  Other
    views may still use `@limiter.limit(...)`; they share storage and key_func.
    """
    timeout = state.timeout
    limiter = Limiter(
        key_func=site_key,
        storage_uri=app.config["REDIS_URL"],
        storage_options={
            "key_prefix": f"{state.prefix}LIMITS",
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "health_check_interval": 0,
        },
        strategy="fixed-window",
        key_prefix="sg",
        swallow_errors=True,
        headers_enabled=False,
        retry_after="delta-seconds",
    )
    limiter.init_app(app)
    _disable_redis_retries(limiter)
    return limiter


def _disable_redis_retries(limiter: Limiter) -> None:
    """Like our own client: no hidden retries that would multiply the timeout."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = getattr(limiter.storage, "storage", None)
    if client is not None and hasattr(client, "connection_pool"):
        client.connection_pool.connection_kwargs["retry"] = Retry(NoBackoff(), 0)
        try:
            client.retry = Retry(NoBackoff(), 0)
        except AttributeError:  # pragma: no cover - older redis-py
            pass

"""Per-API-key rate limits (Flask-Limiter on Redis) and how a refusal looks on the wire.

The views call `check_key_limit(site)` right after resolving the key, instead of
relying on Flask-Limiter's decorator error path: the Akismet protocol needs a
refusal that is an HTTP 200 `false` with alert headers (spec §5), which an
exception handler cannot produce per endpoint cleanly.  The counting itself is
Flask-Limiter's strategy object on its Redis storage, so limits are shared by
every worker and machine.
"""
from __future__ import annotations

import logging
import math
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Callable

from flask import Flask, Response, current_app, g, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many

from .redis_state import RedisState
from .redis_state import REDIS_ERRORS

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

    def check(self, site) -> LimitResult:
        """Count one call for `site` and say whether it may proceed."""
        if self.monthly_policy is not None:
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


# --- Refusal responses -------------------------------------------------------------------

def akismet_refusal(result: LimitResult, endpoint: str = "comment-check") -> Response:
    """The Akismet-protocol answer to a refused call.

    comment-check: HTTP 200 `false` + GUID + X-akismet-error + alert headers, as
    spec §5 recommends (fail open: WordPress holds the comment for moderation and
    shows the usage banner; Python/npm clients see ham).  submit-spam/submit-ham:
    HTTP 429 + Retry-After (§1.5 allows it), so clients re-queue the report rather
    than us silently dropping feedback.
    """
    retry = str(max(1, result.retry_after))
    if result.reason == "monthly":
        message = "Your API key is over its monthly usage limit; calls are refused until the limit resets."
    else:
        message = f"Your API key is over its rate limit ({result.limit}); retry in {retry} s."
    if endpoint == "comment-check":
        resp = Response("false", status=200, content_type="text/plain; charset=utf-8")
        resp.headers["X-akismet-guid"] = secrets.token_hex(16)
    else:
        resp = Response("Too many requests", status=429, content_type="text/plain; charset=utf-8")
    resp.headers["X-akismet-error"] = "Rate limit exceeded" if result.reason != "monthly" else "Usage limit exceeded"
    resp.headers["X-akismet-alert-code"] = result.alert_code
    resp.headers["X-akismet-alert-msg"] = message
    resp.headers["Retry-After"] = retry
    return resp


def json_refusal(result: LimitResult) -> Response:
    """The JSON API's answer: 429 with a stable error code and Retry-After."""
    retry = max(1, result.retry_after)
    code = "usage_limit_exceeded" if result.reason == "monthly" else "rate_limited"
    resp = jsonify({"error": {"code": code, "message": f"Too many requests; retry in {retry} s.",
                              "retry_after": retry, "limit": result.limit}})
    resp.status_code = 429
    resp.headers["Retry-After"] = str(retry)
    return resp


def limited(kind: str = "akismet", endpoint: str = "comment-check"):
    """View decorator for views whose site is already on `g.site` when they run
    (e.g. resolved in a `before_request`/`url_value_preprocessor`).

    `kind` is "akismet" or "json".  Views that resolve the key inside the view
    should call `check_key_limit(site)` there instead.
    """
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            site = g.get("site")
            if site is not None:
                refusal = refusal_for(site, kind, endpoint)
                if refusal is not None:
                    return refusal
            return view(*args, **kwargs)
        return wrapper
    return decorate


def refusal_for(site, kind: str = "akismet", endpoint: str = "comment-check") -> Response | None:
    """Count one call; None when allowed, else the refusal response to return."""
    result = current_app.extensions["spamguard.ratelimit"].check(site)
    if result.allowed:
        return None
    log.info("call refused", extra={"event": "rate_limited", "site_id": site.id,
                                    "reason": result.reason, "path": request.path})
    return json_refusal(result) if kind == "json" else akismet_refusal(result, endpoint)

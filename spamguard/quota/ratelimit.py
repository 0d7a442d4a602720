"""Per-API-key rate limits: fixed windows counted in the state backend.

The APIs ask `KeyRateLimiter.check(site)` right after resolving the key: the
Akismet protocol needs a refusal that is an HTTP 200 `false` with alert headers
(spec §5), so the decision is a value the views render, not an exception.
Limits are written as the `limits` library parses them ("200/second;
5000/minute"); each is a fixed window that starts at its first hit (the same
counting Flask-Limiter's fixed-window strategy did), shared by every worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse_many

from spamguard.backends import RedisState

log = logging.getLogger("spamguard.quota.ratelimit")

# Alert codes of spec §5: 10508 = over the limit and refused, 10516 = refused for 4+ months.
ALERT_OVER_LIMIT = "10508"
ALERT_OVER_LIMIT_REPEATED = "10516"

# KEYS: one window counter per limit; ARGV: amount_1, seconds_1, amount_2, seconds_2, ...
# Returns {0} when allowed, else {index of the refusing limit (1-based), seconds until its window resets}.
# Windows after a refusing one are not counted, as before.
WINDOW_SCRIPT = """
for i = 1, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2 * i])) end
  if n > tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2 * i])); ttl = tonumber(ARGV[2 * i]) end
    return {i, ttl}
  end
end
return {0}
"""


@dataclass(frozen=True)
class LimitResult:
    allowed: bool
    retry_after: int = 0  # whole seconds until a retry can succeed; 0 when allowed
    reason: str = ""  # "rate" (per-second/minute window) or "monthly" (usage throttle)
    limit: str = ""  # the limit that refused, e.g. "200 per 1 second"
    alert_code: str = ALERT_OVER_LIMIT


@lru_cache(maxsize=512)
def parse_limits(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


MAX_REMEMBERED = 10_000  # sites whose windows `KeyRateLimiter.windows` holds at most


def _parses(override: str | None) -> bool:
    """No override, or one `limits_for` takes (rather than warning and falling back to the default)."""
    spec = (override or "").strip()
    if not spec:
        return True
    try:
        parse_limits(spec)
    except ValueError:
        return False
    return True


class KeyRateLimiter:
    """Counts calls per API key; fails open when the backend does."""

    def __init__(
        self, state: RedisState, default_spec: str, monthly_policy: Callable[[object], LimitResult] | None = None
    ) -> None:
        self.state = state
        self.default_spec = default_spec
        # Usage-based refusal (three consecutive months over, spec §5).
        self.monthly_policy = monthly_policy
        self._script = state.client.register_script(WINDOW_SCRIPT)
        # (site id, its override, the default) -> `windows`' answer: every call asks, sites change rarely.
        # Keyed on the values the answer depends on, not the Site object (cached snapshots are shared
        # and replaced); bounded like the site cache.
        self._windows: dict[tuple[int, str | None, str], tuple[tuple[RateLimitItem, ...], tuple, tuple]] = {}

    def limits_for(self, site) -> tuple[RateLimitItem, ...]:
        override = (getattr(site, "rate_limit", None) or "").strip()
        if override:
            try:
                return parse_limits(override)
            except ValueError:
                log.warning(
                    "bad per-site rate limit, using default", extra={"event": "bad_rate_limit", "site_id": site.id}
                )
        return parse_limits(self.default_spec)

    def windows(self, site) -> tuple[tuple[RateLimitItem, ...], tuple[str, ...], tuple[int, ...]]:
        """`limits_for(site)` with its `window_keys`, remembered per site and override.  A bad override is
        not remembered, so it is still warned about on every call."""
        override = getattr(site, "rate_limit", None)
        memo_key = (site.id, override, self.default_spec)
        found = self._windows.get(memo_key)
        if found is None:
            items = self.limits_for(site)
            keys, args = self.window_keys(site.id, items)
            found = (items, tuple(keys), tuple(args))
            if _parses(override):
                if len(self._windows) >= MAX_REMEMBERED:
                    self._windows.clear()
                self._windows[memo_key] = found
        return found

    def window_keys(self, site_id: int, items: tuple[RateLimitItem, ...]) -> tuple[list[str], list[int]]:
        keys, args = [], []
        for item in items:
            seconds = int(item.get_expiry())
            keys.append(self.state.key("rl", site_id, item.amount, seconds))
            args += [item.amount, seconds]
        return keys, args

    def result_of(self, items: tuple[RateLimitItem, ...], answer) -> LimitResult:
        if not answer or int(answer[0]) == 0:
            return LimitResult(True)
        item = items[int(answer[0]) - 1]
        return LimitResult(False, max(1, int(answer[1])), "rate", str(item))

    def check(self, site, monthly: bool = True) -> LimitResult:
        """Count one call for `site` and say whether it may proceed.

        `monthly=False` (feedback): only the rate window; the monthly allowance counts checks.
        """
        if monthly and self.monthly_policy is not None:
            verdict = self.monthly_policy(site)
            if not verdict.allowed:
                return verdict
        items, keys, args = self.windows(site)
        answer = self.state.call("ratelimit", lambda r: self._script(keys=keys, args=args), None)
        return self.result_of(items, answer)

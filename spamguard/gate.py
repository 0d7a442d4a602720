"""The state a comment-check needs, in one round trip to the backend.

One Lua script (`GATE_SCRIPT`) takes the monthly allowance and the rate windows
decision, counts the call in this month's usage, reads the comment's reputation
strings (the IP burst included) and records the check in them, in that order: the
reads happen before this check's own writes, so its lookup sees what it did
before.  A refused call counts and records nothing.  Every key carries the
deployment prefix, which on Redis Cluster is one hash tag, so the script's keys
share one slot.

Fail-open as everywhere (`RedisState.call`): with the backend down the call is
allowed, reputation is unknown and usage is not counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from spamguard.backends import RedisState
from spamguard.backends.direct import ThreadScript
from spamguard.comment import Comment
from spamguard.quota import KeyRateLimiter, LimitResult, Quota, Refusal, UsageCounter, refusal_from
from spamguard.quota.usage import KEY_TTL, month_of
from spamguard.reputation import REP_LUA, Reputation, ReputationStore

# KEYS: rate windows (nr), usage hash, dirty set, reputation strings (nk, in `signals` order).
# ARGV: nr, nk, monthly_limit, usage_ttl, dirty_member, then the nine `rep_write` arguments
# (`ReputationStore.write_args`: now, hour, blog, burst, modes, keep, slot, window, ttl), then
# amount/seconds per rate window.
# Returns {status, a, b, api_calls, reputation string or false per key}; status 0 = allowed,
# 1 = over the monthly allowance, 2 = over rate window a (1-based) with b seconds to its reset.
# TTLs are set when a counter is created, so a check runs INCR per window, HINCRBY + SADD for usage,
# one MGET for all reputation strings and one SET per string it counts on.
GATE_SCRIPT = (
    REP_LUA
    + """
local nr, nk, monthly = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local usage, dirty = KEYS[nr + 1], KEYS[nr + 2]
if monthly > 0 and tonumber(redis.call('HGET', usage, 'api_calls') or '0') >= monthly then
  return {1, 0, 0, 0}
end
for i = 1, nr do
  local n = redis.call('INCR', KEYS[i])
  local seconds = tonumber(ARGV[14 + 2 * i])
  if n == 1 then redis.call('EXPIRE', KEYS[i], seconds) end
  if n > tonumber(ARGV[13 + 2 * i]) then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then redis.call('EXPIRE', KEYS[i], seconds); ttl = seconds end
    return {2, i, ttl, 0}
  end
end
local calls = redis.call('HINCRBY', usage, 'api_calls', 1)
if calls == 1 then redis.call('EXPIRE', usage, tonumber(ARGV[4])) end
redis.call('SADD', dirty, ARGV[5])
local out = {0, 0, 0, calls}
if nk > 0 then
  local base = nr + 2
  local blobs = redis.call('MGET', unpack(KEYS, base + 1, base + nk))
  for i = 1, nk do out[4 + i] = blobs[i] end
  rep_write(KEYS, base, blobs, ARGV[10], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
end
return out
"""
)


@dataclass
class GateResult:
    refusal: Refusal | None = None
    reputation: Reputation = field(default_factory=Reputation)
    api_calls: int | None = None  # this month's calls, this one included; None when not counted


class CheckGate:
    """Admission, usage and reputation for one comment-check, in one script call."""

    def __init__(self, state: RedisState, quota: Quota, reputation: ReputationStore | None) -> None:
        self.state = state
        self.quota = quota
        self.ratelimit: KeyRateLimiter = quota.ratelimit
        self.usage: UsageCounter = quota.usage
        self.reputation = reputation
        self._script = ThreadScript(state.client, GATE_SCRIPT)  # one connection per serving thread

    def enter(self, site, comment: Comment, now: float | None = None) -> GateResult:
        now = time.time() if now is None else now
        items, rate_keys, rate_args = self.ratelimit.windows(site)
        usage_key, usage_member = self.usage.month_keys(site.id, month_of(now))
        shared = bool(getattr(site, "share_reputation", True))
        record = not comment.is_test
        rep_keys: list[str] = []
        rep_args: list[Any] = ["", "", "", "", "", 0, 0, 0, 0]
        if self.reputation is not None:
            rep_keys = self.reputation.keys(comment)
            rep_args = self.reputation.write_args(comment, site.id, shared, record, now)
        keys = [*rate_keys, usage_key, self.usage.dirty_key, *rep_keys]
        args: list[Any] = [
            len(rate_keys),
            len(rep_keys),
            self.usage.enforced_limit(site, now),
            KEY_TTL,
            usage_member,
            *rep_args,
            *rate_args,
        ]
        answer = self.state.call("check", lambda r: self._script(r, keys, args), None)
        if answer is None:
            return GateResult()
        status = int(answer[0])
        if status == 1:
            return GateResult(refusal=self._refused(self.usage.monthly_refusal(site, now)))
        if status == 2:
            return GateResult(refusal=self._refused(self.ratelimit.result_of(items, answer[1:3])))
        reputation = Reputation()
        if self.reputation is not None:
            reputation = self.reputation.summarise(comment, site.id, shared, answer[4 : 4 + len(rep_keys)], now)
        return GateResult(reputation=reputation, api_calls=int(answer[3]))

    def _refused(self, result: LimitResult) -> Refusal | None:
        from spamguard.metrics import record_refusal

        refusal = refusal_from(result)
        record_refusal("monthly_limit" if result.reason == "monthly" else "rate_limit")
        return refusal

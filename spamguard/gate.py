"""The state a comment-check needs, in one round trip to the backend.

One Lua script (`GATE_SCRIPT`) takes the monthly allowance and the rate windows
decision, counts the call in this month's usage, reads the comment's reputation
hashes and IP burst, and records the check in reputation, in that order: the
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
from spamguard.comment import Comment
from spamguard.quota import KeyRateLimiter, LimitResult, Quota, Refusal, UsageCounter, refusal_from
from spamguard.quota.usage import KEY_TTL, month_of
from spamguard.reputation import Reputation, ReputationStore

# KEYS: rate windows (nr), usage hash, dirty set, reputation hashes to read (nh), [burst zset], signal hashes
# to write (nw).  ARGV: nr, nh, nw, has_burst, monthly_limit, usage_ttl, dirty_member, record(0/1), now,
# burst_min, burst_member, burst_ttl, hour_field, blog_field, rep_ttl, then amount/seconds per rate window.
# Returns {status, a, b, api_calls, burst_count, {hash fields...} per read hash}; status 0 = allowed,
# 1 = over the monthly allowance, 2 = over rate window a (1-based) with b seconds to its reset.
GATE_SCRIPT = """
local nr, nh, nw = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local has_burst, monthly = ARGV[4] == '1', tonumber(ARGV[5])
local usage, dirty = KEYS[nr + 1], KEYS[nr + 2]
if monthly > 0 and tonumber(redis.call('HGET', usage, 'api_calls') or '0') >= monthly then
  return {1, 0, 0, 0, 0}
end
for i = 1, nr do
  local n = redis.call('INCR', KEYS[i])
  local seconds = tonumber(ARGV[15 + 2 * i])
  if n == 1 then redis.call('EXPIRE', KEYS[i], seconds) end
  if n > tonumber(ARGV[14 + 2 * i]) then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then redis.call('EXPIRE', KEYS[i], seconds); ttl = seconds end
    return {2, i, ttl, 0, 0}
  end
end
local calls = redis.call('HINCRBY', usage, 'api_calls', 1)
redis.call('EXPIRE', usage, tonumber(ARGV[6]))
redis.call('SADD', dirty, ARGV[7])
local out = {0, 0, 0, calls, -1}
local base = nr + 2
for i = 1, nh do out[5 + i] = redis.call('HGETALL', KEYS[base + i]) end
local now = tonumber(ARGV[9])
if has_burst then
  local burst = KEYS[base + nh + 1]
  out[5] = redis.call('ZCOUNT', burst, ARGV[10], now)
  if ARGV[8] == '1' then
    redis.call('ZADD', burst, now, ARGV[11])
    redis.call('ZREMRANGEBYSCORE', burst, '-inf', ARGV[10])
    redis.call('EXPIRE', burst, tonumber(ARGV[12]))
  end
end
if ARGV[8] == '1' then
  local first = base + nh + (has_burst and 2 or 1)
  for i = first, first + nw - 1 do
    redis.call('HINCRBY', KEYS[i], ARGV[13], 1)
    redis.call('HSET', KEYS[i], ARGV[14], ARGV[9])
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[15]))
  end
end
return out
"""


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
        self._script = state.client.register_script(GATE_SCRIPT)

    def enter(self, site, comment: Comment, now: float | None = None) -> GateResult:
        now = time.time() if now is None else now
        items = self.ratelimit.limits_for(site)
        rate_keys, rate_args = self.ratelimit.window_keys(site.id, items)
        month = month_of(now)
        shared = bool(getattr(site, "share_reputation", True))
        read_keys: list[str] = []
        burst_key: str | None = None
        plan: dict[str, Any] = {
            "signal_keys": [],
            "hour_field": "",
            "blog_field": "",
            "ttl": 0,
            "burst_member": "",
            "burst_window": 0,
        }
        if self.reputation is not None:
            read_keys, burst_key = self.reputation.read_keys(comment, site.id, now)
            plan = self.reputation.write_plan(comment, site.id, shared, now)
        record = self.reputation is not None and not comment.is_test
        write_keys = plan["signal_keys"] if record else []
        keys = [
            *rate_keys,
            self.usage.key(site.id, month),
            self.usage.dirty_key,
            *read_keys,
            *([burst_key] if burst_key else []),
            *write_keys,
        ]
        window = float(plan["burst_window"])
        args: list[Any] = [
            len(rate_keys),
            len(read_keys),
            len(write_keys),
            int(bool(burst_key)),
            self.usage.enforced_limit(site, now),
            KEY_TTL,
            f"{site.id}:{month}",
            int(record),
            repr(now),
            repr(now - window),
            plan["burst_member"],
            int(window) + 60,
            plan["hour_field"],
            plan["blog_field"],
            plan["ttl"],
            *rate_args,
        ]
        answer = self.state.call("check", lambda r: self._script(keys=keys, args=args), None)
        if answer is None:
            return GateResult()
        status = int(answer[0])
        if status == 1:
            return GateResult(refusal=self._refused(self.usage.monthly_refusal(site, now)))
        if status == 2:
            return GateResult(refusal=self._refused(self.ratelimit.result_of(items, answer[1:3])))
        reputation = Reputation()
        if self.reputation is not None:
            hashes = [_as_dict(flat) for flat in answer[5 : 5 + len(read_keys)]]
            burst = int(answer[4]) if burst_key else None
            reputation = self.reputation.summarise(comment, site.id, shared, hashes, burst, now)
        return GateResult(reputation=reputation, api_calls=int(answer[3]))

    def _refused(self, result: LimitResult) -> Refusal | None:
        from spamguard.metrics import record_refusal

        refusal = refusal_from(result)
        record_refusal("monthly_limit" if result.reason == "monthly" else "rate_limit")
        return refusal


def _as_dict(flat: list) -> dict[str, str]:
    return dict(zip(flat[0::2], flat[1::2], strict=True))

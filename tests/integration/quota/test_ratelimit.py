from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from spamguard import config as settings
from spamguard.backends import RedisState
from spamguard.comment import Comment
from spamguard.quota import KeyRateLimiter
from spamguard.reputation import ReputationStore

REDIS_URL = os.environ.get("SPAMGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Limits:
    """The rate limiter and reputation store as create_app builds them, on one backend."""

    def __init__(self, prefix: str, redis_url: str = REDIS_URL, timeout: float = 1.0, clock=time.monotonic) -> None:
        config = settings.from_env()
        self.state = RedisState(redis_url, prefix, timeout, clock=clock)
        self.limiter = KeyRateLimiter(self.state, config["SPAMGUARD_RATE_LIMIT_KEY"])
        self.reputation = ReputationStore(self.state, config["SPAMGUARD_RATE_LIMIT_COMMENTER_IP"])

    def check(self, site):
        return self.limiter.check(site)


@pytest.fixture
def limits(prefix, state):  # `state` deletes every key under the prefix afterwards
    return Limits(prefix)


def site(id_=1, rate_limit=None, monthly_limit=None):
    return SimpleNamespace(id=id_, rate_limit=rate_limit, monthly_limit=monthly_limit)


def test_per_site_limit_enforced_with_retry_after(limits):
    s = site(rate_limit="5/minute")
    results = [limits.check(s) for _ in range(7)]
    assert [r.allowed for r in results] == [True] * 5 + [False] * 2
    refused = results[-1]
    assert refused.reason == "rate" and 1 <= refused.retry_after <= 60
    assert refused.limit == "5 per 1 minute"


def test_default_limit_allows_a_hundred_checks_per_second(limits):
    s = site()
    assert all(limits.check(s).allowed for _ in range(150))


def test_keys_are_counted_separately(limits):
    for _ in range(2):
        assert limits.check(site(1, "2/minute")).allowed
    assert not limits.check(site(1, "2/minute")).allowed
    assert limits.check(site(2, "2/minute")).allowed


def test_several_windows_refuse_on_the_first_one_exceeded(limits):
    s = site(rate_limit="3/second;4/minute")
    results = [limits.check(s) for _ in range(5)]
    allowed = [r.allowed for r in results]
    assert allowed[:3] == [True] * 3 and not results[4].allowed
    assert any(r.limit in ("3 per 1 second", "4 per 1 minute") for r in results if not r.allowed)


def test_bad_override_falls_back_to_default(limits, caplog):
    for _ in range(3):
        assert limits.check(site(3, "lots please")).allowed
    # Never remembered: warned about on every call, as before the windows were remembered.
    assert [r.message for r in caplog.records].count("bad per-site rate limit, using default") == 3


def test_remembered_windows_follow_the_sites_values_not_the_object(limits):
    s = site(4, "2/minute")
    assert [limits.check(s).allowed for _ in range(3)] == [True, True, False]
    s.rate_limit = "5/minute"  # the same object, changed (a cached snapshot is shared, then replaced)
    assert limits.limiter.windows(s) == limits.limiter.windows(site(4, "5/minute"))
    assert [limits.check(s).allowed for _ in range(6)] == [True] * 5 + [False]
    other = site(5, "5/minute")  # another site with the same override counts on its own keys
    assert limits.limiter.windows(other)[1] != limits.limiter.windows(s)[1]
    assert limits.check(other).allowed
    s.rate_limit = None
    items, keys, args = limits.limiter.windows(s)
    assert items == limits.limiter.limits_for(s) and (list(keys), list(args)) == limits.limiter.window_keys(4, items)


def failures(op: str) -> float:
    return REGISTRY.get_sample_value("spamguard_redis_failures_total", {"op": op}) or 0.0


class Tries:
    """Counts the calls that reach the Redis client (the breaker's job is to stop them)."""

    def __init__(self, client) -> None:
        self.count = 0
        original = client.execute_command

        def counted(*args, **kwargs):
            self.count += 1
            return original(*args, **kwargs)

        client.execute_command = counted


def test_dead_redis_fails_open_fast_with_metric(prefix, caplog):
    now = [100.0]
    limits = Limits(prefix, redis_url="redis://127.0.0.1:1/0", timeout=0.05, clock=lambda: now[0])
    tries = Tries(limits.state.client)
    before = failures("ratelimit")
    results = [limits.check(site(1, "1/minute")) for _ in range(200)]
    assert all(r.allowed for r in results)
    assert tries.count == 1  # the breaker skips Redis after the first failure
    assert failures("ratelimit") == before + 200  # skipped calls are counted too
    now[0] += limits.state.breaker_seconds  # the breaker closes: the next call tries Redis again
    assert limits.check(site(1, "1/minute")).allowed and tries.count == 2
    assert any(getattr(r, "event", "") == "redis_unavailable" for r in caplog.records)


def test_unresponsive_redis_costs_at_most_the_timeout(prefix):
    """A Redis that accepts connections but never answers (a listening socket nobody reads)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(50)
    port = sock.getsockname()[1]
    try:
        limits = Limits(prefix, redis_url=f"redis://127.0.0.1:{port}/0", timeout=0.05, clock=lambda: 100.0)
        tries = Tries(limits.state.client)
        first = limits.check(site(1))
        rest = [limits.check(site(1)) for _ in range(100)]
        rep = limits.reputation.lookup(Comment(user_ip="1.2.3.4"), 1)
    finally:
        sock.close()
    assert first.allowed and all(r.allowed for r in rest)
    # The one call that waited gave up after the socket timeout (no retries); the rest never waited.
    kwargs = limits.state.client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.05 and kwargs["retry"].get_retries() == 0
    assert tries.count == 1
    assert rep.known is False

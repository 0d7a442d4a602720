from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from spamguard import config as settings
from spamguard import limits

REDIS_URL = os.environ.get("SPAMGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def make_app(prefix: str, redis_url: str = REDIS_URL, **overrides) -> Flask:
    app = Flask("limits-test")
    app.config.update(settings.from_env())
    app.config.update(REDIS_URL=redis_url, SPAMGUARD_REDIS_PREFIX=prefix, SPAMGUARD_REDIS_TIMEOUT=1.0,
                      SPAMGUARD_BACKGROUND_TASKS=False, TESTING=True)
    app.config.update(overrides)
    limits.init_app(app)
    return app


@pytest.fixture
def app(prefix, state):  # `state` deletes every key under the prefix afterwards
    return make_app(prefix)


def site(id_=1, rate_limit=None, monthly_limit=None):
    return SimpleNamespace(id=id_, rate_limit=rate_limit, monthly_limit=monthly_limit)


def test_per_site_limit_enforced_with_retry_after(app):
    s = site(rate_limit="5/minute")
    with app.test_request_context("/1.1/comment-check"):
        results = [limits.check_key_limit(s) for _ in range(7)]
    assert [r.allowed for r in results] == [True] * 5 + [False] * 2
    refused = results[-1]
    assert refused.reason == "rate" and 1 <= refused.retry_after <= 60
    assert refused.limit == "5 per 1 minute"


def test_default_limit_allows_a_hundred_checks_per_second(app):
    s = site()
    with app.test_request_context("/1.1/comment-check"):
        assert all(limits.check_key_limit(s).allowed for _ in range(150))


def test_keys_are_counted_separately(app):
    with app.test_request_context("/"):
        for _ in range(2):
            assert limits.check_key_limit(site(1, "2/minute")).allowed
        assert not limits.check_key_limit(site(1, "2/minute")).allowed
        assert limits.check_key_limit(site(2, "2/minute")).allowed


def test_bad_override_falls_back_to_default(app):
    with app.test_request_context("/"):
        assert limits.check_key_limit(site(3, "lots please")).allowed


def failures(op: str) -> float:
    return REGISTRY.get_sample_value("spamguard_redis_failures_total", {"op": op}) or 0.0


def test_dead_redis_fails_open_fast_with_metric(prefix, caplog):
    app = make_app(prefix, redis_url="redis://127.0.0.1:1/0", SPAMGUARD_REDIS_TIMEOUT=0.05)
    before = failures("ratelimit")
    started = time.perf_counter()
    with app.test_request_context("/"):
        results = [limits.check_key_limit(site(1, "1/minute")) for _ in range(200)]
    elapsed = time.perf_counter() - started
    assert all(r.allowed for r in results)
    assert elapsed < 0.5  # the breaker skips Redis after the first failure
    assert failures("ratelimit") >= before + 1
    assert any(getattr(r, "event", "") == "redis_unavailable" for r in caplog.records)


def test_unresponsive_redis_costs_at_most_the_timeout(prefix):
    """A Redis that accepts connections but never answers (a listening socket nobody reads)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(50)
    port = sock.getsockname()[1]
    try:
        app = make_app(prefix, redis_url=f"redis://127.0.0.1:{port}/0", SPAMGUARD_REDIS_TIMEOUT=0.05)
        with app.test_request_context("/"):
            started = time.perf_counter()
            first = limits.check_key_limit(site(1))
            first_cost = time.perf_counter() - started
            started = time.perf_counter()
            rest = [limits.check_key_limit(site(1)) for _ in range(100)]
            rest_cost = time.perf_counter() - started
            rep = app.extensions["spamguard.reputation"].lookup(
                __import__("spamguard.comment", fromlist=["Comment"]).Comment(user_ip="1.2.3.4"), 1)
    finally:
        sock.close()
    assert first.allowed and all(r.allowed for r in rest)
    assert first_cost < 0.5
    assert rest_cost < 0.1
    assert rep.known is False

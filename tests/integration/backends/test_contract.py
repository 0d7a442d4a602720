"""One contract for every state backend: the in-memory twin (`memory://`) and real Redis behave alike.

Rate windows, usage counters, reputation and the check gate's one-script round
trip, run unchanged against both; a difference here is a bug in the twin or in
a script that only one backend accepts.
"""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest

from spamguard.backends import RedisState
from spamguard.comment import Comment
from spamguard.gate import CheckGate
from spamguard.quota import KeyRateLimiter, Quota, UsageCounter, month_of
from spamguard.reputation import ReputationStore

REDIS_URL = os.environ.get("SPAMGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NOW = 1_800_000_000.0


@pytest.fixture(params=["memory", "redis"])
def state(request):
    url = f"memory://{uuid.uuid4().hex}" if request.param == "memory" else REDIS_URL
    st = RedisState(url, f"sgcontract:{uuid.uuid4().hex}:", timeout=1.0)
    yield st
    st.delete_prefix()


def site(id_=1, rate_limit=None, monthly_limit=None, share=True):
    return SimpleNamespace(id=id_, rate_limit=rate_limit, monthly_limit=monthly_limit, share_reputation=share)


def comment(**fields) -> Comment:
    base = {
        "blog": "https://blog.example",
        "user_ip": "198.51.100.7",
        "comment_author_email": "a@spam.example",
        "comment_content": "buy at http://pills.example now",
    }
    return Comment(**{**base, **fields})


def test_rate_windows_refuse_past_the_limit_with_retry_after(state):
    limiter = KeyRateLimiter(state, "1000/second")
    results = [limiter.check(site(rate_limit="3/minute")) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert results[-1].reason == "rate" and 1 <= results[-1].retry_after <= 60
    assert limiter.check(site(2, "3/minute")).allowed  # another key has its own window


def test_usage_counts_calls_per_site_and_month(state):
    usage = UsageCounter(state)
    for _ in range(3):
        assert usage.record_call(site(), now=NOW)
    assert usage.counters(1, month_of(NOW))["api_calls"] == 3
    assert usage.counters(2, month_of(NOW))["api_calls"] == 0


def test_reputation_own_reports_and_checks_are_seen(state):
    store = ReputationStore(state, "5/minute")
    c = comment()
    assert store.record_feedback(c, "spam", 1, now=NOW)
    assert store.record_check(c, 1, now=NOW + 1)
    rep = store.lookup(c, 1, now=NOW + 2)
    assert rep.known and rep.detail["ip"]["spam_n_24h"] == 1
    assert rep.detail["email"]["seen_24h"] > 0 and rep.detail["burst"]["count"] == 2
    logit, reasons = store.adjust(0.0, rep)
    assert logit > 0 and reasons
    assert store.lookup(c, 2, now=NOW + 2).detail["ip"]["spam_n_24h"] == 0  # one site alone moves no other site


def test_gate_counts_reads_before_it_writes_and_refuses_without_counting(state):
    usage = UsageCounter(state)
    quota = Quota(KeyRateLimiter(state, "1000/second"), usage)
    store = ReputationStore(state, "5/minute")
    gate = CheckGate(state, quota, store)
    limited = site(rate_limit="2/minute")
    first = gate.enter(limited, comment(), now=NOW)
    second = gate.enter(limited, comment(), now=NOW + 1)
    third = gate.enter(limited, comment(), now=NOW + 2)
    assert (first.api_calls, second.api_calls) == (1, 2) and first.refusal is None
    assert first.reputation.detail["burst"]["count"] == 1  # its own write comes after its read
    assert second.reputation.detail["burst"]["count"] == 2
    assert third.refusal is not None and third.refusal.reason == "Rate limit exceeded"
    assert usage.counters(1, month_of(NOW))["api_calls"] == 2  # the refused call is not usage
    # What the gate wrote is what a plain lookup reads.
    assert store.lookup(comment(), 1, now=NOW + 3).detail["burst"]["count"] == 3


def test_gate_enforces_the_monthly_allowance_from_the_third_month(state):
    usage = UsageCounter(state)
    usage._over_before = lambda site, month, limit: 2  # two months over already (history lives in the DB)
    gate = CheckGate(state, Quota(KeyRateLimiter(state, "1000/second"), usage), None)
    capped = site(monthly_limit=2)
    answers = [gate.enter(capped, comment(), now=NOW) for _ in range(3)]
    assert [a.refusal is None for a in answers] == [True, True, False]
    assert answers[-1].refusal.reason == "Usage limit exceeded" and answers[-1].refusal.alert_code == "10508"


def test_the_app_runs_on_the_memory_backend(model_dir, tmp_path):
    """`REDIS_URL=memory://`: limits, usage and reputation work in one process without a Redis server."""
    from spamguard import sites, storage
    from spamguard.app import create_app
    from spamguard.services import services

    url = f"sqlite:///{tmp_path / 'memory.db'}"
    storage.upgrade(url)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "REDIS_URL": f"memory://{uuid.uuid4().hex}",
            "SPAMGUARD_MODEL_DIR": str(model_dir),
            "SPAMGUARD_BACKGROUND_TASKS": False,
        }
    )
    with app.app_context():
        created, key = sites.create_site(
            storage.get_session(), "https://blog.example", secret=app.config["SPAMGUARD_KEY_SECRET"]
        )
        created.rate_limit = "2/minute"
        storage.get_session().commit()
        site_id = created.id
    client = app.test_client()
    body = {"api_key": key, "blog": "https://blog.example", "user_ip": "198.51.100.7", "comment_content": "hello"}
    answers = [client.post("/1.1/comment-check", data=body) for _ in range(3)]
    assert [a.headers.get("X-akismet-error") for a in answers] == [None, None, "Rate limit exceeded"]
    assert services(app).quota.usage.counters(site_id, month_of())["api_calls"] == 2
    assert client.get(f"/1.2/usage-limit?api_key={key}").get_json()["usage"] == 2

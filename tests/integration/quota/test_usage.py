from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import select

from spamguard.quota.usage import month_of, previous_months
from spamguard.storage.models import UsageMonthly

NOW = time.time()


def test_counters_exact_under_concurrent_increments(usage, make_site):
    site = make_site()
    threads, per_thread = 16, 250
    barrier = threading.Barrier(threads)

    def hammer():
        barrier.wait()
        for _ in range(per_thread):
            assert usage.record_call(site)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    counters = usage.counters(site.id, month_of())
    assert counters["api_calls"] == threads * per_thread
    assert usage.usage_for(site) == threads * per_thread


def test_flush_writes_absolute_values_idempotently(usage, make_site, session):
    site = make_site()
    for _ in range(7):
        usage.record_call(site)
    assert usage.flush_usage(session) == 1
    assert usage.flush_usage(session) == 0  # nothing dirty: no rewrite
    usage.record_call(site)
    usage.flush_usage(session)
    usage.state.client.sadd(usage.dirty_key, f"{site.id}:{month_of()}")  # flush again, same values
    usage.flush_usage(session)
    row = session.execute(select(UsageMonthly).where(UsageMonthly.site_id == site.id)).scalar_one()
    session.refresh(row)
    assert row.api_calls == 8


def test_flush_after_redis_data_loss_keeps_history(usage, make_site, session):
    site = make_site()
    for _ in range(10):
        usage.record_call(site)
    usage.flush_usage(session)
    usage.state.client.delete(usage.key(site.id, month_of()))  # Redis restarted without persistence
    for _ in range(3):
        usage.record_call(site)
    usage.flush_usage(session)
    row = session.execute(select(UsageMonthly).where(UsageMonthly.site_id == site.id)).scalar_one()
    session.refresh(row)
    assert row.api_calls == 13
    assert usage.counters(site.id, month_of())["api_calls"] == 13


def test_usage_falls_back_to_db_when_redis_is_down(usage, make_site, session):
    site = make_site(monthly_limit=100)
    for _ in range(5):
        usage.record_call(site)
    usage.flush_usage(session)
    usage.state._open_until = time.monotonic() + 60  # breaker open = Redis down
    assert usage.usage_for(site, session=session) == 5
    assert usage.usage_report(site, session=session)["usage"] == 5


def test_usage_report_shape(usage, make_site, session):
    unlimited = make_site()
    for _ in range(3):
        usage.record_call(unlimited)
    assert usage.usage_report(unlimited, session=session) == {
        "limit": "none",
        "usage": 3,
        "percentage": "0.00",
        "throttled": False,
    }
    limited = make_site(monthly_limit=350000)
    usage.state.client.hset(usage.key(limited.id, month_of()), "api_calls", 7463)
    report = usage.usage_report(limited, extended=True, session=session)
    assert report == {
        "limit": 350000,
        "usage": 7463,
        "percentage": "2.13",
        "throttled": False,
        "notice_level": "NOTICE_NONE",
        "upgrade": False,
    }
    assert list(report)[:4] == ["limit", "usage", "percentage", "throttled"]


def test_throttled_from_third_consecutive_month_over(usage, make_site, session):
    site = make_site(monthly_limit=10)
    month = month_of()
    usage.state.client.hset(usage.key(site.id, month), "api_calls", 11)
    assert usage.usage_report(site, session=session)["throttled"] is False  # first month over
    assert usage.monthly_policy(site).allowed
    for m in previous_months(month, 2):
        session.add(UsageMonthly(site_id=site.id, month=m, api_calls=20))
    session.commit()
    report = usage.usage_report(site, extended=True, session=session)
    assert report["throttled"] is True and report["notice_level"] == "NOTICE_THIRD_MONTH_OVER_LIMIT"
    usage._history_cache.clear()
    refused = usage.monthly_policy(site)
    assert not refused.allowed and refused.reason == "monthly" and refused.alert_code == "10508"
    assert refused.retry_after > 0


def test_alert_headers_follow_the_months_over(usage, make_site, session):
    site = make_site(monthly_limit=10)
    month = month_of()
    usage.state.client.hset(usage.key(site.id, month), "api_calls", 5)
    assert usage.alert_headers(site) == {}
    usage.state.client.hset(usage.key(site.id, month), "api_calls", 11)
    headers = usage.alert_headers(site)
    assert headers["X-akismet-alert-code"] == "10501"
    assert headers["X-akismet-alert-api-calls"] == "11" and headers["X-akismet-alert-usage-limit"] == "10"


def test_month_of_is_the_utc_month_on_both_sides_of_every_boundary():
    for year in (1969, 2026, 2027):
        for month in range(1, 13):
            start = datetime(year, month, 1, tzinfo=UTC).timestamp()
            for t in (start - 0.001, start, start + 0.001, start + 3599.9, start - 3600):
                assert month_of(t) == datetime.fromtimestamp(t, UTC).strftime("%Y-%m"), t

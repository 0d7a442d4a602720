"""The query modules under spamguard/storage/queries, on SQLite and PostgreSQL, without an app.

PostgreSQL's test database is shared by the whole run, so every assertion is
scoped to the sites, users and scopes this test made.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from spamguard import storage
from spamguard.api import usage_stats
from spamguard.moderation import stats as stats_page
from spamguard.storage.models import Check, Feedback, Site, User, utcnow
from spamguard.storage.queries import audit, logins, queue, sites, stats, users
from spamguard.storage.queries.stats import TallyKey


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'queries.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    storage.upgrade(url)
    session = storage.make_sessionmaker(url, storage.Timeouts())()
    yield session
    session.close()
    session.get_bind().dispose()


def _site(db, url: str = "https://a.example") -> Site:
    site = Site(url=url, key_hash=uuid.uuid4().hex * 2, key_hint="abcd")
    db.add(site)
    db.commit()
    return site


def _check(
    db,
    site: Site,
    verdict: str,
    *,
    blog: str = "https://a.example/",
    is_test: bool = False,
    created_at: datetime | None = None,
    ip: str = "192.0.2.1",
    email: str = "x@example.com",
    review_label: str | None = None,
) -> Check:
    check = Check(
        guid=uuid.uuid4().hex,
        site_id=site.id,
        blog=blog,
        user_ip=ip,
        comment_author="a",
        comment_author_email=email,
        comment_content="text",
        content_hash=uuid.uuid4().hex,
        fields={},
        is_test=is_test,
        score=0.5,
        verdict=verdict,
        reasons=[],
        model_version="v",
        created_at=created_at or utcnow(),
        review_label=review_label,
        reviewed_at=utcnow() if review_label else None,
    )
    db.add(check)
    db.commit()
    return check


def _report(db, check: Check, label: str, source: str = "api", *, undone: bool = False, is_test: bool = False) -> None:
    db.add(
        Feedback(
            site_id=check.site_id,
            check_id=check.id,
            label=label,
            source=source,
            fields={},
            is_test=is_test,
            undone_at=utcnow() if undone else None,
        )
    )
    db.commit()


def test_site_tallies_count_each_check_once_per_kind_of_report(db):
    site = _site(db)
    ham = _check(db, site, "ham")
    _report(db, ham, "spam")
    _report(db, ham, "spam")  # the same check reported twice counts once
    _report(db, ham, "spam", source="moderator")  # and once more in the any-source figure only
    spam = _check(db, site, "spam", review_label="ham")
    _report(db, spam, "ham")
    _report(db, spam, "ham", undone=True)
    _check(db, site, "ham", blog="https://b.example/")
    _check(db, site, "unsure", is_test=True)
    _report(db, _check(db, site, "ham"), "spam", undone=True)  # withdrawn: not counted
    _check(db, site, "ham", created_at=utcnow() - timedelta(days=40))  # outside the window

    tallies = stats.site_tallies(db, start=utcnow() - timedelta(days=30), site_id=site.id)
    a_ham = tallies[TallyKey(site.id, "https://a.example/", "ham", False)]
    assert (a_ham.checks, a_ham.spam_reports, a_ham.api_spam_reports, a_ham.api_ham_reports) == (2, 1, 1, 0)
    a_spam = tallies[TallyKey(site.id, "https://a.example/", "spam", False)]
    assert (a_spam.checks, a_spam.reviewed_ham, a_spam.api_ham_reports) == (1, 1, 1)
    assert tallies[TallyKey(site.id, "https://b.example/", "ham", False)].checks == 1
    assert tallies[TallyKey(site.id, "https://a.example/", "unsure", True)].checks == 1
    assert sum(t.checks for t in stats.site_tallies(db, site_id=site.id).values()) == 6  # all time

    # Both consumers fold the same rows.
    rows = usage_stats._counters(db, site, utcnow() - timedelta(days=30), None)
    assert rows["a.example"] == {"api_calls": 4, "spam": 1, "ham": 2, "missed_spam": 1, "false_positives": 1}
    assert rows["b.example"]["ham"] == 1
    rates = {r["site_id"]: r for r in stats_page.overturn_rates(db, utcnow() - timedelta(days=30))}
    assert (rates[site.id]["flagged"], rates[site.id]["flagged_ham"]) == (1, 1)
    assert (rates[site.id]["ham"], rates[site.id]["ham_spam"]) == (3, 1)
    with_tests = {r["site_id"]: r for r in stats_page.overturn_rates(db, utcnow() - timedelta(days=30), True)}
    assert with_tests[site.id]["flagged"] == 2


def test_a_report_counts_in_the_month_of_its_check(db):
    site = _site(db)
    september = datetime(2022, 9, 15, tzinfo=UTC)
    check = _check(db, site, "ham", created_at=september)
    _report(db, check, "spam")  # reported today, years later
    page, total = usage_stats.key_sites_report(db, site, "2022-09", "", "total", 10, 0)
    assert total == 1 and page[0]["missed_spam"] == "1"
    assert usage_stats.key_sites_report(db, site, usage_stats.current_month(), "", "total", 10, 0)[1] == 0


def test_daily_counts_and_recently_overturned(db):
    site = _site(db)
    since = utcnow() - timedelta(days=1)
    before = stats.daily_counts(db, since).get(utcnow().date().isoformat(), {}).get("spam", 0)
    overturned = _check(db, site, "spam", review_label="ham")
    _check(db, site, "spam", is_test=True)
    assert stats.daily_counts(db, since)[utcnow().date().isoformat()]["spam"] == before + 1
    assert stats.daily_counts(db, since, include_tests=True)[utcnow().date().isoformat()]["spam"] == before + 2
    assert overturned.id in [c.id for c in stats.recently_overturned(db, since)]


def test_decision_targets_neighbours_and_relatives(db):
    site = _site(db)
    ip = f"198.51.100.{uuid.uuid4().int % 250}"
    now = utcnow() + timedelta(days=3650)  # no other test's unreviewed spam lies between these
    older = _check(db, site, "spam", ip=ip, created_at=now - timedelta(minutes=2))
    middle = _check(db, site, "spam", ip=ip, created_at=now - timedelta(minutes=1))
    newer = _check(db, site, "spam", ip=ip, created_at=now)
    _check(db, site, "spam", ip=ip, is_test=True)
    _check(db, site, "spam", ip=ip, review_label="spam")
    assert [c.id for c in queue.pending_from(db, "ip", ip, 10)] == [older.id, middle.id, newer.id]
    assert [c.id for c in queue.pending_from(db, "ip", ip, 2)] == [older.id, middle.id]
    assert [c.id for c in queue.checks_by_ids(db, [newer.id, older.id])] == [older.id, newer.id]
    assert queue.checks_by_ids(db, []) == []
    assert queue.neighbours(db, middle) == (newer.id, older.id)
    related = queue.related(db, middle, 3)
    by_ip = [c.id for c in related["IP address"]]
    assert by_ip == sorted(by_ip, reverse=True) and len(by_ip) == 3 and middle.id not in by_ip
    _report(db, middle, "spam")
    assert [f.check_id for f in queue.feedback_for(db, middle.id)] == [middle.id]


def test_audit_pages_newest_first_with_a_cursor(db):
    action = f"test_{uuid.uuid4().hex[:8]}"
    ids = [audit.add(db, action, f"t{i}", user_id=None, details={"i": i}) for i in range(5)]
    db.commit()
    first, cursor = audit.page(db, action=action, size=2)
    assert [r.target for r in first] == ["t4", "t3"] and cursor == first[-1].id
    second, cursor = audit.page(db, action=action, before=cursor, size=2)
    third, end = audit.page(db, action=action, before=cursor, size=2)
    assert [r.target for r in second + third] == ["t2", "t1", "t0"] and end is None
    assert [r.id for r in audit.latest(db, action, 2)] == [ids[4].id, ids[3].id]
    assert len(audit.add(db, action, "x" * 500, user_id=None, details={}).target) == 200
    db.rollback()


def test_login_counters_count_expire_reset_and_refund(db):
    scope = f"ip:{uuid.uuid4().hex[:8]}"
    assert logins.hit(db, scope, 60, now=1000, keep=900) == (1, 1060)
    assert logins.hit(db, scope, 60, now=1010, keep=900) == (2, 1060)
    logins.refund(db, scope)
    db.commit()
    assert logins.hit(db, scope, 60, now=1020, keep=900) == (2, 1060)
    assert logins.hit(db, scope, 60, now=1060, keep=900) == (1, 1120)  # the window ended: a fresh count
    logins.reset(db, scope)
    db.commit()
    assert logins.hit(db, scope, 60, now=1070, keep=900) == (1, 1130)


def test_users_and_sessions(db):
    name = f"u-{uuid.uuid4().hex[:8]}"
    user = users.add(db, name, "hash", "moderator")
    db.commit()
    assert users.by_name(db, name).id == user.id and users.by_name(db, name + "x") is None
    assert name in [u.username for u in users.all_users(db)]
    epoch = user.session_epoch
    users.end_sessions(db, user.id)
    db.commit()
    db.expire_all()
    assert db.get(User, user.id).session_epoch == epoch + 1


def test_site_listings(db):
    a, b = _site(db, "https://one.example"), _site(db, "https://two.example")
    listed = [s.id for s in sites.all_sites(db)]
    assert listed.index(a.id) < listed.index(b.id)
    assert set(sites.sites_by_id(db, [a.id, b.id])) == {a.id, b.id} and sites.sites_by_id(db, []) == {}

"""Checks past the retention period are deleted, except those a label, callback or decision refers to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, select

from spamguard import storage
from spamguard.delivery.models import Callback, Decision
from spamguard.jobs.maintenance import Maintenance
from spamguard.jobs.retention import CheckRetention
from spamguard.storage.models import Check, Feedback, Site

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request, tmp_path):
    """A session factory on a database holding no checks."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'retention.db'}"
        storage.upgrade(url)
        return storage.make_sessionmaker(url)
    factory = request.getfixturevalue("session_factory")  # this run's private schema, shared by its tests
    with factory() as session:  # a purge is global: start from no checks
        for model in (Decision, Callback, Feedback, Check):
            session.execute(delete(model))
        session.commit()
    return factory


def add_site(session) -> Site:
    site = Site(url="https://blog.example", key_hash=uuid.uuid4().hex * 2, key_hint="abcd")
    session.add(site)
    session.commit()
    return site


def add_check(session, site: Site, age_days: float, content: str = "a comment") -> Check:
    check = Check(
        guid=uuid.uuid4().hex,
        site_id=site.id,
        created_at=NOW - timedelta(days=age_days),
        user_ip="192.0.2.1",
        comment_author_email="reader@example.com",
        comment_content=content,
        content_hash=uuid.uuid4().hex,
        fields={"comment_content": content},
        score=0.5,
        verdict="ham",
        reasons=[],
    )
    session.add(check)
    session.commit()
    return check


def remaining(session, site: Site) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Check.comment_content).where(Check.site_id == site.id)))


def retention(days: float = 30, **options) -> CheckRetention:
    return CheckRetention(days, now=lambda: NOW, **options)


def test_old_checks_go_unless_something_refers_to_them(factory):
    with factory() as session:
        site = add_site(session)
        add_check(session, site, 29, "recent")
        add_check(session, site, 31, "old")
        add_check(session, site, 400, "very old")
        labelled = add_check(session, site, 60, "labelled")
        called_back = add_check(session, site, 60, "with a callback")
        decided = add_check(session, site, 60, "decided")
        session.add(Feedback(site_id=site.id, check_id=labelled.id, label="spam", source="api", fields={}))
        session.add(Callback(check_id=called_back.id, site_id=site.id, url="https://blog.example/cb"))
        session.add(
            Decision(site_id=site.id, check_id=decided.id, guid=decided.guid, result="spam", source="moderator")
        )
        session.commit()

        purge = retention()
        counted = REGISTRY.get_sample_value("spamguard_checks_deleted_total") or 0.0
        assert purge.purge(session) == 2
        assert REGISTRY.get_sample_value("spamguard_checks_deleted_total") == counted + 2  # on /metrics
        assert remaining(session, site) == {"recent", "labelled", "with a callback", "decided"}
        assert purge.purge(session) == 0
        assert purge.deleted == 2


def test_a_pass_deletes_by_chunks_up_to_its_limit(factory):
    with factory() as session:
        site = add_site(session)
        for i in range(10):
            add_check(session, site, 100 + i, f"old {i}")
        add_check(session, site, 1, "recent")

        purge = retention(chunk=3, max_rows=7)
        assert purge.purge(session) == 9  # whole chunks until the limit is reached: 3 + 3 + 3
        assert purge.purge(session) == 1
        assert remaining(session, site) == {"recent"}


def test_kept_rows_between_old_ones_do_not_end_a_pass(factory):
    with factory() as session:
        site = add_site(session)
        for i in range(5):  # the oldest are labelled: kept, walked past once
            labelled = add_check(session, site, 500 - i, f"labelled {i}")
            session.add(Feedback(site_id=site.id, check_id=labelled.id, label="ham", source="api", fields={}))
        session.commit()
        for i in range(5):
            add_check(session, site, 300 - i, f"old {i}")
        add_check(session, site, 400, "between")

        assert retention(chunk=2).purge(session) == 6
        assert remaining(session, site) == {f"labelled {i}" for i in range(5)}


def test_zero_days_keeps_everything(factory):
    with factory() as session:
        site = add_site(session)
        add_check(session, site, 10_000, "ancient")
        assert retention(0).purge(session) == 0
        assert retention(0).run_if_due(session) == 0
        assert remaining(session, site) == {"ancient"}


def test_passes_run_at_most_every_interval(factory):
    ticks = [1000.0]
    purge = retention(every=3600, clock=lambda: ticks[0])
    with factory() as session:
        site = add_site(session)
        add_check(session, site, 90, "first")
        assert purge.run_if_due(session) == 1
        add_check(session, site, 90, "second")
        ticks[0] += 3599
        assert purge.run_if_due(session) == 0  # not due: the row stays
        assert remaining(session, site) == {"second"}
        ticks[0] += 1
        assert purge.run_if_due(session) == 1
        assert remaining(session, site) == set()


def test_the_period_is_never_shorter_than_the_implicit_ham_window():
    config = {"SPAMGUARD_CHECK_RETENTION_DAYS": 1.0, "SPAMGUARD_IMPLICIT_HAM_DAYS": 3.0}
    assert CheckRetention.for_config(config, None).days == 3.0
    assert CheckRetention.for_config({**config, "SPAMGUARD_CHECK_RETENTION_DAYS": 0.0}, None).days == 0.0
    assert CheckRetention.for_config({**config, "SPAMGUARD_CHECK_RETENTION_DAYS": 90.0}, None).days == 90.0


def test_the_maintenance_loop_deletes_old_checks(factory, usage, reputation):
    with factory() as session:
        site = add_site(session)
        add_check(session, site, 365, "a year old")
        add_check(session, site, 0, "today")
    loop = Maintenance(usage, reputation, factory, retention=retention())
    done = loop.run_once()
    assert done["checks_deleted"] == 1
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Check).where(Check.site_id == site.id)) == 1

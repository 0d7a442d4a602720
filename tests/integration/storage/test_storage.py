"""Storage on both databases: migrations, keys, checks and feedback matching."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, inspect, select

from spamguard import checking, sites, storage
from spamguard.comment import Comment
from spamguard.services import services
from spamguard.storage.models import Check, Feedback, Site


@pytest.fixture(params=["sqlite", "postgresql"])
def db_app(request, make_app, tmp_path):
    if request.param == "sqlite":
        return make_app(f"sqlite:///{tmp_path / 'storage.db'}")
    url = request.getfixturevalue("pg_url")
    return make_app(url)


def test_migrations_create_every_table_and_are_idempotent(db_app):
    url = db_app.config["DATABASE_URL"]
    storage.upgrade(url)  # a second run is a no-op
    engine = storage.make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"sites", "checks", "feedback", "users", "audit_log", "usage_monthly", "alembic_version"} <= tables
    queue_index = {ix["name"] for ix in inspect(engine).get_indexes("checks")}
    assert "ix_checks_queue" in queue_index
    engine.dispose()


def test_keys_are_stored_hashed_and_matched_case_insensitively(db_app):
    with db_app.app_context():
        session = storage.get_session()
        secret = db_app.config["SPAMGUARD_KEY_SECRET"]
        site, key = sites.create_site(session, "https://blog.example", secret=secret)
        assert len(key) == 12 and all(c in "0123456789abcdef" for c in key)
        stored = session.get(Site, site.id)
        assert key not in (stored.key_hash, stored.url) and stored.key_hash == sites.hash_key(key, secret)
        assert sites.find_site(session, key.upper(), secret=secret).id == site.id
        assert sites.find_site(session, "000000000000", secret=secret) is None
        assert sites.find_site(session, "not-a-key", secret=secret) is None
        assert sites.revoke_key(session, key, secret=secret) is True
        assert sites.find_site(session, key, secret=secret) is None
        assert sites.revoke_key(session, key, secret=secret) is False


def test_check_is_stored_with_every_field_and_feedback_matches_it(db_app):
    comment = Comment(
        blog="https://blog.example",
        user_ip="203.0.113.5",
        comment_author="Jane",
        comment_content="Buy cheap watches at http://spam.example now!!!",
        comment_context=["Tag one", "News"],
        extra={"POST_comment": "x"},
    )
    with db_app.app_context():
        session = storage.get_session()
        site, _key = sites.create_site(session, "https://blog.example", secret="s")
        result = services().checks.check(session, site, comment, "test").result
        check = session.scalar(select(Check).where(Check.guid == result.guid))
        assert check.fields["comment_context"] == ["Tag one", "News"]
        assert check.fields["extra"] == {"POST_comment": "x"}
        assert check.model_version and 0.0 <= check.score <= 1.0 and check.verdict == result.verdict
        assert check.created_at.tzinfo is not None

        # By content (the Akismet submit calls carry no GUID)...
        by_content = checking.record_feedback(session, site, comment, "ham")
        assert by_content.check_id == check.id
        # ...and by GUID even when the content was edited since.
        edited = dataclasses.replace(comment, comment_content="edited")
        by_guid = checking.record_feedback(session, site, edited, "spam", guid=result.guid)
        assert by_guid.check_id == check.id
        unmatched = checking.record_feedback(session, site, Comment(comment_content="never checked"), "spam")
        assert unmatched.check_id is None
        assert session.scalar(select(func.count(Feedback.id)).where(Feedback.site_id == site.id)) == 3


def test_feedback_from_another_site_never_matches(db_app):
    comment = Comment(blog="https://a.example", user_ip="203.0.113.9", comment_content="hello there")
    with db_app.app_context():
        session = storage.get_session()
        site_a, _ = sites.create_site(session, "https://a.example", secret="s")
        site_b, _ = sites.create_site(session, "https://b.example", secret="s")
        result = services().checks.check(session, site_a, comment, "test").result
        feedback = checking.record_feedback(session, site_b, comment, "spam", guid=result.guid)
        assert feedback.check_id is None


def test_the_request_session_is_closed_unless_it_was_never_used(db_app, monkeypatch):
    from sqlalchemy.orm import Session

    closed: list[Session] = []
    real_close = Session.close

    def counting_close(self):
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(Session, "close", counting_close)
    engine = db_app.extensions["spamguard.db"].kw["bind"]
    with db_app.app_context():
        untouched = storage.get_session()
        assert storage.untouched(untouched)
    assert untouched not in closed  # nothing begun, nothing held: nothing to release
    with db_app.app_context():
        used = storage.get_session()
        used.scalar(select(func.count()).select_from(Site))  # begins a transaction, holds a connection
        assert not storage.untouched(used)
    assert used in closed and engine.pool.checkedout() == 0
    with db_app.app_context():
        holding = storage.get_session()
        site, _key = sites.create_site(holding, "https://held.example", secret=db_app.config["SPAMGUARD_KEY_SECRET"])
        holding.commit()  # the transaction is over, the site object is still held
        assert not storage.untouched(holding)
    assert holding in closed

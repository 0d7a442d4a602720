"""load_feedback: test calls and undone feedback excluded, latest label wins, per-key cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from model_training.data import load_feedback
from spamguard import storage
from spamguard.comment import Comment
from spamguard.storage.models import Base, Feedback, Site

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def word(i: int) -> str:
    return "".join(chr(ord("a") + int(d)) for d in f"{i:03d}")


@pytest.fixture
def session(tmp_path):
    engine = storage.make_engine(f"sqlite:///{tmp_path / 'fb.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def _site(session, n: int) -> Site:
    site = Site(url=f"https://s{n}.example", key_hash=f"{n:064d}", key_hint="abcd")
    session.add(site)
    session.flush()
    return site


def _fb(session, site, text, label, minutes, **kw):
    session.add(
        Feedback(
            site_id=site.id,
            label=label,
            source="api",
            fields=Comment(comment_content=text).to_json(),
            created_at=T0 + timedelta(minutes=minutes),
            **kw,
        )
    )


def test_filters_latest_label_and_cap(session):
    a, b = _site(session, 1), _site(session, 2)
    _fb(session, a, "buy pills", "ham", 0)
    _fb(session, a, "buy  PILLS", "spam", 5)  # same comment after normalisation; latest wins
    _fb(session, a, "test call", "spam", 1, is_test=True)
    _fb(session, a, "undone one", "spam", 2, undone_at=T0)
    for i in range(50):
        _fb(session, b, f"flood message {word(i)}", "ham", 10 + i)
    for i in range(30):  # templated variants: one distinct comment
        _fb(session, b, f"template spam {i} http://x{i}.example", "spam", 1)
    session.commit()
    examples = load_feedback(session, cap_per_key=10)
    by_group = {}
    for e in examples:
        by_group.setdefault(e.group, []).append(e)
    assert [(e.text, e.label) for e in by_group[f"site:{a.id}"]] == [("buy  PILLS", 1)]
    flood = by_group[f"site:{b.id}"]
    assert len(flood) == 10 and all(e.label == 0 and e.source == "db" for e in flood)
    assert {e.text for e in flood} == {f"flood message {word(i)}" for i in range(40, 50)}  # most recent ones
    assert all(not e.trusted for e in examples)  # API reports


def test_templated_variants_collapse(session):
    a = _site(session, 1)
    for i in range(30):
        _fb(session, a, f"template spam {i} http://x{i}.example", "spam", i)
    _fb(
        session,
        a,
        "a moderator decision",
        "ham",
        99,
    )
    session.commit()
    examples = load_feedback(session, cap_per_key=200)
    assert sorted(e.text for e in examples) == ["a moderator decision", "template spam 29 http://x29.example"]
    assert all("test call" not in e.text and "undone" not in e.text for e in examples)


def _check(session, site, text, minutes, verdict="ham"):
    from spamguard.checking import content_hash
    from spamguard.storage.models import Check

    comment = Comment(comment_content=text)
    check = Check(
        guid=f"{site.id:04d}{minutes:08d}".ljust(32, "0"),
        site_id=site.id,
        comment_content=text,
        content_hash=content_hash(comment),
        fields=comment.to_json(),
        score=0.1,
        verdict=verdict,
        reasons=[],
        created_at=T0 + timedelta(minutes=minutes),
    )
    session.add(check)
    session.flush()
    return check


def test_site_ham_splits_by_window_and_skips_reported_comments(session):
    from model_training.data import load_site_ham

    a, b = _site(session, 1), _site(session, 2)
    _check(session, a, "old ordinary comment about boxes", 0)
    reported = _check(session, a, "old comment that was reported", 1)
    session.add(
        Feedback(
            site_id=a.id,
            check_id=reported.id,
            label="spam",
            source="api",
            fields=Comment(comment_content="old comment that was reported").to_json(),
        )
    )
    _check(session, a, "old comment answered spam", 2, verdict="spam")
    _check(session, a, "recent ordinary comment about tape", 60 * 24 * 4)
    _check(session, b, "another site's comment", 0)
    session.commit()
    now = T0 + timedelta(days=4, hours=1)
    implicit, recent = load_site_ham(session, [a.id], now, window_days=3, cap_per_site=10)
    assert [e.text for e in implicit] == ["old ordinary comment about boxes"]
    assert [e.text for e in recent] == ["recent ordinary comment about tape"]
    assert all(e.label == 0 and e.implicit and not e.trusted and e.group == f"site:{a.id}" for e in implicit + recent)

"""The queue: contents, filters, keyset pages, detail view, decisions (single/bulk), undo, audit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from spamguard.moderation import queue as queue_module
from spamguard.storage.models import AuditLog, Check, Feedback

ROW = re.compile(r'<tr id="check-(\d+)"')


def ids_on(client, url: str = "/moderation") -> list[int]:
    response = client.get(url)
    assert response.status_code == 200
    return [int(i) for i in ROW.findall(response.get_data(as_text=True))]


def test_queue_lists_unreviewed_non_test_checks_needs_review_first(ui, moderator):
    site = ui.site()
    now = datetime.now(UTC)
    spam = ui.add_check(site, verdict="spam", created_at=now - timedelta(minutes=3))
    unsure = ui.add_check(site, verdict="unsure", score=0.6, created_at=now - timedelta(minutes=1))
    discard = ui.add_check(site, verdict="discard", created_at=now - timedelta(minutes=2))
    ham = ui.add_check(site, verdict="ham", score=0.01)
    test = ui.add_check(site, verdict="spam", is_test=True)
    ui.add_check(site, verdict="spam", reviewed=True)
    # All: needs review (unsure) first, then spam, discarded, let through.
    assert ids_on(moderator) == [unsure, spam, discard, ham]
    assert ids_on(moderator, "/moderation?tab=review") == [unsure]
    assert ids_on(moderator, "/moderation?tab=spam") == [spam]
    assert ids_on(moderator, "/moderation?tab=discard") == [discard]
    assert ids_on(moderator, "/moderation?tab=ham") == [ham]
    # Akismet test requests only when asked for.
    assert ids_on(moderator, "/moderation?tab=spam&tests=1") == [test, spam]
    assert ids_on(moderator, "/moderation?sort=newest") == [ham, unsure, discard, spam]
    assert ids_on(moderator, "/moderation?sort=score_asc") == [ham, unsure, spam, discard]  # ties by id


def test_tabs_show_counts(ui, moderator, monkeypatch):
    site = ui.site()
    for verdict, n in (("unsure", 3), ("spam", 2), ("discard", 1), ("ham", 4)):
        for _ in range(n):
            ui.add_check(site, verdict=verdict)
    ui.add_check(site, verdict="unsure", is_test=True)
    ui.add_check(site, verdict="unsure", reviewed=True)
    queue_module.listing.counts.clear()
    html = moderator.get("/moderation").get_data(as_text=True)
    counts = dict(re.findall(r'data-count-tab="(\w+)"[^>]*>([\d,]+)<', html))
    assert counts == {"review": "3", "spam": "2", "discard": "1", "ham": "4", "all": "10"}
    html = moderator.get("/moderation?tests=1").get_data(as_text=True)
    assert dict(re.findall(r'data-count-tab="(\w+)"[^>]*>([\d,]+)<', html))["review"] == "4"


def test_score_sort_walks_pages_in_score_order(ui, moderator, monkeypatch):
    monkeypatch.setattr(queue_module.listing, "PAGE_SIZE", 3)
    site = ui.site()
    made = {
        ui.add_check(site, verdict=("unsure", "spam", "discard")[i % 3], score=s): s
        for i, s in enumerate((0.5, 0.8, 0.99, 0.6, 0.75, 0.98, 0.55, 0.9, 0.97, 0.6))
    }
    seen, url = [], "/moderation?sort=score"
    while url:
        html = moderator.get(url).get_data(as_text=True)
        seen += [int(i) for i in ROW.findall(html)]
        match = re.search(r'<a rel="next" href="([^"]+)"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert seen == sorted(made, key=lambda i: (-made[i], -i))


def test_queue_filters(ui, moderator):
    a, b = ui.site("https://a.example"), ui.site("https://b.example")
    now = datetime.now(UTC)
    old = ui.add_check(a, verdict="spam", score=0.99, content="cheap watches", created_at=now - timedelta(days=10))
    mid = ui.add_check(b, verdict="unsure", score=0.55, author="Eve", content="nice post")
    new = ui.add_check(a, verdict="discard", score=0.97, content="casino 100%_bonus")
    assert ids_on(moderator, f"/moderation?site={a}") == [old, new]
    assert ids_on(moderator, "/moderation?verdict=unsure") == [mid]
    assert ids_on(moderator, "/moderation?min_score=0.9") == [old, new]
    assert ids_on(moderator, "/moderation?max_score=0.6") == [mid]
    day = (now - timedelta(days=10)).date().isoformat()
    assert ids_on(moderator, f"/moderation?from={day}&to={day}") == [old]
    assert ids_on(moderator, f"/moderation?from={now.date().isoformat()}") == [mid, new]
    assert ids_on(moderator, "/moderation?q=WATCHES") == [old]
    assert ids_on(moderator, "/moderation?q=eve") == [mid]
    assert ids_on(moderator, "/moderation?q=100%25_") == [new]  # LIKE wildcards are literal
    assert ids_on(moderator, "/moderation?q=%25") == [new]
    assert ids_on(moderator, "/moderation?verdict=bogus&min_score=x&from=nope") == [mid, old, new]


def test_keyset_pages_cover_the_queue_once(ui, moderator, monkeypatch):
    monkeypatch.setattr(queue_module.listing, "PAGE_SIZE", 4)
    site = ui.site()
    now = datetime.now(UTC)
    made = [
        ui.add_check(site, verdict=("spam", "unsure", "discard")[i % 3], created_at=now - timedelta(seconds=i // 2))
        for i in range(11)
    ]  # ties on created_at
    seen, url = [], "/moderation"
    while url:
        html = moderator.get(url).get_data(as_text=True)
        seen += [int(i) for i in ROW.findall(html)]
        match = re.search(r'<a rel="next" href="([^"]+)"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
    rank = {"unsure": 0, "spam": 1, "discard": 2}
    # Needs review first, then spam, discard; newest first within each, ties by id desc.
    expected = sorted(
        made, key=lambda i: (rank[("spam", "unsure", "discard")[made.index(i) % 3]], made.index(i) // 2, -i)
    )
    assert seen == expected


def test_search_is_bounded_and_can_continue(ui, moderator, monkeypatch):
    monkeypatch.setattr(queue_module.listing, "SEARCH_WINDOW", 3)
    site = ui.site()
    now = datetime.now(UTC)
    needle = ui.add_check(site, content="needle", created_at=now - timedelta(minutes=10))
    for i in range(4):
        ui.add_check(site, content="hay", created_at=now - timedelta(minutes=i))
    html = moderator.get("/moderation?q=needle").get_data(as_text=True)
    assert ROW.findall(html) == []
    more = re.search(r'href="([^"]+)">search older', html).group(1).replace("&amp;", "&")
    html = moderator.get(more).get_data(as_text=True)
    assert [int(i) for i in ROW.findall(html)] == [needle]


def test_queue_query_uses_the_queue_index(ui, app):
    """EXPLAIN on SQLite: the queue branches search ix_checks_queue, no full scan, no sort."""
    from sqlalchemy import and_, tuple_

    ui.add_check(ui.site())
    f = queue_module.listing.QueueFilters()
    with ui.db() as db:
        for extra in ([], [tuple_(Check.created_at, Check.id) < (datetime.now(UTC), 10**9)]):
            stmt = (
                select(Check.id, Check.created_at)
                .where(and_(*queue_module.listing._conditions(f, "spam"), *extra))
                .order_by(Check.created_at.desc(), Check.id.desc())
                .limit(51)
            )
            sql = str(stmt.compile(db.bind, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(row[-1]) for row in db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "ix_checks_queue" in plan, plan
            assert "TEMP B-TREE" not in plan and "SCAN checks" not in plan.replace("USING INDEX", "#"), plan


def test_detail_shows_every_field_and_related_comments(ui, moderator):
    site = ui.site()
    first = ui.add_check(site, ip="203.0.113.5", email="x@example.com", content="first")
    other_ip = ui.add_check(site, ip="203.0.113.5", email="y@example.com", content="same ip")
    other_mail = ui.add_check(site, ip="198.51.100.1", email="x@example.com", content="same mail")
    ui.add_check(site, ip="198.51.100.2", email="z@example.com", content="unrelated")
    check = ui.add_check(
        site,
        ip="203.0.113.5",
        email="x@example.com",
        content="see http://evil.example/x",
        comment_author_url="http://evil.example/",
        user_agent="Mozilla/5.0",
        extra={"custom_field": "custom value"},
    )
    html = moderator.get(f"/moderation/checks/{check}").get_data(as_text=True)
    for text in (
        "comment_author_url",
        "http://evil.example/",
        "user_agent",
        "Mozilla/5.0",
        "extra.custom_field",
        "custom value",
        "links: 3",
        "test-v1",
    ):
        assert text in html
    assert 'href="http://evil.example' not in html
    assert f"/moderation/checks/{first}" in html and f"/moderation/checks/{other_ip}" in html
    assert f"/moderation/checks/{other_mail}" in html and "unrelated" not in html
    assert moderator.get("/moderation/checks/999999").status_code == 404


def test_decision_records_moderator_feedback_and_leaves_the_queue(ui, moderator):
    site = ui.site()
    check = ui.add_check(site, content="a real comment", author="Ann")
    response = moderator.post(
        f"/moderation/checks/{check}/decide", data={"label": "ham", "csrf_token": ui.token(moderator)}
    )
    assert response.status_code == 302
    assert check not in ids_on(moderator)
    with ui.db() as db:
        fb = db.scalars(select(Feedback)).one()
        assert (fb.check_id, fb.label, fb.source, fb.reporter, fb.site_id) == (check, "ham", "moderator", "mod", site)
        assert fb.fields["comment_content"] == "a real comment" and fb.fields["comment_author"] == "Ann"
        row = db.get(Check, check)
        assert row.review_label == "ham" and row.reviewed_at is not None
        audit = db.scalars(select(AuditLog).where(AuditLog.action == "decide")).one()
        assert audit.user.username == "mod" and audit.target == f"check:{check}"
        # Every audit row names the client address (SPAMGUARD_TRUSTED_PROXIES decides which one).
        assert audit.details == {"label": "ham", "feedback_id": fb.id, "verdict": "spam", "ip": "127.0.0.1"}
    # Deciding again does not add a second label.
    moderator.post(f"/moderation/checks/{check}/decide", data={"label": "spam", "csrf_token": ui.token(moderator)})
    with ui.db() as db:
        assert len(db.scalars(select(Feedback)).all()) == 1


def test_bad_label_is_refused(ui, moderator):
    check = ui.add_check(ui.site())
    response = moderator.post(
        f"/moderation/checks/{check}/decide", data={"label": "maybe", "csrf_token": ui.token(moderator)}
    )
    assert response.status_code == 400


def test_bulk_decision_and_undo(ui, moderator):
    site = ui.site()
    checks = [ui.add_check(site) for _ in range(5)]
    keep = ui.add_check(site)
    token = ui.token(moderator)
    response = moderator.post("/moderation/bulk", data={"label": "spam", "ids": checks, "csrf_token": token})
    assert response.status_code == 302
    assert ids_on(moderator) == [keep]
    with ui.db() as db:
        feedback = db.scalars(select(Feedback).order_by(Feedback.id)).all()
        assert sorted(f.check_id for f in feedback) == checks
        assert {(f.label, f.source, f.reporter) for f in feedback} == {("spam", "moderator", "mod")}
        assert len(db.scalars(select(AuditLog).where(AuditLog.action == "decide")).all()) == 5
        bulk = db.scalars(select(AuditLog).where(AuditLog.action == "bulk_decide")).one()
        assert bulk.details["check_ids"] == checks
    # The flash offers one undo for the whole batch.
    html = moderator.get("/moderation").get_data(as_text=True)
    assert 'id="undo-last"' in html
    undo_ids = [int(i) for i in re.findall(r'name="feedback_ids" value="(\d+)"', html)]
    assert sorted(undo_ids) == sorted(f.id for f in feedback)
    response = moderator.post("/moderation/undo", data={"feedback_ids": undo_ids, "csrf_token": token})
    assert response.status_code == 302
    assert sorted(ids_on(moderator)) == sorted(checks + [keep])
    with ui.db() as db:
        assert all(f.undone_at is not None for f in db.scalars(select(Feedback)).all())
        assert all(db.get(Check, c).reviewed_at is None and db.get(Check, c).review_label is None for c in checks)
        assert len(db.scalars(select(AuditLog).where(AuditLog.action == "undo")).all()) == 5
    # A second undo of the same rows does nothing.
    moderator.post("/moderation/undo", data={"feedback_ids": undo_ids, "csrf_token": token})
    with ui.db() as db:
        assert len(db.scalars(select(AuditLog).where(AuditLog.action == "undo")).all()) == 5


def test_bulk_rejects_too_many_and_garbage(ui, moderator):
    token = ui.token(moderator)
    assert (
        moderator.post("/moderation/bulk", data={"label": "spam", "ids": ["x"], "csrf_token": token}).status_code == 400
    )
    many = list(range(1, queue_module.MAX_BULK + 2))
    assert (
        moderator.post("/moderation/bulk", data={"label": "spam", "ids": many, "csrf_token": token}).status_code == 400
    )


def test_undo_from_the_detail_page(ui, moderator):
    check = ui.add_check(ui.site())
    token = ui.token(moderator)
    moderator.post(f"/moderation/checks/{check}/decide", data={"label": "ham", "csrf_token": token})
    html = moderator.get(f"/moderation/checks/{check}").get_data(as_text=True)
    fid = re.search(r'name="feedback_ids" value="(\d+)"', html).group(1)
    moderator.post(
        "/moderation/undo", data={"feedback_ids": fid, "csrf_token": token, "back": f"/moderation/checks/{check}"}
    )
    assert check in ids_on(moderator)
    assert "undone" in moderator.get(f"/moderation/checks/{check}").get_data(as_text=True)


def test_decision_through_the_real_check_path(ui, app, key, moderator):
    """A comment checked through the Akismet API, flagged, then overturned in the UI."""
    client = app.test_client()
    response = client.post(
        "/1.1/comment-check",
        data={
            "api_key": key,
            "blog": "https://blog.example",
            "user_ip": "192.0.2.77",
            "comment_author": "akismet-guaranteed-discard",
            "comment_content": "flag me",
        },
    )
    assert response.status_code == 200 and response.get_data(as_text=True) == "true"
    with ui.db() as db:
        check = db.scalars(select(Check)).one()
    assert check.id in ids_on(moderator)
    moderator.post(f"/moderation/checks/{check.id}/decide", data={"label": "ham", "csrf_token": ui.token(moderator)})
    assert check.id not in ids_on(moderator)
    with ui.db() as db:
        fb = db.scalars(select(Feedback)).one()
        assert (fb.source, fb.label, fb.check_id) == ("moderator", "ham", check.id)


def test_a_moderator_undoes_only_their_own_decisions(ui, app, moderator):
    """Another moderator cannot withdraw mod's decision; an admin can."""
    check = ui.add_check(ui.site())
    moderator.post(f"/moderation/checks/{check}/decide", data={"label": "spam", "csrf_token": ui.token(moderator)})
    with ui.db() as db:
        fid = db.scalar(select(Feedback.id).where(Feedback.check_id == check))
    undo_form = 'action="/moderation/undo"'
    assert undo_form in moderator.get(f"/moderation/checks/{check}").get_data(as_text=True)
    ui.add_user("eve", "moderator")
    eve = app.test_client()
    ui.login(eve, "eve")
    assert undo_form not in eve.get(f"/moderation/checks/{check}").get_data(as_text=True)  # the server refuses it
    response = eve.post("/moderation/undo", data={"feedback_ids": fid, "csrf_token": ui.token(eve)})
    assert response.status_code == 302
    assert "only an admin may undo" in eve.get("/moderation").get_data(as_text=True)
    with ui.db() as db:
        assert db.get(Feedback, fid).undone_at is None and db.get(Check, check).reviewed_at is not None
        assert not db.scalars(select(AuditLog).where(AuditLog.action == "undo")).all()
    ui.add_user("boss", "admin")
    boss = app.test_client()
    ui.login(boss, "boss")
    assert undo_form in boss.get(f"/moderation/checks/{check}").get_data(as_text=True)
    boss.post("/moderation/undo", data={"feedback_ids": fid, "csrf_token": ui.token(boss)})
    with ui.db() as db:
        assert db.get(Feedback, fid).undone_at is not None and db.get(Check, check).reviewed_at is None


def test_score_order_and_tab_counts_use_their_indexes(ui, app):
    """EXPLAIN on SQLite: score-sorted branches walk ix_checks_queue_score, counts are index-only."""
    from sqlalchemy import func

    ui.add_check(ui.site())
    f = queue_module.listing.QueueFilters(sort="score")

    def plan(db, stmt) -> str:
        sql = str(stmt.compile(db.bind, compile_kwargs={"literal_binds": True}))
        return " ".join(str(row[-1]) for row in db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql))

    with ui.db() as db:
        score = plan(
            db,
            select(Check.id)
            .where(*queue_module.listing._conditions(f, "ham"))
            .order_by(Check.score.desc(), Check.id.desc())
            .limit(51),
        )
        assert "ix_checks_queue_score" in score and "TEMP B-TREE" not in score, score
        counts = plan(
            db,
            select(Check.verdict, func.count())
            .where(Check.reviewed_at.is_(None), Check.is_test.is_(False))
            .group_by(Check.verdict),
        )
        assert "COVERING INDEX ix_checks_counts" in counts, counts

"""A moderator's label, its audit row and its delivery outbox rows are one transaction.

The failure is a real one: a database trigger refuses the audit row, so the
commit that would store the label fails inside the database.  Nothing of the
decision may survive it; once the trigger is gone the same decision goes through
with all three rows.  A bulk decision (selected checks, or all from one IP) is one
transaction too: every label, every decision's audit row and outbox rows, and the
bulk action's own audit row.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime

import pytest
from moderation_helpers import UI
from sqlalchemy import func, select, text

from spamguard.delivery.models import Decision
from spamguard.storage.models import AuditLog, Check, Feedback

SQLITE_TRIGGER = (
    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log WHEN NEW.action = '{action}' "
    "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"
)
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql"
)
PG_TRIGGER = (
    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW "
    "WHEN (NEW.action = '{action}') EXECUTE FUNCTION refuse_audit()"
)


@contextmanager
def refusing_audit(app, database: str, action: str):
    """A trigger that makes the database refuse audit rows of `action`, dropped afterwards."""
    statements = [SQLITE_TRIGGER] if database == "sqlite" else [PG_FUNCTION, PG_TRIGGER]
    engine = app.extensions["spamguard.db"].kw["bind"]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement.format(action=action)))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DROP TRIGGER refuse_audit" + (" ON audit_log" if database == "postgresql" else ""))
            )


def _rows(ui: UI, check_id: int) -> tuple[int, int, int, bool]:
    with ui.db() as db:
        feedback = db.scalar(select(func.count()).select_from(Feedback).where(Feedback.check_id == check_id))
        decisions = db.scalar(select(func.count()).select_from(Decision).where(Decision.check_id == check_id))
        audits = db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "decide", AuditLog.target == f"check:{check_id}")
        )
        reviewed = db.get(Check, check_id).reviewed_at is not None
    return feedback, decisions, audits, reviewed


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_failed_audit_insert_leaves_no_label(database, make_app, request):
    app = make_app(request.getfixturevalue("pg_url") if database == "postgresql" else None)
    ui = UI(app)
    ui.add_user(f"atomic-{database}")
    client = app.test_client()
    assert ui.login(client, f"atomic-{database}").status_code == 302
    check_id = ui.add_check(ui.site(f"https://atomic-{datetime.now().timestamp()}.example"))
    token = ui.token(client)
    with refusing_audit(app, database, "decide"):
        refused = client.post(f"/moderation/checks/{check_id}/decide", data={"label": "ham", "csrf_token": token})
        assert refused.status_code == 500
        assert _rows(ui, check_id) == (0, 0, 0, False)

    response = client.post(f"/moderation/checks/{check_id}/decide", data={"label": "ham", "csrf_token": token})
    assert response.status_code == 302
    assert _rows(ui, check_id) == (1, 1, 1, True)
    with ui.db() as db:
        row = db.scalar(select(AuditLog).where(AuditLog.action == "decide", AuditLog.target == f"check:{check_id}"))
        feedback = db.scalar(select(Feedback).where(Feedback.check_id == check_id))
    assert row.details["feedback_id"] == feedback.id and row.details["label"] == "ham"


def _bulk_audits(ui: UI, action: str) -> int:
    with ui.db() as db:
        return db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("bulk", ["bulk_decide", "bulk_decide_by"])
def test_failed_bulk_audit_insert_leaves_no_label(database, bulk, make_app, request):
    """The bulk action's own audit row is refused: none of its labels, decision audits or outbox rows stay."""
    app = make_app(request.getfixturevalue("pg_url") if database == "postgresql" else None)
    ui = UI(app)
    ui.add_user(f"bulk-{database}-{bulk}")
    client = app.test_client()
    assert ui.login(client, f"bulk-{database}-{bulk}").status_code == 302
    ip = f"2001:db8::{uuid.uuid4().hex[:4]}"  # no other pending check shares it
    site = ui.site(f"https://bulk-{datetime.now().timestamp()}.example")
    ids = [ui.add_check(site, ip=ip, content=f"bulk {i}") for i in range(3)]
    token = ui.token(client)

    def post():
        if bulk == "bulk_decide":
            return client.post("/moderation/bulk", data={"label": "spam", "ids": ids, "csrf_token": token})
        return client.post(
            f"/moderation/checks/{ids[0]}/decide-all", data={"label": "spam", "by": "ip", "csrf_token": token}
        )

    before = _bulk_audits(ui, bulk)
    with refusing_audit(app, database, bulk):
        assert post().status_code == 500
        assert [_rows(ui, i) for i in ids] == [(0, 0, 0, False)] * 3
        assert _bulk_audits(ui, bulk) == before

    assert post().status_code == 302
    assert [_rows(ui, i) for i in ids] == [(1, 1, 1, True)] * 3
    assert _bulk_audits(ui, bulk) == before + 1

"""The audit log: who did what, when, from which client.  Rows are only ever appended."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spamguard.storage.models import AuditLog

PAGE = 100


def add(db: Session, action: str, target: str = "", *, user_id: int | None, details: dict[str, Any]) -> AuditLog:
    """Add one row to the session; the caller commits it together with what it records."""
    row = AuditLog(user_id=user_id, action=action, target=target[:200], details=details)
    db.add(row)
    return row


def page(
    db: Session, *, before: int | None = None, action: str = "", size: int = PAGE
) -> tuple[list[AuditLog], int | None]:
    """Newest first, `size` rows below id `before`; (rows, cursor for the next page or None)."""
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(size + 1)
    if before:
        stmt = stmt.where(AuditLog.id < before)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    rows = list(db.scalars(stmt).all())
    return rows[:size], rows[size - 1].id if len(rows) > size else None


def latest(db: Session, action: str, limit: int) -> list[AuditLog]:
    return list(
        db.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id.desc()).limit(limit)).all()
    )

"""Login throttle counters: fixed windows, each attempt one atomic upsert.

`INSERT ... ON CONFLICT DO UPDATE ... RETURNING attempts` gives N concurrent
attempts N distinct counts on both SQLite and PostgreSQL; the policy (which
scopes, which limits) is `moderation.throttle`'s.
"""

from __future__ import annotations

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from spamguard.storage.models import LoginThrottle


def hit(db: Session, scope: str, window: int, now: int, keep: int) -> tuple[int, int]:
    """Count one attempt in `scope`'s current window; (attempts so far, window end). Commits.

    A new window is a good moment to drop rows whose window ended more than `keep` seconds ago.
    """
    table = LoginThrottle.__table__
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    expired = table.c.expires_at <= now
    stmt = dialect.insert(table).values(scope=scope, attempts=1, expires_at=now + window)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.scope],
        set_={
            # Both CASEs read the row as it was before this update (SQL semantics on both databases).
            "attempts": case((expired, 1), else_=table.c.attempts + 1),
            "expires_at": case((expired, now + window), else_=table.c.expires_at),
        },
    ).returning(table.c.attempts, table.c.expires_at)
    attempts, expires_at = db.execute(stmt).one()
    db.commit()
    if attempts == 1:
        db.execute(delete(LoginThrottle).where(LoginThrottle.expires_at <= now - keep))
        db.commit()
    return attempts, expires_at


def reset(db: Session, scope: str) -> None:
    """Forget `scope`'s count (the caller commits)."""
    db.execute(delete(LoginThrottle).where(LoginThrottle.scope == scope))


def refund(db: Session, scope: str) -> None:
    """Give `scope` one attempt back (the caller commits)."""
    db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.scope == scope, LoginThrottle.attempts > 0)
        .values(attempts=LoginThrottle.attempts - 1)
    )

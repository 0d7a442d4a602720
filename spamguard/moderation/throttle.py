"""Login throttling, counted BEFORE any password is verified.

Three fixed-window counters, each taken with one atomic upsert
(`INSERT ... ON CONFLICT DO UPDATE ... RETURNING attempts`), so N concurrent
guesses get N distinct counts and at most `limit` of them reach argon2:

  ip:<ip>              every attempt from one client IP (a success is refunded)
  user:<name>|ip:<ip>  attempts at one username from one IP (reset by a success)
  global               every attempt that reached argon2, all clients (bounds CPU)

They are taken in that order and a refused attempt stops there, so one noisy IP
cannot use up the global budget.  The counters live in the database, not in
Redis: Redis fails open by design (its state is derived), a login limit must
not, and the database is already shared by every worker.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from spamguard.storage.models import LoginThrottle

LOGIN_WINDOW_SECONDS = 15 * 60
GLOBAL_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class LoginLimits:
    per_user_ip: int
    per_ip: int
    global_per_minute: int

    @classmethod
    def from_config(cls, config) -> LoginLimits:
        return cls(config["SPAMGUARD_LOGIN_MAX_FAILURES"], config["SPAMGUARD_LOGIN_MAX_PER_IP"],
                   config["SPAMGUARD_LOGIN_MAX_GLOBAL"])


@dataclass(frozen=True)
class Refusal:
    scope: str         # "ip", "user" or "global"
    retry_after: int   # seconds until that window ends
    first: bool        # the first refusal of this window (audited once, not per request)


def _user_scope(username: str, ip: str) -> str:
    return f"user:{username}|ip:{ip}"


def hit(db: Session, scope: str, window: int, now: int) -> tuple[int, int]:
    """Count one attempt in `scope`'s current window; (attempts so far, window end). Commits."""
    table = LoginThrottle.__table__
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    expired = table.c.expires_at <= now
    stmt = dialect.insert(table).values(scope=scope, attempts=1, expires_at=now + window)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.scope], set_={
        # Both CASEs read the row as it was before this update (SQL semantics on both databases).
        "attempts": case((expired, 1), else_=table.c.attempts + 1),
        "expires_at": case((expired, now + window), else_=table.c.expires_at),
    }).returning(table.c.attempts, table.c.expires_at)
    attempts, expires_at = db.execute(stmt).one()
    db.commit()
    if attempts == 1:  # a new window: a good moment to drop rows of long-ended ones
        db.execute(delete(LoginThrottle).where(LoginThrottle.expires_at <= now - LOGIN_WINDOW_SECONDS))
        db.commit()
    return attempts, expires_at


def reserve(db: Session, username: str, ip: str, limits: LoginLimits,
            clock: Callable[[], float] = time.time) -> Refusal | None:
    """Take one attempt from each counter in turn; a Refusal when one is used up (verify nothing then)."""
    now = int(clock())
    for name, scope, limit, window in (
        ("ip", f"ip:{ip}", limits.per_ip, LOGIN_WINDOW_SECONDS),
        ("user", _user_scope(username, ip), limits.per_user_ip, LOGIN_WINDOW_SECONDS),
        ("global", "global", limits.global_per_minute, GLOBAL_WINDOW_SECONDS),
    ):
        attempts, expires_at = hit(db, scope, window, now)
        if attempts > limit:
            return Refusal(name, max(1, expires_at - now), attempts == limit + 1)
    return None


def succeeded(db: Session, username: str, ip: str) -> None:
    """A right password: the username+IP count starts over and the IP gets its attempt back."""
    db.execute(delete(LoginThrottle).where(LoginThrottle.scope == _user_scope(username, ip)))
    db.execute(update(LoginThrottle).where(LoginThrottle.scope == f"ip:{ip}", LoginThrottle.attempts > 0)
               .values(attempts=LoginThrottle.attempts - 1))

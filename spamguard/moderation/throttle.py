"""Login throttling, counted BEFORE any password is verified.

Three fixed-window counters, each taken with one atomic upsert
(`storage.queries.logins.hit`), so N concurrent guesses get N distinct counts
and at most `limit` of them reach argon2:

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

from sqlalchemy.orm import Session

from spamguard.storage.queries import logins

LOGIN_WINDOW_SECONDS = 15 * 60
GLOBAL_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class LoginLimits:
    per_user_ip: int
    per_ip: int
    global_per_minute: int

    @classmethod
    def from_config(cls, config) -> LoginLimits:
        return cls(
            config["SPAMGUARD_LOGIN_MAX_FAILURES"],
            config["SPAMGUARD_LOGIN_MAX_PER_IP"],
            config["SPAMGUARD_LOGIN_MAX_GLOBAL"],
        )


@dataclass(frozen=True)
class Refusal:
    scope: str  # "ip", "user" or "global"
    retry_after: int  # seconds until that window ends
    first: bool  # the first refusal of this window (audited once, not per request)


def _user_scope(username: str, ip: str) -> str:
    return f"user:{username}|ip:{ip}"


def reserve(
    db: Session, username: str, ip: str, limits: LoginLimits, clock: Callable[[], float] = time.time
) -> Refusal | None:
    """Take one attempt from each counter in turn; a Refusal when one is used up (verify nothing then)."""
    now = int(clock())
    for name, scope, limit, window in (
        ("ip", f"ip:{ip}", limits.per_ip, LOGIN_WINDOW_SECONDS),
        ("user", _user_scope(username, ip), limits.per_user_ip, LOGIN_WINDOW_SECONDS),
        ("global", "global", limits.global_per_minute, GLOBAL_WINDOW_SECONDS),
    ):
        attempts, expires_at = logins.hit(db, scope, window, now, keep=LOGIN_WINDOW_SECONDS)
        if attempts > limit:
            return Refusal(name, max(1, expires_at - now), attempts == limit + 1)
    return None


def succeeded(db: Session, username: str, ip: str) -> None:
    """A right password: the username+IP count starts over and the IP gets its attempt back."""
    logins.reset(db, _user_scope(username, ip))
    logins.refund(db, f"ip:{ip}")

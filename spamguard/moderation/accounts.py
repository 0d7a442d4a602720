"""Web UI accounts as domain operations: each change and its audit row are one commit.

The `spamguard users` commands call these; they never edit rows themselves.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from spamguard.moderation import passwords
from spamguard.storage.models import User
from spamguard.storage.queries import audit, users

ROLES = ("moderator", "admin")
MAX_USERNAME = 150


class AccountError(ValueError):
    """A refused account change, worded for the operator."""


def _existing(db: Session, username: str) -> User:
    user = users.by_name(db, username)
    if user is None:
        raise AccountError(f"no user {username!r} (see `spamguard users list`)")
    return user


def create_user(db: Session, username: str, password: str, role: str, *, via: str) -> User:
    username = username.strip()
    if not username or len(username) > MAX_USERNAME:
        raise AccountError(f"username must be 1 to {MAX_USERNAME} characters")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    problem = passwords.check_password_policy(password)
    if problem:
        raise AccountError(problem)
    if users.by_name(db, username) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = users.add(db, username, passwords.hash_password(password), role)
    audit.add(db, "user_create", username, user_id=None, details={"role": role, "via": via})
    db.commit()
    return user


def set_disabled(db: Session, username: str, disabled: bool, *, via: str) -> User:
    """Disable (sessions stop working on their next request) or enable an account."""
    user = _existing(db, username)
    user.disabled = disabled
    audit.add(db, "user_disable" if disabled else "user_enable", username, user_id=None, details={"via": via})
    db.commit()
    return user


def set_password(db: Session, username: str, password: str, *, via: str) -> User:
    """A new password; every open session of the user ends with the old one."""
    problem = passwords.check_password_policy(password)
    if problem:
        raise AccountError(problem)
    user = _existing(db, username)
    user.password_hash = passwords.hash_password(password)
    users.end_sessions(db, user.id)
    audit.add(db, "user_passwd", username, user_id=None, details={"via": via})
    db.commit()
    return user

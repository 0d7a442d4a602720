"""Web UI accounts.  Callers commit; `end_sessions` is one atomic increment."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from spamguard.storage.models import User


def by_name(db: Session, username: str) -> User | None:
    return db.scalar(select(User).where(User.username == username))


def all_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.id)).all())


def add(db: Session, username: str, password_hash: str, role: str) -> User:
    user = User(username=username, password_hash=password_hash, role=role)
    db.add(user)
    db.flush()
    return user


def end_sessions(db: Session, user_id: int) -> None:
    """Invalidate every session of the user issued so far: a copied cookie dies too."""
    db.execute(update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1))

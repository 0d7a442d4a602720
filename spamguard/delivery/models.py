"""Tables of the delivery outbox: where decisions go, what was decided, and each attempt to deliver it.

`decisions.id` is the pull feed's cursor: ids only grow, so "everything after
id N for this site" is one index range scan whatever the table size.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from spamguard.storage.models import Base, BigId, utcnow


class SiteWebhook(Base):
    """A site's own webhook.  The signing secret is derived from SECRET_KEY and `salt`, never stored."""

    __tablename__ = "site_webhooks"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    salt: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Callback(Base):
    """An Akismet `callback` URL sent with a comment-check: where decisions on that check are POSTed.

    `sealed_key` is the caller's API key encrypted with a key derived from SECRET_KEY: Akismet's
    webhook body carries the key, and SpamGuard keeps keys only hashed otherwise.  `due_at` is set
    for provisional (`unsure`) answers: the timeout policy decides when no moderator has by then.
    """

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    url: Mapped[str] = mapped_column(String(2048))
    sealed_key: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_callbacks_due", "settled_at", "due_at"),)


class Decision(Base):
    """A final verdict for one check: a moderator's, or the timeout policy's."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"))
    guid: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(8))  # spam | ham
    source: Mapped[str] = mapped_column(String(16))  # moderator | timeout
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_decisions_site_id", "site_id", "id"),
        Index("ix_decisions_check", "check_id"),  # retention: is this old check still referred to?
    )


class Delivery(Base):
    """One decision to send to one URL: the outbox row, retried with back-off until delivered or failed."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    kind: Mapped[str] = mapped_column(String(16))  # callback | webhook
    url: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A worker claims a row by moving this forward; a crashed worker's claim simply expires.
    claimed_until: Mapped[datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_decision", "decision_id"),
    )

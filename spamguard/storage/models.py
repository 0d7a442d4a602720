"""SQLAlchemy models: sites and keys, checked comments, feedback, users, audit, usage.

Time is always UTC and stored timezone-aware.  The columns the moderation queue
filters on are indexed together so the queue never scans the whole table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# BIGINT ids on PostgreSQL, plain INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps the zone itself; SQLite stores plain text and would hand
    back naive datetimes, so values are converted to UTC going in and tagged
    UTC coming out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime: SpamGuard stores UTC-aware timestamps only")
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list: JSON}


class Site(Base):
    """A site and its API key. Only the key's HMAC-SHA256 is stored (see spamguard.sites)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "hmac", or "sha256" for a key from before the HMAC that has not been used since (upgraded on use).
    key_scheme: Mapped[str] = mapped_column(String(8), default="hmac", server_default="hmac")
    # Random (not derived from the key), shown with the new key, so operators can tell keys apart.
    key_hint: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    monthly_limit: Mapped[int | None]
    rate_limit: Mapped[str | None] = mapped_column(String(200))
    # Per-site verdict thresholds, e.g. {"spam": 0.9}; missing keys fall back to the model's.
    thresholds: Mapped[dict[str, Any] | None]
    # Cross-site reputation: False = this site's reports stay its own and it reads no one else's.
    share_reputation: Mapped[bool] = mapped_column(default=True, server_default=true())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Check(Base):
    """One comment-check call: every submitted field and what we answered."""

    __tablename__ = "checks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    guid: Mapped[str] = mapped_column(String(32), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    blog: Mapped[str] = mapped_column(String(2048), default="")
    user_ip: Mapped[str] = mapped_column(String(64), default="")
    comment_author: Mapped[str] = mapped_column(String(512), default="")
    comment_author_email: Mapped[str] = mapped_column(String(512), default="")
    comment_content: Mapped[str] = mapped_column(Text, default="")
    # Hash of the normalised content: matches feedback that comes without a GUID.
    content_hash: Mapped[str] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]]  # Comment.to_json(): all submitted fields, extras included
    is_test: Mapped[bool] = mapped_column(default=False)
    score: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(16))  # ham | unsure | spam | discard
    reasons: Mapped[list]
    model_version: Mapped[str] = mapped_column(String(64), default="")
    reviewed_at: Mapped[datetime | None]
    review_label: Mapped[str | None] = mapped_column(String(8))  # spam | ham, set by a moderator

    site: Mapped[Site] = relationship()

    __table_args__ = (
        # The moderation queue: unreviewed flagged checks, newest first.
        Index("ix_checks_queue", "reviewed_at", "verdict", "created_at"),
        Index("ix_checks_queue_score", "reviewed_at", "verdict", "score", "id"),  # score-sorted tabs
        Index("ix_checks_counts", "reviewed_at", "is_test", "verdict", "site_id"),  # tab counts, index-only
        Index("ix_checks_site_created", "site_id", "created_at"),
        Index("ix_checks_content_hash", "content_hash"),
        Index("ix_checks_user_ip", "user_ip"),
        Index("ix_checks_author_email", "comment_author_email"),
        Index("ix_checks_created", "created_at"),
    )


class Feedback(Base):
    """A labelled example: submit-spam / submit-ham or a moderator decision."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id"))
    label: Mapped[str] = mapped_column(String(8))  # spam | ham
    source: Mapped[str] = mapped_column(String(16))  # api | moderator
    reporter: Mapped[str] = mapped_column(String(200), default="")
    fields: Mapped[dict[str, Any]]
    is_test: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]
    # False until reputation counters in Redis have seen this row (caught up later if Redis was down).
    redis_synced: Mapped[bool] = mapped_column(default=False)

    check: Mapped[Check | None] = relationship()

    __table_args__ = (
        Index("ix_feedback_site_created", "site_id", "created_at"),
        Index("ix_feedback_check", "check_id"),
        Index("ix_feedback_unsynced", "redis_synced"),
    )


class User(Base):
    """A moderator or admin of the web UI. Passwords are argon2 hashes."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # moderator | admin
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False)
    # Copied into the session at login; bumped at logout and password change, which ends every
    # session (and every copied cookie) issued before.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")


class LoginThrottle(Base):
    """One fixed-window login attempt counter (per IP, per username+IP, global).

    Counted with one atomic upsert before any password is verified; rows whose
    window ended are pruned.
    """

    __tablename__ = "login_throttle"

    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # Unix seconds: end of the window


class AuditLog(Base):
    """Who did what, when: every moderator decision and admin action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    user: Mapped[User | None] = relationship()


class UsageMonthly(Base):
    """Monthly API call counters per key, persisted from Redis."""

    __tablename__ = "usage_monthly"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    api_calls: Mapped[int] = mapped_column(default=0)  # per-verdict counts come from the checks table

    __table_args__ = (UniqueConstraint("site_id", "month", name="uq_usage_site_month"),)


class SiteAdaptation(Base):
    """A site's own correction of the global model's log-odds, fitted from that site's labels only.

    One row per site (spamguard.adaptation); no row = no correction.  `params` holds the
    bias, the feature weights, the cap and the site's ham/spam vocabularies.
    """

    __tablename__ = "site_adaptations"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    params: Mapped[dict[str, Any]]
    model_version: Mapped[str] = mapped_column(String(64), default="")  # the global model it was fitted on
    n_ham: Mapped[int] = mapped_column(default=0)
    n_spam: Mapped[int] = mapped_column(default=0)
    fitted_at: Mapped[datetime] = mapped_column(default=utcnow)

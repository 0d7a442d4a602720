"""What the admin deliveries page reads, and its one edit (send a delivery again now)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spamguard.storage.models import Site, utcnow

from .models import Decision, Delivery

RETRYABLE = ("pending", "failed")


def newest(session: Session, statuses: tuple[str, ...], limit: int) -> list[Any]:
    """(Delivery, Decision, site url) rows in those statuses, newest first."""
    return list(
        session.execute(
            select(Delivery, Decision, Site.url)
            .join(Decision, Decision.id == Delivery.decision_id)
            .join(Site, Site.id == Delivery.site_id)
            .where(Delivery.status.in_(statuses))
            .order_by(Delivery.id.desc())
            .limit(limit)
        ).all()
    )


def status_counts(session: Session) -> dict[str, int]:
    return {
        status: n
        for status, n in session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
    }


def retry_now(delivery: Delivery) -> bool:
    """Make a pending or failed delivery due now (the caller commits); False when it has already gone out."""
    if delivery.status not in RETRYABLE:
        return False
    delivery.status, delivery.next_attempt_at, delivery.claimed_until = "pending", utcnow(), None
    return True

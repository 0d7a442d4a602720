"""Decisions → outbox rows → HTTP deliveries, with retries and exponential back-off.

A decision and its outbox rows are written in the moderator's own transaction,
so nothing is lost if Redis, the worker or the receiver is down; the request
then only pushes a wake-up job onto RQ.  `process_due` does the sending (in
`spamguard worker`, from that job or the periodic sweep) and takes an injected
`now` so back-off is testable without waiting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, or_, select, update
from sqlalchemy.orm import Session

from spamguard.storage.models import Check, Site, utcnow

from . import sender, signing, urls
from .models import Callback, Decision, Delivery, SiteWebhook
from .settings import DeliverySettings

log = logging.getLogger("spamguard.delivery")

PROVISIONAL = "unsure"  # the verdict a moderator (or the timeout policy) settles later
BATCH = 100
# Fields of the original check echoed in every decision so a receiver can find the comment without a GUID.
ECHOED_FIELDS = ("comment_author", "comment_author_email", "permalink", "comment_date_gmt")
ECHOED_EXTRA = ("comment_post_ID", "comment_parent")


# -- writing (request path) ----------------------------------------------------------------------
def register_callback(
    session: Session,
    site: Site,
    check_id: int,
    verdict: str,
    url: str,
    api_key: str,
    settings: DeliverySettings,
    now: datetime | None = None,
) -> int | None:
    """Remember a comment-check's `callback`.  Returns the X-akismet-recheck-after seconds when the
    answer is provisional, None otherwise (also when the URL is refused: then it is as if none was sent)."""
    try:
        url = urls.check_shape(url, settings.allow_private)
    except urls.UnsafeURL as exc:
        log.info("callback URL refused", extra={"event": "callback_refused", "site_id": site.id, "reason": str(exc)})
        return None
    now = now or utcnow()
    provisional = verdict == PROVISIONAL
    session.add(
        Callback(
            check_id=check_id,
            site_id=site.id,
            url=url,
            created_at=now,
            sealed_key=signing.seal(settings.secret_key, api_key.strip().lower()),
            due_at=now + timedelta(seconds=settings.decision_timeout) if provisional else None,
        )
    )
    session.commit()
    return settings.decision_timeout if provisional else None


def record_decision(session: Session, check: Check, result: str, source: str, now: datetime | None = None) -> Decision:
    """Add a decision and its outbox rows to the session (the caller commits, with its own rows)."""
    if result not in ("spam", "ham"):
        raise ValueError(f"result must be spam or ham, not {result!r}")
    now = now or utcnow()
    decision = Decision(
        site_id=check.site_id, check_id=check.id, guid=check.guid, result=result, source=source, created_at=now
    )
    session.add(decision)
    session.flush()  # the id is the feed cursor and the outbox rows' reference
    callback = session.scalar(select(Callback).where(Callback.check_id == check.id))
    if callback is not None:
        callback.settled_at = now
        session.add(
            Delivery(
                decision_id=decision.id,
                site_id=check.site_id,
                kind="callback",
                url=callback.url,
                next_attempt_at=now,
                created_at=now,
            )
        )
    webhook = session.get(SiteWebhook, check.site_id)
    if webhook is not None:
        session.add(
            Delivery(
                decision_id=decision.id,
                site_id=check.site_id,
                kind="webhook",
                url=webhook.url,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return decision


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (execute() is typed as returning any Result; an UPDATE's is a CursorResult)."""
    return cast(CursorResult[Any], result).rowcount


def withdraw_decisions(session: Session, check: Check, now: datetime | None = None) -> int:
    """A moderator's undo: cancel what has not been sent yet and let the timeout policy apply again.
    (What was already delivered stays delivered; the next decision is sent as a new one.)"""
    now = now or utcnow()
    ids = select(Decision.id).where(Decision.check_id == check.id, Decision.source == "moderator")
    cancelled = _rowcount(
        session.execute(
            update(Delivery)
            .where(Delivery.decision_id.in_(ids), Delivery.status == "pending")
            .values(status="cancelled", last_error="decision undone")
        )
    )
    callback = session.scalar(select(Callback).where(Callback.check_id == check.id))
    if callback is not None and callback.due_at is not None:
        callback.settled_at = None
    return cancelled or 0


# -- sending (worker) ----------------------------------------------------------------------------
def decision_json(decision: Decision, check: Check | None) -> dict[str, Any]:
    fields = (check.fields or {}) if check is not None else {}
    extra = fields.get("extra") or {}
    comment = {name: fields.get(name) for name in ECHOED_FIELDS if fields.get(name)}
    comment.update({name: str(extra[name]) for name in ECHOED_EXTRA if extra.get(name) not in (None, "")})
    return {
        "id": str(decision.id),
        "guid": decision.guid,
        "result": decision.result,
        "akismet_result": "true" if decision.result == "spam" else "false",
        "source": decision.source,
        "decided_at": decision.created_at.isoformat(),
        "comment": comment,
    }


def callback_body(decision: Decision, check: Check | None, api_key: str) -> bytes:
    """Akismet's webhook shape (spec §2.6): key, endpoint and a list of comments matched by GUID."""
    item = decision_json(decision, check)
    comment = {"guid": decision.guid, "result": item["akismet_result"]}
    for name in ("comment_post_ID", "comment_parent", "comment_author_email"):
        if item["comment"].get(name):
            comment[name] = item["comment"][name]
    return json.dumps({"key": api_key, "endpoint": "comment-check", "comments": [comment]}).encode()


def webhook_body(decision: Decision, check: Check | None, site: Site) -> bytes:
    return json.dumps({"event": "decision", "site": site.url, "decisions": [decision_json(decision, check)]}).encode()


def backoff(settings: DeliverySettings, attempts: int) -> timedelta:
    return timedelta(seconds=min(settings.backoff_seconds * 2 ** max(attempts - 1, 0), settings.backoff_max_seconds))


def _claim(session: Session, delivery_id: int, now: datetime, settings: DeliverySettings) -> bool:
    """Take one due row for this process; a second worker (or a crashed one's leftover) cannot."""
    claimed = _rowcount(
        session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == "pending",
                Delivery.next_attempt_at <= now,
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now),
            )
            .values(claimed_until=now + timedelta(seconds=settings.timeout * 2 + 60))
        )
    )
    session.commit()
    return claimed == 1


def _request(
    session: Session, delivery: Delivery, settings: DeliverySettings, now: datetime
) -> tuple[bytes, dict[str, str]] | str:
    """(body, headers) for one attempt, or the reason it can never be sent."""
    decision = session.get_one(Decision, delivery.decision_id)  # foreign keys: both rows exist
    check = session.get(Check, decision.check_id)
    if delivery.kind == "callback":
        callback = session.scalar(select(Callback).where(Callback.check_id == decision.check_id))
        api_key = signing.unseal(settings.secret_key, callback.sealed_key) if callback else None
        if not api_key:
            return "the API key for this callback cannot be opened (SECRET_KEY changed?)"
        return callback_body(decision, check, api_key), {"Content-Type": "application/json"}
    webhook = session.get(SiteWebhook, delivery.site_id)
    if webhook is None:
        return "the site's webhook was removed"
    body = webhook_body(decision, check, session.get_one(Site, delivery.site_id))
    timestamp = int(now.timestamp())
    secret = signing.webhook_secret(settings.secret_key, webhook.site_id, webhook.salt)
    return body, {
        "Content-Type": "application/json",
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
        "X-SpamGuard-Delivery": str(delivery.id),
        "X-SpamGuard-Event": "decision",
    }


def attempt(
    session: Session,
    delivery: Delivery,
    settings: DeliverySettings,
    now: datetime,
    post: Callable[..., sender.Answer] = sender.post,
    resolver: Callable[..., Any] | None = None,
) -> str:
    """One attempt at one claimed delivery; returns its new status."""
    delivery.attempts += 1
    delivery.claimed_until = None
    prepared = _request(session, delivery, settings, now)
    answer = None
    if isinstance(prepared, str):
        error = prepared
    else:
        try:
            target = urls.resolve(delivery.url, settings.allow_private, **({"resolver": resolver} if resolver else {}))
        except urls.UnsafeURL as exc:
            error = f"refused: {exc}"
        else:
            answer = post(target, prepared[0], prepared[1], settings.timeout)
            error = "" if answer.ok else (answer.error or f"HTTP {answer.status}")
    delivery.last_status = answer.status if answer else None
    delivery.last_error = error[:1000]
    if not error:
        delivery.status, delivery.delivered_at = "delivered", now
    elif isinstance(prepared, str) or error.startswith("refused:") or delivery.attempts >= settings.max_attempts:
        delivery.status = "failed"  # unsendable, or out of retries: shown in the admin page
    else:
        delivery.next_attempt_at = now + backoff(settings, delivery.attempts)
    session.commit()
    log.info(
        "delivery attempt",
        extra={
            "event": "delivery_attempt",
            "delivery_id": delivery.id,
            "kind": delivery.kind,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "error": error[:200],
        },
    )
    return delivery.status


def apply_timeouts(session: Session, settings: DeliverySettings, now: datetime) -> int:
    """Provisional answers nobody decided in time get the timeout policy's decision."""
    due = session.scalars(
        select(Callback)
        .where(Callback.settled_at.is_(None), Callback.due_at <= now)
        .order_by(Callback.due_at)
        .limit(BATCH)
    ).all()
    for callback in due:
        check = session.get(Check, callback.check_id)
        callback.settled_at = now
        if settings.timeout_policy != "none" and check is not None and check.reviewed_at is None:
            record_decision(session, check, settings.timeout_policy, "timeout", now)
    session.commit()
    return len(due)


def process_due(
    session: Session,
    settings: DeliverySettings,
    now: datetime | None = None,
    post: Callable[..., sender.Answer] = sender.post,
    resolver: Callable[..., Any] | None = None,
) -> dict[str, int]:
    """Apply timeouts, then make one attempt at every due delivery (BATCH at a time)."""
    now = now or utcnow()
    counts = {"timeouts": apply_timeouts(session, settings, now), "delivered": 0, "pending": 0, "failed": 0}
    ids = session.scalars(
        select(Delivery.id)
        .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(BATCH)
    ).all()
    for delivery_id in ids:
        if not _claim(session, delivery_id, now, settings):
            continue
        status = attempt(
            session, session.get_one(Delivery, delivery_id, populate_existing=True), settings, now, post, resolver
        )
        counts[status] = counts.get(status, 0) + 1
    return counts


def wake_worker(queue: Any) -> None:
    """Ask `spamguard worker` to send now.  Best effort: without Redis the periodic sweep sends it."""
    if queue is None:
        return
    try:
        queue.enqueue(
            "spamguard.delivery.jobs.run_due", job_timeout=600, result_ttl=3600, description="deliver decisions"
        )
    except Exception as exc:  # redis down: the decision is safe in the outbox
        log.warning(
            "could not wake the delivery worker", extra={"event": "delivery_wake_failed", "error": type(exc).__name__}
        )

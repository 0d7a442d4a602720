"""The two things every front end does: check a comment, and record a label for one.

The Akismet API, the JSON API and the moderation UI all go through these two
functions, so a verdict, its reasons and its training data are the same
whichever door a comment came in by.
"""
from __future__ import annotations

import hashlib
import logging
import math
import uuid
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from spamguard import adaptation, delivery
from spamguard.comment import Comment
from spamguard.metrics import FEEDBACK
from spamguard.scoring.decision import DISCARD, SPAM, Decision, decide, merge_thresholds
from spamguard.scoring.features import nfkc
from spamguard.storage.models import Check, Feedback, Site, utcnow

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    guid: str
    probability: float
    verdict: str
    reasons: list[str]
    model_version: str
    check_id: int | None = None
    alerts: dict[str, str] = field(default_factory=dict)

    @property
    def is_spam(self) -> bool:
        return self.verdict in (SPAM, DISCARD)


def content_hash(comment: Comment) -> str:
    """Identity of a comment for matching feedback that carries no GUID."""
    text = nfkc(comment.comment_content).casefold()
    text = " ".join(text.split())
    key = "\x1f".join((text, comment.comment_author_email.strip().lower()))
    return hashlib.sha256(key.encode()).hexdigest()


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


def score_comment(comment: Comment, site: Site) -> tuple[float, list[str], str, dict[str, float]]:
    """Model probability (adjusted by the reputation `site` may see and by `site`'s own correction), reasons,
    model version, thresholds."""
    scorer = current_app.extensions["spamguard.models"].current()
    score = scorer.score(comment)
    probability, reasons = score.probability, list(score.reasons)
    reputation = current_app.extensions.get("spamguard.reputation")
    if reputation is not None:
        rep = reputation.lookup(comment, site.id, shared=site.share_reputation)
        logit, rep_reasons = reputation.adjust(score.logit, rep)
        if rep_reasons:
            probability = _sigmoid(logit)
            reasons = rep_reasons + reasons
    probability, reasons = adaptation.adjust(site, scorer, comment, probability, reasons, score.logit)
    return probability, reasons, scorer.version, scorer.thresholds


def check_comment(session: Session, site: Site, comment: Comment) -> CheckResult:
    """Score, decide and store one comment; return what to answer."""
    probability, reasons, version, model_thresholds = score_comment(comment, site)
    thresholds = merge_thresholds(model_thresholds, site.thresholds)
    decision: Decision = decide(comment, probability, reasons, thresholds,
                                current_app.config["SPAMGUARD_DISCARD_TRIGGER"])
    guid = uuid.uuid4().hex
    # A Core INSERT, not an ORM unit of work: the row is write-only here, so the session's
    # flush bookkeeping (identity map, snapshots, post-fetch) is pure overhead on the hot path.
    inserted = session.execute(insert(Check).values(
        guid=guid, site_id=site.id, blog=comment.blog[:2048], user_ip=comment.user_ip[:64],
        comment_author=comment.comment_author[:512], comment_author_email=comment.comment_author_email[:512],
        comment_content=comment.comment_content, content_hash=content_hash(comment), fields=comment.to_json(),
        is_test=comment.is_test, score=probability, verdict=decision.verdict, reasons=decision.reasons[:10],
        model_version=version, created_at=utcnow(),
    ))
    session.commit()
    check_id = inserted.inserted_primary_key[0]
    reputation = current_app.extensions.get("spamguard.reputation")
    if reputation is not None and not comment.is_test:
        reputation.record_check(comment, decision.verdict, site.id, shared=site.share_reputation)
    return CheckResult(guid=guid, probability=probability, verdict=decision.verdict,
                       reasons=decision.reasons, model_version=version, check_id=check_id)


def find_original(session: Session, site: Site, comment: Comment, guid: str = "") -> Check | None:
    """The check a report refers to: by GUID when given, else the newest with the same content."""
    if guid:
        check = session.scalar(select(Check).where(Check.guid == guid.strip().lower(), Check.site_id == site.id))
        if check is not None:
            return check
    return session.scalar(
        select(Check)
        .where(Check.site_id == site.id, Check.content_hash == content_hash(comment))
        .order_by(Check.created_at.desc(), Check.id.desc())
        .limit(1)
    )


def record_feedback(session: Session, site: Site, comment: Comment, label: str, *, source: str = "api",
                    reporter: str = "", guid: str = "", check: Check | None = None) -> Feedback:
    """Store a spam/ham label (database first), then let reputation counters learn from it.

    The row is committed before Redis is touched, so a Redis outage loses
    nothing: `redis_synced` stays False and the reputation catch-up replays it.
    """
    if label not in ("spam", "ham"):
        raise ValueError(f"label must be spam or ham, not {label!r}")
    if check is None:
        check = find_original(session, site, comment, guid)
    feedback = Feedback(site_id=site.id, check_id=check.id if check else None, label=label, source=source,
                        reporter=reporter[:200], fields=comment.to_json(), is_test=comment.is_test)
    session.add(feedback)
    decided = check is not None and source == "moderator"
    if decided:
        check.reviewed_at = utcnow()
        check.review_label = label
        delivery.moderator_decided(session, check, label)  # same transaction: no decision without its outbox rows
    session.commit()
    FEEDBACK.labels(label, source).inc()  # every door (API, moderator) counts here, once
    if decided:
        delivery.decision_saved()
    adaptation.feedback_recorded(site, comment)  # this site's own correction learns the label (background)
    reputation = current_app.extensions.get("spamguard.reputation")
    if reputation is not None and not comment.is_test:
        try:
            if reputation.record_feedback(comment, label, site.id, shared=site.share_reputation):
                feedback.redis_synced = True
                session.commit()
        except Exception:  # Redis trouble must never lose the label; catch-up retries it.
            log.warning("reputation update deferred", extra={"feedback_id": feedback.id})
    return feedback

"""The two things every front end does: check a comment, and record a label for one.

`CheckService` is the one comment-check pipeline (refusal → score → reputation
→ decide → persist → count), built once by `create_app` with its dependencies
passed in.  The Akismet API, the JSON API and the moderation UI all go through
it, so a verdict, its reasons and its training data are the same whichever door
a comment came in by; the views only parse and render.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from spamguard import delivery
from spamguard.comment import Comment
from spamguard.metrics import FEEDBACK, record_check
from spamguard.scoring.decision import DISCARD, SPAM, decide, merge_thresholds
from spamguard.scoring.features import nfkc
from spamguard.storage.models import Check, Feedback, Site, utcnow

if TYPE_CHECKING:
    from spamguard.quota import Quota, Refusal
    from spamguard.reputation import ReputationStore
    from spamguard.scoring.model import ModelHolder

log = logging.getLogger(__name__)

# A later stage's say on the model's log-odds (per-site adaptation, ...): (comment, site, logit) -> (logit, reasons).
LogitAdjuster = Callable[[Comment, Site, float], tuple[float, list[str]]]


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


@dataclass(frozen=True)
class CheckOutcome:
    """Either a refusal (over the key's limits: nothing scored, stored or counted) or a result."""

    refusal: Refusal | None = None
    result: CheckResult | None = None


def content_hash(comment: Comment) -> str:
    """Identity of a comment for matching feedback that carries no GUID."""
    text = nfkc(comment.comment_content).casefold()
    text = " ".join(text.split())
    key = "\x1f".join((text, comment.comment_author_email.strip().lower()))
    return hashlib.sha256(key.encode()).hexdigest()


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


@dataclass(frozen=True)
class CheckService:
    models: ModelHolder
    quota: Quota | None
    reputation: ReputationStore | None
    discard_trigger: str = ""
    adjusters: tuple[LogitAdjuster, ...] = ()
    clock: Callable[[], float] = time.perf_counter  # only for the check-duration metric

    def rewired(self, **parts) -> CheckService:
        return replace(self, **parts)

    # --- comment-check -------------------------------------------------------------------

    def check(self, session: Session, site: Site, comment: Comment, channel: str) -> CheckOutcome:
        """The whole pipeline for one comment; `channel` ("akismet", "json") labels the metrics."""
        if self.quota is not None:
            refusal = self.quota.refusal_for(site)
            if refusal is not None:
                return CheckOutcome(refusal=refusal)
        started = self.clock()
        result = self.score_and_store(session, site, comment)
        record_check(result, site.id, self.clock() - started, channel)
        if self.quota is not None:
            result.alerts.update(self.quota.count_call(site, result.verdict, comment.is_test))
        return CheckOutcome(result=result)

    def score(self, comment: Comment, site: Site) -> tuple[float, list[str], str, dict[str, float]]:
        """Model probability (adjusted by reputation and the adjusters), reasons, model version, thresholds."""
        scorer = self.models.current()
        score = scorer.score(comment)
        logit, reasons, adjusted = score.logit, list(score.reasons), False
        if self.reputation is not None:
            rep = self.reputation.lookup(comment, site.id, shared=site.share_reputation)
            logit, rep_reasons = self.reputation.adjust(logit, rep)
            if rep_reasons:
                adjusted, reasons = True, rep_reasons + reasons
        for adjuster in self.adjusters:
            logit, more = adjuster(comment, site, logit)
            if more:
                adjusted, reasons = True, more + reasons
        probability = _sigmoid(logit) if adjusted else score.probability
        return probability, reasons, scorer.version, scorer.thresholds

    def score_and_store(self, session: Session, site: Site, comment: Comment) -> CheckResult:
        """Score, decide and store one comment; return what to answer."""
        probability, reasons, version, model_thresholds = self.score(comment, site)
        thresholds = merge_thresholds(model_thresholds, site.thresholds)
        decision = decide(comment, probability, reasons, thresholds, self.discard_trigger)
        guid = uuid.uuid4().hex
        # A Core INSERT, not an ORM unit of work: the row is write-only here, so the session's
        # flush bookkeeping (identity map, snapshots, post-fetch) is pure overhead on the hot path.
        inserted: Any = session.execute(insert(Check).values(
            guid=guid, site_id=site.id, blog=comment.blog[:2048], user_ip=comment.user_ip[:64],
            comment_author=comment.comment_author[:512], comment_author_email=comment.comment_author_email[:512],
            comment_content=comment.comment_content, content_hash=content_hash(comment), fields=comment.to_json(),
            is_test=comment.is_test, score=probability, verdict=decision.verdict, reasons=decision.reasons[:10],
            model_version=version, created_at=utcnow(),
        ))
        session.commit()
        check_id = inserted.inserted_primary_key[0]
        if self.reputation is not None and not comment.is_test:
            self.reputation.record_check(comment, decision.verdict, site.id, shared=site.share_reputation)
        return CheckResult(guid=guid, probability=probability, verdict=decision.verdict,
                           reasons=decision.reasons, model_version=version, check_id=check_id)

    # --- feedback ------------------------------------------------------------------------

    def feedback_refusal(self, site: Site) -> Refusal | None:
        """Reports share the key's rate window, not its monthly allowance (that counts checks)."""
        return self.quota.refusal_for(site, monthly=False) if self.quota is not None else None

    def record_feedback(self, session: Session, site: Site, comment: Comment, label: str, *, source: str = "api",
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
            assert check is not None
            check.reviewed_at = utcnow()
            check.review_label = label
            delivery.moderator_decided(session, check, label)  # same transaction: no decision without its outbox rows
        session.commit()
        FEEDBACK.labels(label, source).inc()  # every door (API, moderator) counts here, once
        if decided:
            delivery.decision_saved()
        if self.reputation is not None and not comment.is_test:
            try:
                if self.reputation.record_feedback(comment, label, site.id, shared=site.share_reputation):
                    feedback.redis_synced = True
                    session.commit()
            except Exception:  # Redis trouble must never lose the label; catch-up retries it.
                log.warning("reputation update deferred", extra={"feedback_id": feedback.id})
        return feedback


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


def record_feedback(session: Session, site: Site, comment: Comment, label: str, **options) -> Feedback:
    """`CheckService.record_feedback` of the current app (for the moderation views and scripts)."""
    from spamguard.services import services

    return services().checks.record_feedback(session, site, comment, label, **options)

"""The two things every front end does: check a comment, and record a label for one.

`CheckService` is the one comment-check pipeline (model → one state round trip
for refusal, usage count and reputation → score → decide → persist → alerts), built once by `create_app` with its dependencies
passed in.  The Akismet API, the JSON API and the moderation UI all go through
it, so a verdict, its reasons and its training data are the same whichever door
a comment came in by; the views only parse and render.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from spamguard import delivery
from spamguard.comment import Comment
from spamguard.gate import CheckGate, GateResult
from spamguard.metrics import FEEDBACK, record_check
from spamguard.reputation import Reputation
from spamguard.scoring.decision import DISCARD, SPAM, decide, merge_thresholds
from spamguard.scoring.features import analyse
from spamguard.storage.models import Check, Feedback, Site, utcnow

if TYPE_CHECKING:
    from spamguard.adaptation import SiteAdapter
    from spamguard.quota import Quota, Refusal
    from spamguard.reputation import ReputationStore
    from spamguard.scoring.model import ModelHolder, Scorer
    from spamguard.storage.write_behind import WriteBehind
    from spamguard.storage.write_lock import WriteLock

log = logging.getLogger(__name__)

INSERT_CHECK = insert(cast(Table, Check.__table__))
RETRY_MARGIN = 0.1  # seconds past the write-behind interval before a missed check is looked up again


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
    return analyse(comment).content_hash(comment.comment_author_email)


def new_guid() -> str:
    """32 hex digits, as Akismet's: the time in milliseconds (12 digits), then 80 random bits.

    Time first, so each new check's GUID sorts after the last and its unique index grows at the end, like
    the table: a random GUID lands on a random page of that index, and once the index outgrows the
    database's cache every check reads and rewrites one page of it (on SQLite the cost of writing a
    check row grew with the table).  The random part keeps it unguessable.
    """
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


@dataclass(frozen=True)
class CheckService:
    models: ModelHolder
    quota: Quota | None
    reputation: ReputationStore | None
    gate: CheckGate | None = None  # admission, usage and reputation state in one backend round trip
    discard_trigger: str = ""
    adapter: SiteAdapter | None = None  # each site's own correction, fitted from that site's labels only
    clock: Callable[[], float] = time.perf_counter  # only for the check-duration metric
    write_lock: WriteLock | None = None  # SQLite: writers queue for the file instead of sleeping on SQLITE_BUSY
    rows: WriteBehind | None = None  # check rows written behind the answer (None: in the request, as before)
    clock_sleep: Callable[[float], None] = time.sleep  # the feedback look-up's wait for other processes' rows

    def rewired(self, **parts) -> CheckService:
        return replace(self, **parts)

    # --- comment-check -------------------------------------------------------------------

    def check(
        self, session: Session, site: Site, comment: Comment, channel: str, *, need_id: bool = False
    ) -> CheckOutcome:
        """The whole pipeline for one comment; `channel` ("akismet", "json") labels the metrics.

        `need_id`: the caller uses the row's id (an asynchronous-verdict callback), so the row is
        written before this returns; otherwise it may be written behind (`check_id` is then None)."""
        scorer = self.models.current()  # no model: 503 before anything is counted
        started = self.clock()
        gate = self.gate.enter(site, comment) if self.gate is not None else GateResult()
        if gate.refusal is not None:
            return CheckOutcome(refusal=gate.refusal)
        result = self._decide_and_store(session, site, comment, scorer, gate.reputation, need_id)
        record_check(result, site.id, self.clock() - started, channel)
        if self.quota is not None and gate.api_calls is not None:
            result.alerts.update(self.quota.usage.alerts_for(site, gate.api_calls))
        return CheckOutcome(result=result)

    def _decide_and_store(
        self, session: Session, site: Site, comment: Comment, scorer: Scorer, reputation: Reputation, need_id: bool
    ) -> CheckResult:
        score = scorer.score(comment)
        logit, reasons, adjusted = score.logit, list(score.reasons), False
        if self.reputation is not None:
            logit, rep_reasons = self.reputation.adjust(logit, reputation)
            if rep_reasons:
                adjusted, reasons = True, rep_reasons + reasons
        probability = _sigmoid(logit) if adjusted else score.probability
        if self.adapter is not None:  # corrects the *global* log-odds, so reputation cannot feed it back
            probability, reasons = self.adapter.apply(
                session, site.id, scorer, comment, probability, reasons, score.logit
            )
        thresholds = merge_thresholds(scorer.thresholds, site.thresholds)
        decision = decide(comment, probability, reasons, thresholds, self.discard_trigger)
        guid = new_guid()
        row = {
            "guid": guid,
            "site_id": site.id,
            "blog": comment.blog[:2048],
            "user_ip": comment.user_ip[:64],
            "comment_author": comment.comment_author[:512],
            "comment_author_email": comment.comment_author_email[:512],
            "comment_content": comment.comment_content,
            "content_hash": content_hash(comment),
            "fields": comment.to_json(),
            "is_test": comment.is_test,
            "score": probability,
            "verdict": decision.verdict,
            "reasons": decision.reasons[:10],
            "model_version": scorer.version,
            "created_at": utcnow(),
        }
        result = CheckResult(
            guid=guid,
            probability=probability,
            verdict=decision.verdict,
            reasons=decision.reasons,
            model_version=scorer.version,
        )
        # A Core INSERT built once and run with a parameter dict: no ORM unit of work (the row is
        # write-only here) and no per-call `.values()` coercion or cache key, so it compiles once per
        # process and hits the compiled cache after that.
        if self.rows is not None and not need_id:
            self.rows.add(row)
        elif self.rows is not None:
            result.check_id = self.rows.write_now(row).inserted_primary_key[0]
        else:
            with self.write_lock() if self.write_lock is not None else nullcontext():
                inserted: Any = session.connection().execute(INSERT_CHECK, row)
                session.commit()
            result.check_id = inserted.inserted_primary_key[0]
        return result

    def find_original(self, session: Session, site: Site, comment: Comment, guid: str = "") -> Check | None:
        """`find_original`, seeing checks written behind: this process's pending rows are written before the
        look-up (`WriteBehind`), and a miss is looked up once more after the interval in which other
        processes write theirs."""
        found = find_original(session, site, comment, guid)
        if found is None and self.rows is not None:
            self.clock_sleep(self.rows.interval + RETRY_MARGIN)
            found = find_original(session, site, comment, guid)
        return found

    # --- feedback ------------------------------------------------------------------------

    def feedback_refusal(self, site: Site) -> Refusal | None:
        """Reports share the key's rate window, not its monthly allowance (that counts checks)."""
        return self.quota.refusal_for(site, monthly=False) if self.quota is not None else None

    def record_feedback(
        self,
        session: Session,
        site: Site,
        comment: Comment,
        label: str,
        *,
        source: str = "api",
        reporter: str = "",
        guid: str = "",
        check: Check | None = None,
        audit: Callable[[Feedback], object] | None = None,
    ) -> Feedback:
        """Store a spam/ham label (database first), then let reputation counters learn from it.

        The row is committed before Redis is touched, so a Redis outage loses
        nothing: `redis_synced` stays False and the reputation catch-up replays it.
        `audit(feedback)` adds the caller's audit row to the same transaction (the
        feedback's id is assigned by then), so a label is never stored without it.
        """
        feedback = self.stage_feedback(
            session, site, comment, label, source=source, reporter=reporter, guid=guid, check=check
        )
        if audit is not None:
            session.flush()
            audit(feedback)
        session.commit()
        self.feedback_committed(session, site, comment, feedback)
        return feedback

    def stage_feedback(
        self,
        session: Session,
        site: Site,
        comment: Comment,
        label: str,
        *,
        source: str = "api",
        reporter: str = "",
        guid: str = "",
        check: Check | None = None,
    ) -> Feedback:
        """`record_feedback` up to its commit: the label (and a moderator's review and outbox rows) added to
        `session`.  The caller commits, several labels at once if it likes, then calls `feedback_committed`."""
        if label not in ("spam", "ham"):
            raise ValueError(f"label must be spam or ham, not {label!r}")
        if check is None:
            check = self.find_original(session, site, comment, guid)
        feedback = Feedback(
            site_id=site.id,
            check_id=check.id if check else None,
            label=label,
            source=source,
            reporter=reporter[:200],
            fields=comment.to_json(),
            is_test=comment.is_test,
        )
        session.add(feedback)
        if check is not None and source == "moderator":
            check.reviewed_at = utcnow()
            check.review_label = label
            delivery.moderator_decided(session, check, label)  # same transaction: no decision without its outbox rows
        return feedback

    def feedback_committed(self, session: Session, site: Site, comment: Comment, feedback: Feedback) -> None:
        """What follows a committed label: metrics, delivery wake-up, the site's refit, reputation counters."""
        FEEDBACK.labels(feedback.label, feedback.source).inc()  # every door (API, moderator) counts here, once
        if feedback.check_id is not None and feedback.source == "moderator":
            delivery.decision_saved()
        if comment.is_test:
            return
        self.adaptation_changed(site.id)
        if self.reputation is not None:
            try:
                if self.reputation.record_feedback(comment, feedback.label, site.id, shared=site.share_reputation):
                    feedback.redis_synced = True
                    session.commit()
            except Exception:  # Redis trouble must never lose the label; catch-up retries it.
                log.warning("reputation update deferred", extra={"feedback_id": feedback.id})

    def adaptation_changed(self, site_id: int) -> None:
        """The site's labels changed (a new one, or one withdrawn): refit its correction in the background."""
        if self.adapter is not None:
            self.adapter.refit_later(site_id, self.models.current())  # never waits for a fit


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

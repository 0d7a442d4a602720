"""Per-site adaptation as a service: load a site's labels, fit, store, cache, apply.

Trust boundary: a site's correction is fitted from rows with that site's id only
(its own `submit-spam`/`submit-ham` reports and its moderators' decisions, and
its own recent comments as anchors), so no key can move another site's
verdicts through this path; and it is bounded by ``cap`` log-odds, so a site
that reports its spam as ham only lets its own spam through, and only spam the
global model scores within ``cap`` of the threshold.  Akismet's test triggers
and the honeypot are decided before any probability (`scoring.decision`), so no
correction can turn them.

Refits are cheap (a few hundred rows, seven parameters; each row is scored by
the global model once per process and model version) and run in a background
thread of the process: after each label the site sends, and when the global
model changed or the fit is older than the refit interval (which also picks up
withdrawn moderator decisions).  Fitted corrections are kept per
process for a couple of seconds, like the site cache, so other workers see a
refit within that time without a query per check.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from spamguard.comment import Comment
from spamguard.storage.models import Check, Feedback, SiteAdaptation, utcnow

from . import features
from .fit import Correction, Row, fit

log = logging.getLogger(__name__)

CACHE_SECONDS = 2.0
MAX_CACHED_SITES = 10_000
MAX_CACHED_ROWS = 20_000  # a few KB each: tens of MB at most
BACKGROUND_ROWS = 200  # the site's most recent unlabelled comments: the anchors (see fit.py)
ANCHOR_WEIGHT = 1.0  # per anchor, times the squared correction, less the more it shares the ham's words
HAM_WORDS = features.NAMES.index("ham_words")
REASON_MIN = 0.1  # smaller corrections are not worth a reason

RowKey = tuple[str, str, int]  # (model version, "f"/"c", row id)


@dataclass(frozen=True)
class Settings:
    enabled: bool = True
    min_labels: int = 10
    max_labels: int = 500
    cap: float = 4.0
    l2: float = 1.0
    refit_seconds: float = 600.0

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        return cls(
            enabled=config["SPAMGUARD_SITE_ADAPTATION"],
            min_labels=config["SPAMGUARD_SITE_ADAPT_MIN_LABELS"],
            max_labels=config["SPAMGUARD_SITE_ADAPT_MAX_LABELS"],
            cap=config["SPAMGUARD_SITE_ADAPT_CAP"],
            refit_seconds=config["SPAMGUARD_SITE_ADAPT_REFIT_SECONDS"],
        )


@dataclass(frozen=True)
class SiteModel:
    """A site's fitted correction with what it needs at scoring time."""

    correction: Correction
    ham_words: frozenset[str]
    spam_words: frozenset[str]
    model_version: str
    fitted_at: float  # Unix seconds

    def adjust(self, comment: Comment, logit: float) -> tuple[float, list[tuple[float, str]]]:
        """(correction in log-odds, its largest parts) for `comment` whose global log-odds is `logit`."""
        z = features.vector(features.parts(comment), logit, self.ham_words, self.spam_words)
        return self.correction(z), self.correction.parts(z)

    @classmethod
    def from_row(cls, row: SiteAdaptation) -> SiteModel:
        p = row.params
        return cls(
            Correction(float(p["bias"]), {n: float(p["weights"].get(n, 0.0)) for n in features.NAMES}, float(p["cap"])),
            frozenset(p.get("ham_words", ())),
            frozenset(p.get("spam_words", ())),
            row.model_version,
            row.fitted_at.timestamp(),
        )


def reason(delta: float, parts: list[tuple[float, str]]) -> str:
    """What a moderator reads: whose labels moved the score, which way, and on what."""
    side = "ham" if delta < 0 else "spam"
    why = [features.DESCRIPTIONS[name] for c, name in parts if c * delta > 0][:2]
    detail = f" ({', '.join(why)})" if why else ""
    return f"this site's moderators marked similar comments as {side}{detail}: {delta:+.1f} log-odds"


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


class SiteAdapter:
    def __init__(
        self,
        settings: Settings,
        session_factory: Callable[[], Session] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock
        self._models: dict[int, tuple[float, SiteModel | None]] = {}
        # (model version, "f"/"c", row id) -> (global logit, parts): a refit scores only new rows.
        self._rows: OrderedDict[RowKey, tuple[float, features.Parts]] = OrderedDict()
        self._used: dict[int, set[RowKey]] = {}  # site id -> the row keys its last fit scored
        self._lock = threading.Lock()
        self._pending: dict[int, Future[None]] = {}  # site id -> its queued or running refit
        self._again: set[int] = set()  # sites asked for while their refit was running
        self._executor: ThreadPoolExecutor | None = None

    # -- scoring -------------------------------------------------------------------------------
    def model_for(self, session: Session, site_id: int) -> SiteModel | None:
        now = time.monotonic()
        entry = self._models.get(site_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        row = session.get(SiteAdaptation, site_id, populate_existing=True)
        model = SiteModel.from_row(row) if row is not None else None
        self._remember(site_id, model)
        return model

    def apply(
        self,
        session: Session,
        site_id: int,
        scorer: Any,
        comment: Comment,
        probability: float,
        reasons: list[str],
        global_logit: float,
    ) -> tuple[float, list[str]]:
        """`probability` moved by the site's correction (computed from the *global* log-odds), and reasons."""
        if not self.settings.enabled or comment.is_test:
            return probability, reasons
        model = self.model_for(session, site_id)
        if model is None:
            return probability, reasons
        if model.model_version != scorer.version or model.fitted_at + self.settings.refit_seconds < self.clock():
            self.refit_later(site_id, scorer, new_label=False)
        delta, parts = model.adjust(comment, global_logit)
        if abs(delta) < REASON_MIN:
            return probability, reasons
        return _sigmoid(_logit(probability) + delta), [reason(delta, parts)] + reasons

    # -- fitting -------------------------------------------------------------------------------
    def _row(
        self, scorer: Any, kind: str, row_id: int, fields: dict[str, Any], used: set[RowKey]
    ) -> tuple[float, features.Parts]:
        """(global log-odds, feature parts) of a stored comment, scored once per process and model version;
        its key is added to `used`."""
        key = (scorer.version, kind, row_id)
        used.add(key)
        cached = self._rows.get(key)
        if cached is None:
            comment = Comment.from_json(fields or {})
            cached = (float(scorer.score(comment).logit), features.parts(comment))
            with self._lock:
                self._rows[key] = cached
                while len(self._rows) > MAX_CACHED_ROWS:
                    self._rows.popitem(last=False)
        return cached

    def _forget_unused(self, site_id: int, used: set[RowKey]) -> None:
        """Drop the rows the site's previous fit scored and this one did not (older than its newest labels
        and background, or scored by a model no longer served): the cache then holds each site's working
        set instead of filling up to MAX_CACHED_ROWS with rows no fit reads again (the soak's RSS creep)."""
        with self._lock:
            for key in self._used.pop(site_id, set()) - used:
                self._rows.pop(key, None)
            if len(self._used) >= MAX_CACHED_SITES:  # the rows stay bounded by MAX_CACHED_ROWS regardless
                self._used.clear()
            self._used[site_id] = used

    def _labels(self, session: Session, site_id: int) -> int:
        return (
            session.scalar(
                select(func.count())
                .select_from(Feedback)
                .where(Feedback.site_id == site_id, Feedback.is_test.is_(False), Feedback.undone_at.is_(None))
            )
            or 0
        )

    def training_rows(self, session: Session, site_id: int, scorer: Any) -> tuple[list[Row], dict[str, Any]]:
        """The site's own labels (newest per comment, at most max_labels) and unlabelled recent comments."""
        labels = session.execute(
            select(Feedback.id, Feedback.check_id, Feedback.label, Feedback.fields)
            .where(Feedback.site_id == site_id, Feedback.is_test.is_(False), Feedback.undone_at.is_(None))
            .order_by(Feedback.id.desc())
            .limit(self.settings.max_labels * 2)
        ).all()
        seen: set[Any] = set()
        used: set[RowKey] = set()
        labelled: list[tuple[float, float, features.Parts]] = []
        for fb_id, check_id, label, fields in labels:
            logit, p = self._row(scorer, "f", fb_id, fields, used)
            key = ("c", check_id) if check_id is not None else ("t", p.tokens, p.text)
            if key in seen or label not in ("spam", "ham"):
                continue
            seen.add(key)
            labelled.append((1.0 if label == "spam" else 0.0, logit, p))
            if len(labelled) >= self.settings.max_labels:
                break
        labelled_checks = {k[1] for k in seen if k[0] == "c"}
        checks = session.execute(
            select(Check.id, Check.fields)
            .where(Check.site_id == site_id, Check.is_test.is_(False))
            .order_by(Check.id.desc())
            .limit(BACKGROUND_ROWS + len(labelled_checks))
        ).all()
        background = [self._row(scorer, "c", cid, fields, used) for cid, fields in checks if cid not in labelled_checks]
        background = background[:BACKGROUND_ROWS]
        self._forget_unused(site_id, used)

        others = [p.tokens for _logit, p in background]
        ham_vocab, ham_df = features.vocabulary((p.tokens for y, _l, p in labelled if y == 0.0), others)
        spam_vocab, spam_df = features.vocabulary((p.tokens for y, _l, p in labelled if y == 1.0), others)
        ham_set, spam_set = set(ham_vocab), set(spam_vocab)
        rows = [
            Row(
                features.vector(
                    p,
                    logit,
                    ham_set,
                    spam_set,
                    ham_df=ham_df if y == 0.0 else None,
                    spam_df=spam_df if y == 1.0 else None,
                ),
                logit,
                y,
            )
            for y, logit, p in labelled
        ]
        for logit, p in background:
            z = features.vector(p, logit, ham_set, spam_set)
            # An unlabelled comment that shares the labelled ham's words is likely one more of those the
            # site did not bother to report: it must not hold the correction back.  One unlike them must.
            rows.append(Row(z, logit, None, ANCHOR_WEIGHT * (1.0 - z[HAM_WORDS]) ** 4))
        n_spam = sum(1 for y, *_ in labelled if y == 1.0)
        return rows, {
            "ham_words": ham_vocab,
            "spam_words": spam_vocab,
            "n_ham": len(labelled) - n_spam,
            "n_spam": n_spam,
        }

    def refit(self, session: Session, site_id: int, scorer: Any) -> SiteModel | None:
        """Fit the site's correction from its own rows and store it (or remove it: too few labels)."""
        rows: list[Row] = []
        info = {"n_ham": 0, "n_spam": 0}
        if self._labels(session, site_id) >= self.settings.min_labels:  # else nothing worth scoring
            rows, info = self.training_rows(session, site_id, scorer)
        if info["n_ham"] + info["n_spam"] < self.settings.min_labels:
            if session.get(SiteAdaptation, site_id) is not None:  # labels withdrawn since the last fit
                session.execute(delete(SiteAdaptation).where(SiteAdaptation.site_id == site_id))
                session.commit()
            self._remember(site_id, None)
            return None
        correction = fit(rows, cap=self.settings.cap, l2=self.settings.l2)
        params = {
            "bias": correction.bias,
            "weights": correction.weights,
            "cap": correction.cap,
            "ham_words": info["ham_words"],
            "spam_words": info["spam_words"],
        }
        row = session.get(SiteAdaptation, site_id) or SiteAdaptation(site_id=site_id)
        row.params, row.model_version, row.fitted_at = params, scorer.version, utcnow()
        row.n_ham, row.n_spam = info["n_ham"], info["n_spam"]
        session.add(row)
        session.commit()
        model = SiteModel.from_row(row)
        self._remember(site_id, model)
        return model

    def refit_quietly(self, session: Session, site_id: int, scorer: Any) -> None:
        """`refit`, logging instead of raising: the labels are stored already, the next refit retries."""
        try:
            self.refit(session, site_id, scorer)
        except Exception:
            session.rollback()
            log.exception("site adaptation refit failed", extra={"site_id": site_id})

    def refit_later(self, site_id: int, scorer: Any, *, new_label: bool = True) -> None:
        """Refit the site in this process's background thread, soon: after each label it sends, and when
        its correction is stale.  Requests never wait for a fit (a cold one scores a few hundred rows).
        Asked again for a `new_label` while one is queued or running, the site is refitted once more
        afterwards, so the newest label is always in the last fit."""
        if not self.settings.enabled or self.session_factory is None:
            return
        with self._lock:
            if site_id in self._pending:
                if new_label:
                    self._again.add(site_id)
                return
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spamguard-adapt")
            self._pending[site_id] = self._executor.submit(self._refit_job, site_id, scorer)

    def _refit_job(self, site_id: int, scorer: Any) -> None:
        assert self.session_factory is not None
        while True:
            with self.session_factory() as session:
                self.refit_quietly(session, site_id, scorer)
            with self._lock:
                if site_id not in self._again:
                    self._pending.pop(site_id, None)
                    return
                self._again.discard(site_id)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait for the queued background refits (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending.values())
        wait(pending, timeout=timeout)

    def _remember(self, site_id: int, model: SiteModel | None) -> None:
        with self._lock:
            if len(self._models) >= MAX_CACHED_SITES:
                self._models.clear()
            self._models[site_id] = (time.monotonic() + CACHE_SECONDS, model)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

"""Statistics over checks and the reports on them: checks per day, and per-site tallies.

`site_tallies` is the one source of per-site figures: the stats page's overturn
rates (`moderation.stats`) and the Akismet `key-sites` / `get-stats` answers
(`api.usage_stats`) both fold its rows, so the two cannot drift apart.  A report
counts with the check it is about (the window is on `checks.created_at`), and
each check at most once per kind of report.

Both queries read the window through ix_checks_created; at very high volume
(millions of checks a month) a daily rollup table would be the next step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from spamguard.storage.models import Check, Feedback

VERDICTS = ("ham", "unsure", "spam", "discard")
FLAGGED = ("spam", "unsure", "discard")


class TallyKey(NamedTuple):
    site_id: int
    blog: str
    verdict: str
    is_test: bool


@dataclass
class Tally:
    """Checks of one (site, blog, verdict, is_test) and the standing (not undone) reports on them."""

    checks: int = 0
    reviewed_ham: int = 0  # a moderator marked them ham
    spam_reports: int = 0  # checks with a spam report from any source
    api_spam_reports: int = 0  # checks with a submit-spam through the API (not a test call)
    api_ham_reports: int = 0  # checks with a submit-ham through the API (not a test call)


def _window(start: datetime | None, end: datetime | None, site_id: int | None) -> list[Any]:
    conds: list[Any] = []
    if site_id is not None:
        conds.append(Check.site_id == site_id)
    if start is not None:
        conds.append(Check.created_at >= start)
    if end is not None:
        conds.append(Check.created_at < end)
    return conds


def site_tallies(
    db: Session, *, start: datetime | None = None, end: datetime | None = None, site_id: int | None = None
) -> dict[TallyKey, Tally]:
    """Checks created in [start, end) (all time when None), by site, blog, verdict and is_test."""
    when = _window(start, end, site_id)
    key = (Check.site_id, Check.blog, Check.verdict, Check.is_test)
    tallies: dict[TallyKey, Tally] = defaultdict(Tally)
    checks = (
        select(*key, func.count(), func.sum(case((Check.review_label == "ham", 1), else_=0)))
        .where(*when)
        .group_by(*key)
    )
    for site, blog, verdict, is_test, count, reviewed_ham in db.execute(checks):
        tally = tallies[TallyKey(site, blog, verdict, bool(is_test))]
        tally.checks += count
        tally.reviewed_ham += reviewed_ham or 0

    def checks_with(condition):  # COUNT ignores the NULLs of non-matching rows
        return func.count(func.distinct(case((condition, Feedback.check_id))))

    api = and_(Feedback.source == "api", Feedback.is_test.is_(False))
    # Redundant with the join, but lets the planner start from the site's reports (ix_feedback_site_created),
    # which are far fewer than its checks.
    by_site = [Feedback.site_id == site_id] if site_id is not None else []
    reports = (
        select(
            *key,
            checks_with(Feedback.label == "spam"),
            checks_with(and_(api, Feedback.label == "spam")),
            checks_with(and_(api, Feedback.label == "ham")),
        )
        .join(Feedback, Feedback.check_id == Check.id)
        .where(*when, *by_site, Feedback.undone_at.is_(None))
        .group_by(*key)
    )
    for site, blog, verdict, is_test, spam, api_spam, api_ham in db.execute(reports):
        tally = tallies[TallyKey(site, blog, verdict, bool(is_test))]
        tally.spam_reports += spam
        tally.api_spam_reports += api_spam
        tally.api_ham_reports += api_ham
    return dict(tallies)


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _real(include_tests: bool) -> list[Any]:
    """Akismet test requests (is_test) stay out of the figures unless asked for."""
    return [] if include_tests else [Check.is_test.is_(False)]


def daily_counts(db: Session, since: datetime, include_tests: bool = False) -> dict[str, dict[str, int]]:
    """{"YYYY-MM-DD": {verdict: checks}} since `since`."""
    day = func.date(Check.created_at)
    rows = db.execute(
        select(day.label("day"), Check.verdict, func.count())
        .where(Check.created_at >= since, *_real(include_tests))
        .group_by(day, Check.verdict)
    ).all()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
    for day_value, verdict, count in rows:
        if verdict in VERDICTS:
            counts[_day(day_value)][verdict] += count
    return counts


def recently_overturned(db: Session, since: datetime, include_tests: bool = False, limit: int = 10) -> list[Check]:
    """Flagged checks moderators marked ham since `since`, latest decision first."""
    return list(
        db.scalars(
            select(Check)
            .where(
                Check.review_label == "ham",
                Check.verdict.in_(FLAGGED),
                *_real(include_tests),
                Check.reviewed_at.is_not(None),
                Check.reviewed_at >= since,
            )
            .order_by(Check.reviewed_at.desc())
            .limit(limit)
        ).all()
    )

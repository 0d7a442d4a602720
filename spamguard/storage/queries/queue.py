"""Queue queries: what the review queue lists (tabs, filters, sort orders, keyset pages), tab counts,
the checks a decision applies to, and the neighbours and relatives of one check.

Query plans.  Every list is a walk of one index per verdict, stopped after one page:
`ix_checks_queue (reviewed_at, verdict, created_at)` for newest-first orders and
`ix_checks_queue_score (reviewed_at, verdict, score, id)` for score orders
(`reviewed_at IS NULL AND verdict = ?`, ordered by the index's trailing columns, so
no sort).  Tabs with several verdicts either concatenate the branches in priority
order ("Needs review" first: unsure, then spam, discard, let through) or merge
them in Python (newest / score orders).  Pages use keyset pagination
(`?before=<check id>`): page 1000 costs the same as page 1.

Text search is LIKE '%q%' on content and author: it cannot use an index, so each
step is bounded to the SEARCH_WINDOW newest rows per verdict after the cursor (the
bound is found by an index-only walk); the page offers "search older" to continue.

Tab counts are one GROUP BY over `ix_checks_counts (reviewed_at, is_test, verdict,
site_id)` (index-only), cached per process for COUNT_TTL seconds and dropped after
each decision made in this process: counts can lag other workers by that long.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from spamguard.storage.models import Check, Feedback

PAGE_SIZE = 50
SEARCH_WINDOW = 5000
COUNT_TTL = 10.0

# tab id: (label, verdicts in priority order)
TABS: dict[str, tuple[str, tuple[str, ...]]] = {
    "review": ("Needs review", ("unsure",)),
    "spam": ("Spam", ("spam",)),
    "discard": ("Discarded", ("discard",)),
    "ham": ("Let through", ("ham",)),
    "all": ("All", ("unsure", "spam", "discard", "ham")),
}
VERDICT_TAB = {"unsure": "review", "spam": "spam", "discard": "discard", "ham": "ham"}
SORTS = {
    "priority": "Needs review first",
    "newest": "Newest first",
    "score": "Highest score first",
    "score_asc": "Lowest score first",
}
DEFAULT_TAB, DEFAULT_SORT = "all", "priority"


@dataclass
class QueueFilters:
    tab: str = DEFAULT_TAB
    sort: str = DEFAULT_SORT
    site_id: int | None = None
    min_score: float | None = None
    max_score: float | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    before: int | None = None
    tests: bool = False  # Akismet test requests (is_test) are hidden unless asked for

    @classmethod
    def from_args(cls, args) -> QueueFilters:
        def num(name, kind):
            try:
                value = kind(args.get(name, "").strip())
            except (TypeError, ValueError):
                return None
            return value if kind is int or 0.0 <= value <= 1.0 else None

        def day(name):
            try:
                return date.fromisoformat(args.get(name, "").strip())
            except ValueError:
                return None

        tab = args.get("tab", "")
        if tab not in TABS:  # `verdict=` is the older spelling of a tab
            tab = VERDICT_TAB.get(args.get("verdict", ""), DEFAULT_TAB)
        sort = args.get("sort", "")
        return cls(
            tab=tab,
            sort=sort if sort in SORTS else DEFAULT_SORT,
            site_id=num("site", int),
            min_score=num("min_score", float),
            max_score=num("max_score", float),
            date_from=day("from"),
            date_to=day("to"),
            q=args.get("q", "").strip()[:200],
            before=num("before", int),
            tests=args.get("tests") == "1",
        )

    @property
    def verdicts(self) -> tuple[str, ...]:
        return TABS[self.tab][1]

    @property
    def order(self) -> str:
        """The order actually used: a text search always walks newest first (its window is by date)."""
        return "newest" if self.q else self.sort

    def as_args(self, **changes: Any) -> dict[str, Any]:
        values = {
            "tab": None if self.tab == DEFAULT_TAB else self.tab,
            "sort": None if self.sort == DEFAULT_SORT else self.sort,
            "site": self.site_id,
            "min_score": self.min_score,
            "max_score": self.max_score,
            "from": self.date_from,
            "to": self.date_to,
            "q": self.q,
            "before": self.before,
            "tests": "1" if self.tests else None,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}

    def narrowed(self) -> bool:
        """True when anything beyond the tab and sort narrows the list."""
        return bool(self.as_args(tab=None, sort=None, before=None))


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, UTC)


def _conditions(f: QueueFilters, verdict: str) -> list:
    conds = [Check.reviewed_at.is_(None), Check.verdict == verdict]
    if not f.tests:
        conds.append(Check.is_test.is_(False))
    if f.site_id is not None:
        conds.append(Check.site_id == f.site_id)
    if f.min_score is not None:
        conds.append(Check.score >= f.min_score)
    if f.max_score is not None:
        conds.append(Check.score <= f.max_score)
    if f.date_from is not None:
        conds.append(Check.created_at >= _day_start(f.date_from))
    if f.date_to is not None:
        conds.append(Check.created_at < _day_start(f.date_to + timedelta(days=1)))
    return conds


def _like(q: str):
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(Check.comment_content.like(pattern, escape="\\"), Check.comment_author.like(pattern, escape="\\"))


COLUMNS = (Check.id, Check.created_at, Check.score, Check.verdict)


def _keys(order: str):
    return (Check.score, Check.id) if order in ("score", "score_asc") else (Check.created_at, Check.id)


def _row_key(row, order: str) -> tuple:
    return (row.score, row.id) if order in ("score", "score_asc") else (row.created_at, row.id)


def _branch(
    db: Session,
    f: QueueFilters,
    verdict: str,
    order: str,
    cursor: tuple | None,
    limit: int,
    extra=None,
    floor: tuple | None = None,
) -> list:
    """Up to `limit` rows of one verdict in `order`, after `cursor` (one index walk)."""
    keys = _keys(order)
    ascending = order == "score_asc"
    conds = _conditions(f, verdict)
    if cursor is not None:
        conds.append(tuple_(*keys) > cursor if ascending else tuple_(*keys) < cursor)
    if floor is not None:
        conds.append(tuple_(Check.created_at, Check.id) >= floor)
    if extra is not None:
        conds.append(extra)
    stmt = (
        select(*COLUMNS).where(and_(*conds)).order_by(*(k.asc() if ascending else k.desc() for k in keys)).limit(limit)
    )
    return list(db.execute(stmt).all())


def _merged(db: Session, f: QueueFilters, verdicts, order: str, cursor, limit: int, extra=None, floor=None) -> list:
    branches = [_branch(db, f, v, order, cursor, limit, extra, floor) for v in verdicts]
    merged = heapq.merge(*branches, key=lambda row: _row_key(row, order), reverse=order != "score_asc")
    return list(itertools.islice(merged, limit))


def _search_floor(db: Session, f: QueueFilters, cursor: tuple | None) -> tuple | None:
    """Lower bound (created_at, id) of this search step, or None when the rest of the list is small.

    Each verdict branch's SEARCH_WINDOW-th newest row is found by an index-only walk of
    ix_checks_queue (only indexed columns in the WHERE); the newest of those is the floor,
    so every branch scans at most SEARCH_WINDOW rows with LIKE.
    """
    floors = []
    for verdict in f.verdicts:
        conds = [Check.reviewed_at.is_(None), Check.verdict == verdict]
        if f.date_from is not None:
            conds.append(Check.created_at >= _day_start(f.date_from))
        if f.date_to is not None:
            conds.append(Check.created_at < _day_start(f.date_to + timedelta(days=1)))
        if cursor is not None:
            conds.append(tuple_(Check.created_at, Check.id) < cursor)
        row = db.execute(
            select(Check.created_at, Check.id)
            .where(and_(*conds))
            .order_by(Check.created_at.desc(), Check.id.desc())
            .offset(SEARCH_WINDOW - 1)
            .limit(1)
        ).first()
        if row is not None:
            floors.append((row.created_at, row.id))
    return max(floors) if floors else None


def page_ids(db: Session, f: QueueFilters) -> tuple[list[int], int | None, int | None]:
    """(check ids of this page in order, id for the next page or None, id to continue a bounded search)."""
    anchor = db.execute(select(*COLUMNS).where(Check.id == f.before)).first() if f.before is not None else None
    order, limit = f.order, PAGE_SIZE + 1
    search_next = None
    if f.q:
        cursor = (anchor.created_at, anchor.id) if anchor else None
        floor = _search_floor(db, f, cursor)
        rows = _merged(db, f, f.verdicts, order, cursor, limit, extra=_like(f.q), floor=floor)
        if len(rows) <= PAGE_SIZE and floor is not None:
            search_next = floor[1]
    elif order == "priority":
        # Concatenate the verdicts in priority order, each newest first; the anchor says where we are.
        verdicts = list(f.verdicts)
        if anchor is not None and anchor.verdict in verdicts:
            verdicts = verdicts[verdicts.index(anchor.verdict) :]
        rows = []
        for verdict in verdicts:
            cursor = (anchor.created_at, anchor.id) if anchor is not None and anchor.verdict == verdict else None
            rows += _branch(db, f, verdict, "newest", cursor, limit - len(rows))
            if len(rows) >= limit:
                break
    else:
        rows = _merged(db, f, f.verdicts, order, _row_key(anchor, order) if anchor else None, limit)
    ids = [row.id for row in rows]
    next_before = ids[PAGE_SIZE - 1] if len(ids) > PAGE_SIZE else None
    return ids[:PAGE_SIZE], next_before, search_next


def load_page(db: Session, f: QueueFilters) -> tuple[list[Check], int | None, int | None]:
    ids, next_before, search_next = page_ids(db, f)
    rows = db.scalars(select(Check).where(Check.id.in_(ids))).all() if ids else []
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id], next_before, search_next


class CountCache:
    """Unreviewed checks per verdict, cached for COUNT_TTL seconds per (site, tests)."""

    def __init__(self, ttl: float = COUNT_TTL, now=clock.monotonic):
        self.ttl, self.now = ttl, now
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, dict[str, int]]] = {}

    def get(self, db, site_id: int | None, tests: bool) -> dict[str, int]:
        key = (id(db.get_bind()), site_id, tests)
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] > self.now():
            return hit[1]
        counts = count_unreviewed(db, site_id, tests)
        with self._lock:
            self._entries[key] = (self.now() + self.ttl, counts)
        return counts

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def count_unreviewed(db: Session, site_id: int | None, tests: bool) -> dict[str, int]:
    conds: list[ColumnElement[bool]] = [Check.reviewed_at.is_(None)]
    if not tests:
        conds.append(Check.is_test.is_(False))
    if site_id is not None:
        conds.append(Check.site_id == site_id)
    counts = dict.fromkeys(VERDICT_TAB, 0)
    for verdict, n in db.execute(select(Check.verdict, func.count()).where(and_(*conds)).group_by(Check.verdict)):
        if verdict in counts:
            counts[verdict] = n
    return counts


def tab_counts(per_verdict: dict[str, int]) -> dict[str, int]:
    return {tab: sum(per_verdict.get(v, 0) for v in verdicts) for tab, (_label, verdicts) in TABS.items()}


counts = CountCache()


# --- what a decision applies to ---------------------------------------------------------------

PENDING_BY = {"ip": Check.user_ip, "email": Check.comment_author_email}


def checks_by_ids(db: Session, ids: list[int]) -> list[Check]:
    return list(db.scalars(select(Check).where(Check.id.in_(ids)).order_by(Check.id)).all()) if ids else []


def pending_from(db: Session, by: str, value: str, limit: int) -> list[Check]:
    """Unreviewed, non-test checks from one IP or e-mail address (ix_checks_user_ip / ix_checks_author_email)."""
    return list(
        db.scalars(
            select(Check)
            .where(PENDING_BY[by] == value, Check.reviewed_at.is_(None), Check.is_test.is_(False))
            .order_by(Check.id)
            .limit(limit)
        ).all()
    )


def feedback_by_ids(db: Session, ids: list[int]) -> list[Feedback]:
    return list(db.scalars(select(Feedback).where(Feedback.id.in_(ids))).all()) if ids else []


# --- one check's surroundings (the detail page) ---------------------------------------------------


def neighbours(db: Session, check: Check) -> tuple[int | None, int | None]:
    """(newer, older) unreviewed check of the same verdict: the queue's order (ix_checks_queue)."""
    if check.reviewed_at is not None:
        return None, None
    base = [Check.reviewed_at.is_(None), Check.verdict == check.verdict, Check.is_test.is_(check.is_test)]
    here = (check.created_at, check.id)
    key = tuple_(Check.created_at, Check.id)
    newer = db.scalar(
        select(Check.id).where(and_(*base, key > here)).order_by(Check.created_at.asc(), Check.id.asc()).limit(1)
    )
    older = db.scalar(
        select(Check.id).where(and_(*base, key < here)).order_by(Check.created_at.desc(), Check.id.desc()).limit(1)
    )
    return newer, older


def related(db: Session, check: Check, limit: int) -> dict[str, list[Check]]:
    """Other checks from the same IP / e-mail, newest first (indexed lookups; id order from the index)."""
    found: dict[str, list[Check]] = {}
    for label, column, value in (
        ("IP address", Check.user_ip, check.user_ip),
        ("e-mail address", Check.comment_author_email, check.comment_author_email),
    ):
        if value:
            found[label] = list(
                db.scalars(
                    select(Check).where(column == value, Check.id != check.id).order_by(Check.id.desc()).limit(limit)
                ).all()
            )
    return found


def feedback_for(db: Session, check_id: int, limit: int = 50) -> list[Feedback]:
    return list(
        db.scalars(
            select(Feedback).where(Feedback.check_id == check_id).order_by(Feedback.id.desc()).limit(limit)
        ).all()
    )

"""The review queue, the detail view, decisions (single, bulk) and undo.

Queue query plan: the `ix_checks_queue (reviewed_at, verdict, created_at)` index
is walked once per flagged verdict (`reviewed_at IS NULL AND verdict = ?` ordered
by created_at DESC, id DESC — SQLite keeps the rowid at the end of every index,
so the order comes straight from the index), each branch stops after one page,
and the branches are merged in Python.  One `verdict IN (...)` query would have
to sort every unreviewed flagged row instead.  Pages use keyset pagination
(`?before=<check id>`): page 1000 costs the same as page 1.

Text search is LIKE '%q%' on content and author: it cannot use an index, so each
step is bounded to the SEARCH_WINDOW newest queue rows per verdict after the
cursor (the bound is found by an index-only walk); the page offers "search older"
to continue past the window.  Cost: up to 3 x SEARCH_WINDOW row reads + LIKE per
step (about 0.1 s at 5000 on SQLite), whatever the table size.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import and_, or_, select, tuple_

from spamguard import delivery, storage
from spamguard.checking import record_feedback
from spamguard.comment import Comment
from spamguard.moderation.blueprint import bp
from spamguard.moderation.security import audit, current_user, login_required, safe_next
from spamguard.storage.models import Check, Feedback, Site, utcnow

FLAGGED = ("spam", "unsure", "discard")
PAGE_SIZE = 50
SEARCH_WINDOW = 5000
MAX_BULK = 200
RELATED_LIMIT = 20


@dataclass
class QueueFilters:
    site_id: int | None = None
    verdict: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    before: int | None = None

    @classmethod
    def from_args(cls, args) -> "QueueFilters":
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

        verdict = args.get("verdict", "")
        return cls(site_id=num("site", int), verdict=verdict if verdict in FLAGGED else None,
                   min_score=num("min_score", float), max_score=num("max_score", float),
                   date_from=day("from"), date_to=day("to"), q=args.get("q", "").strip()[:200],
                   before=num("before", int))

    def as_args(self, **changes: Any) -> dict[str, Any]:
        values = {"site": self.site_id, "verdict": self.verdict, "min_score": self.min_score,
                  "max_score": self.max_score, "from": self.date_from, "to": self.date_to, "q": self.q,
                  "before": self.before}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}


def _conditions(f: QueueFilters, verdict: str) -> list:
    conds = [Check.reviewed_at.is_(None), Check.verdict == verdict, Check.is_test.is_(False)]
    if f.site_id is not None:
        conds.append(Check.site_id == f.site_id)
    if f.min_score is not None:
        conds.append(Check.score >= f.min_score)
    if f.max_score is not None:
        conds.append(Check.score <= f.max_score)
    if f.date_from is not None:
        conds.append(Check.created_at >= datetime.combine(f.date_from, time.min, timezone.utc))
    if f.date_to is not None:
        conds.append(Check.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min, timezone.utc))
    return conds


def _like(q: str):
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(Check.comment_content.like(pattern, escape="\\"), Check.comment_author.like(pattern, escape="\\"))


def _newest(db, f: QueueFilters, cursor: tuple | None, limit: int, columns, extra=None, floor=None):
    """Up to `limit` rows, newest first, merged over the flagged verdicts (one index walk each)."""
    branches = []
    for verdict in ([f.verdict] if f.verdict else FLAGGED):
        conds = _conditions(f, verdict)
        if cursor is not None:
            conds.append(tuple_(Check.created_at, Check.id) < cursor)
        if floor is not None:
            conds.append(tuple_(Check.created_at, Check.id) >= floor)
        if extra is not None:
            conds.append(extra)
        stmt = select(*columns).where(and_(*conds)).order_by(Check.created_at.desc(), Check.id.desc()).limit(limit)
        branches.append(db.execute(stmt).all())
    merged = heapq.merge(*branches, key=lambda row: (row.created_at, row.id), reverse=True)
    return [row for _, row in zip(range(limit), merged)]


def _search_floor(db, f: QueueFilters, cursor: tuple | None) -> tuple | None:
    """Lower bound (created_at, id) of this search step, or None when the rest of the queue is small.

    Each verdict branch's SEARCH_WINDOW-th newest row is found by an index-only walk of
    ix_checks_queue (only indexed columns in the WHERE); the newest of those is the floor,
    so every branch scans at most SEARCH_WINDOW rows with LIKE.
    """
    floors = []
    for verdict in ([f.verdict] if f.verdict else FLAGGED):
        conds = [Check.reviewed_at.is_(None), Check.verdict == verdict]
        if f.date_from is not None:
            conds.append(Check.created_at >= datetime.combine(f.date_from, time.min, timezone.utc))
        if f.date_to is not None:
            conds.append(Check.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min, timezone.utc))
        if cursor is not None:
            conds.append(tuple_(Check.created_at, Check.id) < cursor)
        row = db.execute(select(Check.created_at, Check.id).where(and_(*conds))
                         .order_by(Check.created_at.desc(), Check.id.desc())
                         .offset(SEARCH_WINDOW - 1).limit(1)).first()
        if row is not None:
            floors.append((row.created_at, row.id))
    return max(floors) if floors else None


def load_queue(db, f: QueueFilters) -> tuple[list[Check], int | None, int | None]:
    """(rows of this page, id for the next page or None, id to continue a bounded search or None)."""
    cursor = None
    if f.before is not None:
        anchor = db.get(Check, f.before)
        if anchor is not None:
            cursor = (anchor.created_at, anchor.id)
    search_next = None
    columns = (Check.id, Check.created_at)
    if f.q:
        floor = _search_floor(db, f, cursor)
        ids = [r.id for r in _newest(db, f, cursor, PAGE_SIZE + 1, columns, extra=_like(f.q), floor=floor)]
        if len(ids) <= PAGE_SIZE and floor is not None:
            search_next = floor[1]
    else:
        ids = [r.id for r in _newest(db, f, cursor, PAGE_SIZE + 1, columns)]
    next_before = ids[PAGE_SIZE - 1] if len(ids) > PAGE_SIZE else None
    ids = ids[:PAGE_SIZE]
    rows = db.scalars(select(Check).where(Check.id.in_(ids))).all() if ids else []
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id], next_before, search_next


@bp.get("/moderation")
@login_required
def queue():
    db = storage.get_session()
    f = QueueFilters.from_args(request.args)
    rows, next_before, search_next = load_queue(db, f)
    sites = db.scalars(select(Site).order_by(Site.id)).all()
    return render_template("moderation/queue.html", rows=rows, f=f, sites=sites, next_before=next_before,
                           search_next=search_next, verdicts=FLAGGED, search_window=SEARCH_WINDOW)


def _flatten(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """Every submitted field as (name, text) pairs; extras as extra.<name>."""
    items: list[tuple[str, str]] = []
    for name, value in (fields or {}).items():
        if name == "extra" and isinstance(value, dict):
            for extra_name, extra_value in value.items():
                items.append((f"extra.{extra_name}", _text(extra_value)))
        else:
            items.append((name, _text(value)))
    return items


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


@bp.get("/moderation/checks/<int:check_id>")
@login_required
def detail(check_id: int):
    db = storage.get_session()
    check = db.get(Check, check_id)
    if check is None:
        abort(404)
    related: dict[str, list[Check]] = {}
    # Indexed lookups (ix_checks_user_ip / ix_checks_author_email); id order comes from the index.
    if check.user_ip:
        related["IP address"] = db.scalars(
            select(Check).where(Check.user_ip == check.user_ip, Check.id != check.id)
            .order_by(Check.id.desc()).limit(RELATED_LIMIT)).all()
    if check.comment_author_email:
        related["email"] = db.scalars(
            select(Check).where(Check.comment_author_email == check.comment_author_email, Check.id != check.id)
            .order_by(Check.id.desc()).limit(RELATED_LIMIT)).all()
    feedback = db.scalars(select(Feedback).where(Feedback.check_id == check.id)
                          .order_by(Feedback.id.desc()).limit(50)).all()
    return render_template("moderation/detail.html", check=check, fields=_flatten(check.fields),
                           related=related, feedback=feedback)


def _label() -> str:
    label = request.form.get("label", "")
    if label not in ("spam", "ham"):
        abort(400)
    return label


def decide(db, check: Check, label: str) -> Feedback | None:
    """Record one moderator decision through the same path as submit-spam/submit-ham."""
    if check.reviewed_at is not None:
        return None
    user = current_user()
    site = db.get(Site, check.site_id)
    feedback = record_feedback(db, site, Comment.from_json(check.fields or {}), label, source="moderator",
                               reporter=user.username, check=check)
    audit("decide", f"check:{check.id}", label=label, feedback_id=feedback.id, verdict=check.verdict)
    return feedback


def _back(default: str):
    target = safe_next(request.form.get("back"))
    if target and target.startswith("/moderation"):
        return redirect(target)
    return redirect(default)


@bp.post("/moderation/checks/<int:check_id>/decide")
@login_required
def decide_one(check_id: int):
    db = storage.get_session()
    label = _label()
    check = db.get(Check, check_id)
    if check is None:
        abort(404)
    feedback = decide(db, check, label)
    if feedback is None:
        flash(f"Check {check.id} was already reviewed.", "error")
    else:
        flash(f"Check {check.id} marked {'spam' if label == 'spam' else 'not spam'}.", "info")
        _remember_undo([feedback.id])
    return _back(url_for("moderation.queue"))


@bp.post("/moderation/bulk")
@login_required
def decide_bulk():
    db = storage.get_session()
    label = _label()
    try:
        ids = sorted({int(v) for v in request.form.getlist("ids")})
    except ValueError:
        abort(400)
    if not ids:
        flash("Select at least one comment.", "error")
        return _back(url_for("moderation.queue"))
    if len(ids) > MAX_BULK:
        abort(400, f"at most {MAX_BULK} comments per decision")
    done = []
    for check in db.scalars(select(Check).where(Check.id.in_(ids))).all():
        feedback = decide(db, check, label)
        if feedback is not None:
            done.append(feedback.id)
    audit("bulk_decide", f"{len(done)} checks", label=label, check_ids=ids, feedback_ids=done)
    flash(f"{len(done)} comments marked {'spam' if label == 'spam' else 'not spam'}"
          + (f"; {len(ids) - len(done)} were already reviewed." if len(done) < len(ids) else "."), "info")
    _remember_undo(done)
    return _back(url_for("moderation.queue"))


def _remember_undo(feedback_ids: list[int]) -> None:
    from flask import session

    session["undo"] = feedback_ids[:MAX_BULK]


def may_undo(user, feedback: Feedback) -> bool:
    """A moderator withdraws only their own decisions; an admin anyone's."""
    return user is not None and (user.role == "admin" or feedback.reporter == user.username)


def undo_feedback(db, feedback: Feedback) -> bool:
    """Withdraw a moderator decision: the label stops counting and the check returns to the queue."""
    if feedback.source != "moderator" or feedback.undone_at is not None:
        return False
    if not may_undo(current_user(), feedback):
        return False
    feedback.undone_at = utcnow()
    check = db.get(Check, feedback.check_id) if feedback.check_id else None
    if check is not None and check.review_label == feedback.label:
        check.reviewed_at = None
        check.review_label = None
        delivery.decision_undone(db, check)
    audit("undo", f"check:{feedback.check_id}", commit=False, feedback_id=feedback.id, label=feedback.label)
    db.commit()
    # Best effort: with Redis down the withdrawn label simply ages out of the reputation windows.
    current_app.extensions["spamguard.reputation"].retract_feedback(
        Comment.from_json(feedback.fields), feedback.site_id)
    return True


@bp.post("/moderation/undo")
@login_required
def undo():
    db = storage.get_session()
    try:
        ids = sorted({int(v) for v in request.form.getlist("feedback_ids")})[:MAX_BULK]
    except ValueError:
        abort(400)
    rows = db.scalars(select(Feedback).where(Feedback.id.in_(ids))).all()
    user = current_user()
    refused = sum(1 for fb in rows if fb.source == "moderator" and not may_undo(user, fb))
    count = sum(undo_feedback(db, fb) for fb in rows)
    from flask import session

    session.pop("undo", None)
    flash(f"Undone {count} decision{'s' if count != 1 else ''}; back in the queue.", "info")
    if refused:
        flash(f"{refused} decision{'s' if refused != 1 else ''} by other moderators left as they are "
              "(only an admin may undo those).", "error")
    return _back(url_for("moderation.queue"))

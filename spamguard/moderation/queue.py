"""The review queue, decisions (single, bulk, by IP/e-mail) and undo.

What is listed, in which order and with which counts lives in `storage.queries.queue`.  Every
decision view answers a plain form POST with a redirect (the page works without
script) and a `fetch` from ui.js (Accept: application/json) with JSON, so the
queue can update in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from spamguard import delivery, storage
from spamguard.comment import Comment
from spamguard.moderation.lookup import get_or_404
from spamguard.moderation.security import audit, current_user, login_required, safe_next
from spamguard.scoring.explain import display_reasons
from spamguard.services import services
from spamguard.storage.models import Check, Feedback, Site, utcnow
from spamguard.storage.queries import queue as listing
from spamguard.storage.queries.queue import QueueFilters
from spamguard.storage.queries.sites import all_sites

MAX_BULK = 200
MAX_BULK_BY = 1000  # "every pending comment from this IP/e-mail"
LABEL_WORDS = {"spam": "spam", "ham": "not spam"}


def home():
    return redirect(url_for("moderation.queue" if current_user() else "moderation.login"))


@login_required
def queue():
    db = storage.get_session()
    f = QueueFilters.from_args(request.args)
    rows, next_before, search_next = listing.load_page(db, f)
    sites = all_sites(db)
    counts = listing.tab_counts(listing.counts.get(db, f.site_id, f.tests))
    return render_template(
        "moderation/queue.html",
        rows=rows,
        f=f,
        sites=sites,
        next_before=next_before,
        search_next=search_next,
        search_window=listing.SEARCH_WINDOW,
        tabs=listing.TABS,
        counts=counts,
        sorts=listing.SORTS,
        count_ttl=int(listing.COUNT_TTL),
        display_reasons=display_reasons,
    )


def _label() -> str:
    label = request.form.get("label", "")
    if label not in LABEL_WORDS:
        abort(400)
    return label


def _who(check: Check) -> str:
    author = " ".join((check.comment_author or "").split())[:60]
    return f"the comment by {author}" if author else "the comment"


def decide(db, check: Check, label: str) -> Feedback | None:
    """Record one moderator decision through the same path as submit-spam/submit-ham."""
    done = record_decisions(db, [check], label)
    return done[0][1] if done else None


def record_decisions(
    db, checks: Sequence[Check], label: str, summary: Callable[[list[int], list[int]], object] | None = None
) -> list[tuple[Check, Feedback]]:
    """Label every unreviewed check as the API's submit-spam/submit-ham would, in ONE commit with each
    decision's audit row, its delivery outbox rows and `summary(check_ids, feedback_ids)` (a bulk action's
    own audit row): all or nothing.  What follows a label (reputation, the site's refit) runs after it."""
    user = current_user()
    assert user is not None  # only reached from login_required views
    checker = services().checks
    staged = []
    for check in checks:
        if check.reviewed_at is not None:
            continue
        site = db.get(Site, check.site_id)
        comment = Comment.from_json(check.fields or {})
        verdict = check.verdict
        feedback = checker.stage_feedback(
            db, site, comment, label, source="moderator", reporter=user.username, check=check
        )
        staged.append((check, feedback, site, comment, verdict))
    db.flush()  # the feedback ids the audit rows name
    for check, feedback, _site, _comment, verdict in staged:
        audit(
            "decide",
            f"check:{check.id}",
            user=user,
            commit=False,
            label=label,
            feedback_id=feedback.id,
            verdict=verdict,
        )
    if summary is not None:
        summary([s[0].id for s in staged], [s[1].id for s in staged])
    db.commit()
    listing.counts.clear()
    for _check, feedback, site, comment, _verdict in staged:
        checker.feedback_committed(db, site, comment, feedback)
    return [(s[0], s[1]) for s in staged]


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _back(default: str):
    target = safe_next(request.form.get("back"))
    if target and target.startswith("/moderation"):
        return redirect(target)
    return redirect(default)


def _answer(message: str, category: str, done_checks: list[int], feedback_ids: list[int], label: str | None):
    """JSON for ui.js, or flash + redirect for a plain form post."""
    if feedback_ids:
        session["undo"] = feedback_ids[:MAX_BULK_BY]
    if _wants_json():
        db = storage.get_session()
        site_id = request.form.get("site", type=int)
        counts = listing.tab_counts(listing.counts.get(db, site_id, request.form.get("tests") == "1"))
        return jsonify(
            message=message,
            category=category,
            checks=done_checks,
            feedback_ids=feedback_ids,
            label=label,
            counts=counts,
        )
    flash(message, category)
    return _back(url_for("moderation.queue"))


@login_required
def decide_one(check_id: int):
    db = storage.get_session()
    label = _label()
    check = get_or_404(db, Check, check_id)
    feedback = decide(db, check, label)
    if feedback is None:
        return _answer(f"Someone already reviewed {_who(check)}; nothing changed.", "error", [], [], label)
    message = f"Marked {_who(check)} as {LABEL_WORDS[label]}."
    return _answer(message[0].upper() + message[1:], "info", [check.id], [feedback.id], label)


def _many_message(done: int, asked: int, label: str, source: str = "") -> str:
    noun = "comment" if done == 1 else "comments"
    text = f"Marked {done} {noun}{source} as {LABEL_WORDS[label]}"
    skipped = asked - done
    if skipped:
        text += f"; {skipped} {'was' if skipped == 1 else 'were'} already reviewed"
    return text + "."


@login_required
def decide_bulk():
    db = storage.get_session()
    label = _label()
    try:
        ids = sorted({int(v) for v in request.form.getlist("ids")})
    except ValueError:
        abort(400)
    if not ids:
        return _answer("Select at least one comment first.", "error", [], [], label)
    if len(ids) > MAX_BULK:
        abort(400, f"at most {MAX_BULK} comments per decision")
    checks = listing.checks_by_ids(db, ids)
    done = record_decisions(
        db,
        checks,
        label,
        lambda _checks, feedback_ids: audit(
            "bulk_decide",
            f"{len(feedback_ids)} checks",
            commit=False,
            label=label,
            check_ids=ids,
            feedback_ids=feedback_ids,
        ),
    )
    done_checks, done_feedback = [c.id for c, _ in done], [f.id for _, f in done]
    return _answer(_many_message(len(done_checks), len(ids), label), "info", done_checks, done_feedback, label)


BY_FIELDS = {"ip": ("user_ip", "IP address"), "email": ("comment_author_email", "e-mail address")}


@login_required
def decide_all_from(check_id: int):
    """Mark every pending (unreviewed, non-test) comment from this check's IP or e-mail: one audited action.

    The value comes from the stored check, never from the form, and the lookup walks
    ix_checks_user_ip / ix_checks_author_email.
    """
    db = storage.get_session()
    label = _label()
    by = request.form.get("by", "")
    if by not in BY_FIELDS:
        abort(400)
    check = get_or_404(db, Check, check_id)
    attr, noun = BY_FIELDS[by]
    value = getattr(check, attr)
    if not value:
        abort(400, f"this comment has no {noun}")
    checks = listing.pending_from(db, by, value, MAX_BULK_BY)
    done = record_decisions(
        db,
        checks,
        label,
        lambda check_ids, feedback_ids: audit(
            "bulk_decide_by",
            f"{by}:{value}"[:200],
            commit=False,
            label=label,
            by=by,
            check_ids=check_ids,
            feedback_ids=feedback_ids,
        ),
    )
    done_checks, done_feedback = [c.id for c, _ in done], [f.id for _, f in done]
    message = _many_message(len(done_checks), len(done_checks), label, f" from this {noun}")
    return _answer(message, "info", done_checks, done_feedback, label)


def may_undo(user, feedback: Feedback) -> bool:
    """A moderator withdraws only their own decisions; an admin anyone's."""
    return user is not None and (user.role == "admin" or feedback.reporter == user.username)


def undoable(user, feedback: Feedback) -> bool:
    """What `undo_feedback` accepts from `user` (the detail page offers Undo only then)."""
    return feedback.source == "moderator" and feedback.undone_at is None and may_undo(user, feedback)


def undo_feedback(db, feedback: Feedback) -> bool:
    """Withdraw a moderator decision: the label stops counting and the check returns to the queue."""
    if not undoable(current_user(), feedback):
        return False
    feedback.undone_at = utcnow()
    check = db.get(Check, feedback.check_id) if feedback.check_id else None
    if check is not None and check.review_label == feedback.label:
        check.reviewed_at = None
        check.review_label = None
        delivery.decision_undone(db, check)
    audit("undo", f"check:{feedback.check_id}", commit=False, feedback_id=feedback.id, label=feedback.label)
    db.commit()
    listing.counts.clear()
    if not feedback.is_test:
        # The label no longer counts for the site's correction either: refit it as a new label would.
        services().checks.adaptation_changed(feedback.site_id)
    # Best effort: with Redis down the withdrawn label simply ages out of the reputation windows.
    services().reputation.retract_feedback(Comment.from_json(feedback.fields), feedback.site_id)
    return True


@login_required
def undo():
    db = storage.get_session()
    try:
        ids = sorted({int(v) for v in request.form.getlist("feedback_ids")})[:MAX_BULK_BY]
    except ValueError:
        abort(400)
    rows = listing.feedback_by_ids(db, ids)
    user = current_user()
    refused = sum(1 for fb in rows if fb.source == "moderator" and fb.undone_at is None and not may_undo(user, fb))
    restored = [fb.check_id for fb in rows if undo_feedback(db, fb)]
    session.pop("undo", None)
    n = len(restored)
    if n:
        message = f"Undone: {n} comment{'s are' if n != 1 else ' is'} back in the queue."
    elif refused:
        message = "Nothing was undone."
    else:
        message = "Nothing to undo: that decision was already withdrawn."
    if refused:
        message += (
            f" {refused} decision{'s' if refused != 1 else ''} by other moderators left as they are "
            "(only an admin may undo those)."
        )
    return _answer(message, "error" if refused else "info", [c for c in restored if c], [], None)

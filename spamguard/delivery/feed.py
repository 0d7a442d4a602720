"""`GET /api/v1/decisions?since=<cursor>`: the decisions of the calling site, oldest first.

For sites that can take neither callbacks nor webhooks (no public URL, strict
firewall): they poll.  The cursor is the last decision id seen (opaque to
clients); each page is one index range scan on (site_id, id).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from spamguard.http_errors import ApiError, authenticate, error_response
from spamguard.storage import get_session
from spamguard.storage.models import Check, Site

from .models import Decision
from .outbox import decision_json

bp = Blueprint("delivery_feed", __name__, url_prefix="/api/v1")
DEFAULT_LIMIT, MAX_LIMIT = 100, 500


def _site() -> Site:
    """The site of `Authorization: Bearer <key>` or `?api_key=`; the JSON API's errors otherwise."""
    from werkzeug.datastructures import MultiDict

    return authenticate(MultiDict({"api_key": request.args.get("api_key", "")}))


def _number(name: str, default: int, high: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(
            400,
            f"invalid_{name}",
            f"{name} must be a cursor returned by this endpoint."
            if name == "since"
            else f"{name} must be a positive integer.",
        )
    return min(int(raw), high)


@bp.get("/decisions")
def decisions() -> Response:
    site = _site()
    since = _number("since", 0, 10**18)
    limit = max(1, _number("limit", DEFAULT_LIMIT, MAX_LIMIT))
    db = get_session()
    rows = db.scalars(
        select(Decision).where(Decision.site_id == site.id, Decision.id > since).order_by(Decision.id).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    checks = (
        {c.id: c for c in db.scalars(select(Check).where(Check.id.in_([r.check_id for r in rows])))} if rows else {}
    )
    next_cursor = str(rows[-1].id) if rows else str(since)
    return jsonify(
        decisions=[decision_json(r, checks.get(r.check_id)) for r in rows], next_cursor=next_cursor, has_more=more
    )


@bp.errorhandler(ApiError)
def api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, error.headers)

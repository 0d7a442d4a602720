"""SpamGuard's own JSON API: the same checks and labels as the Akismet endpoints, with the details.

Errors are `{"error": {"code": <stable code>, "message": ...}}` with a 4xx
status; bad input never produces a 5xx.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from spamguard.api import form
from spamguard.comment import Comment
from spamguard.http_errors import ApiError, authenticate, error_response
from spamguard.metrics import record_refusal
from spamguard.scoring.decision import DISCARD
from spamguard.scoring.model import NoModelError
from spamguard.services import services
from spamguard.storage import UNAVAILABLE, UNAVAILABLE_RETRY_AFTER, get_session

bp = Blueprint("json_api", __name__, url_prefix="/api/v1")


def read_body() -> tuple[dict[str, Any], MultiDict[str, str]]:
    """The JSON object and its comment fields (Akismet names, same caps as the form parser)."""
    body = form.read_body(request) or b"null"
    try:
        codec = form.codec_for(request.mimetype_params.get("charset"))
    except form.UnsupportedCharset as exc:
        raise ApiError(415, "unsupported_charset", exc.message) from None
    try:  # any Content-Type: clients forget it; without a charset JSON's own UTF-8/16/32 detection applies
        data = json.loads(body.decode(codec, errors="replace") if codec else body)
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, absurdly deep nesting
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    try:
        fields = form.fields_from_json(data, current_app.config["SPAMGUARD_MAX_FIELD_CHARS"])
    except ValueError as exc:
        raise ApiError(422, "invalid_field", f"Field {str(exc)!r} must be a string, number, boolean or null.") from None
    return data, fields


def require(fields: MultiDict[str, str], *names: str) -> None:
    for name in names:
        if not (fields.get(name) or "").strip():
            raise ApiError(422, "missing_field", f"Missing required field: {name}.")


@bp.post("/check")
def check() -> Response:
    _data, fields = read_body()
    site = authenticate(fields)
    require(fields, "blog", "user_ip")
    comment = form.comment_from_fields(fields, current_app.config["SPAMGUARD_MAX_FIELD_CHARS"])
    outcome = services().checks.check(get_session(), site, comment, "json")
    if outcome.result is None:
        assert outcome.refusal is not None
        raise ApiError(429, "rate_limited", outcome.refusal.reason, {"Retry-After": str(outcome.refusal.retry_after)})
    result = outcome.result
    return jsonify(
        guid=result.guid,
        verdict=result.verdict,
        score=round(result.probability, 4),
        reasons=result.reasons,
        model_version=result.model_version,
        is_test=comment.is_test,
        # What an Akismet client would have been told for the same comment.
        akismet={
            "result": "true" if result.is_spam else "false",
            "pro_tip": "discard" if result.verdict == DISCARD else None,
        },
        alerts=result.alerts,
    )


@bp.post("/feedback")
def feedback() -> Response:
    """A spam/ham label, matched to a check by `guid` or by the comment's fields."""
    data, fields = read_body()
    site = authenticate(fields)
    label = str(data.get("label", "")).strip().lower()
    if label not in ("spam", "ham"):
        raise ApiError(422, "invalid_label", 'label must be "spam" or "ham".')
    checks = services().checks
    refusal = checks.feedback_refusal(site)
    if refusal is not None:
        raise ApiError(429, "rate_limited", refusal.reason, {"Retry-After": str(refusal.retry_after)})
    guid = (fields.get("guid") or "").strip().lower()
    max_chars = current_app.config["SPAMGUARD_MAX_FIELD_CHARS"]
    session = get_session()
    original = None
    if guid:
        original = checks.find_original(session, site, Comment(), guid)
        if original is None or original.guid != guid:
            raise ApiError(404, "unknown_guid", "No check with this guid for this key.")
        comment = Comment.from_json(original.fields)
        comment.is_test = form.parse_bool(fields.get("is_test")) or comment.is_test
    else:
        require(fields, "blog", "user_ip")
        comment = form.comment_from_fields(fields, max_chars)
    row = checks.record_feedback(
        session, site, comment, label, source="api", reporter=fields.get("reporter") or "", guid=guid, check=original
    )
    return jsonify(
        status="recorded",
        feedback_id=row.id,
        label=label,
        matched_guid=row.check.guid if row.check_id and row.check else None,
    )


@bp.errorhandler(ApiError)
def api_error(error: ApiError) -> Response:
    if error.status != 429:  # over-limit refusals are counted where they are decided (quota)
        record_refusal(error.code)
    return error_response(error.status, error.code, error.message, error.headers)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    code = {413: "body_too_large", 405: "method_not_allowed", 400: "bad_request"}.get(
        error.code or 400, (error.name or "error").lower().replace(" ", "_")
    )
    headers = {
        name: error.get_response().headers[name]
        for name in ("Allow", "Retry-After")
        if error.get_response().headers.get(name)
    }
    return error_response(error.code or 400, code, error.description or error.name, headers)


def storage_unavailable(error: Exception) -> Response:
    current_app.logger.error("database unavailable: %s", error, extra={"path": request.path})
    return error_response(
        503,
        "storage_unavailable",
        "Storage is temporarily unavailable; retry later.",
        {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


for _error in UNAVAILABLE:
    bp.register_error_handler(_error, storage_unavailable)


@bp.errorhandler(NoModelError)
def no_model(error: NoModelError) -> Response:
    return error_response(
        503, "no_model", "No spam model is loaded.", {"Retry-After": str(math.ceil(error.retry_after))}
    )

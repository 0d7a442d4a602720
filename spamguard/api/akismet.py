"""The Akismet wire protocol (spec `akismet-api.md`): what unchanged Akismet clients talk to.

Every API-level outcome is HTTP 200 with an exact text body; other statuses are
only for transport problems (404, 405, 413, 503).  Each endpoint is answered
under both /1.1/ and /1.2/ (spec §1.1).
"""

from __future__ import annotations

import csv
import io
import json
import math
import secrets
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Request, Response, current_app, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from spamguard import delivery
from spamguard.api import form, keys, usage_stats, wordpress
from spamguard.checking import CheckResult
from spamguard.metrics import record_refusal
from spamguard.quota import Refusal
from spamguard.scoring.decision import DISCARD
from spamguard.scoring.model import NoModelError
from spamguard.services import services
from spamguard.storage import UNAVAILABLE, UNAVAILABLE_RETRY_AFTER, get_session
from spamguard.storage.models import Site

bp = Blueprint("akismet", __name__)


THANKS = "Thanks for making the web a better place."
EMPTY_KEY, EMPTY_BLOG, EMPTY_IP = 'Empty "api_key" value', 'Empty "blog" value', 'Empty "user_ip" value'
KEY_SITES_ORDERS = ("total", "spam", "ham", "missed_spam", "false_positives")
CSV_HEADER = ("Site", "Total API Calls", "Spam", "Ham", "Missed Spam", "False Positives", "Is Revoked")
MAX_HEADER_CHARS = 1024


# -- answers -----------------------------------------------------------------------------------
def header_value(value: Any) -> str:
    """Latin-1-safe, single-line header text: printable ASCII kept, anything else (and `%`) percent-encoded."""
    plain = str(value)
    if plain.isascii() and plain.isprintable() and "%" not in plain:  # the common case: nothing to encode
        return plain[:MAX_HEADER_CHARS]
    out = []
    for ch in plain:
        if ch in "\r\n\t":
            out.append(" ")
        elif " " <= ch <= "~" and ch != "%":
            out.append(ch)
        else:
            out.append(quote(ch, safe=""))
    return "".join(out)[:MAX_HEADER_CHARS]


RESPONSE_OWN_HEADERS = frozenset({"content-type", "content-length"})  # what `Response` itself sets


def text(body: str, status: int = 200, headers: dict[str, Any] | None = None) -> Response:
    response = Response(body, status=status, mimetype="text/plain")  # → text/plain; charset=utf-8
    if headers:
        names = {name.lower() for name in headers}
        # Setting a header that is not there yet appends it: `add` does the same without scanning the list
        # for it first, unless a name is already there (case-insensitively) and has to be replaced.
        put: Callable[[str, str], None] = response.headers.__setitem__
        if len(names) == len(headers) and names.isdisjoint(RESPONSE_OWN_HEADERS):
            put = response.headers.add
        for name, value in headers.items():
            put(name, header_value(value))
    return response


def failure(body: str, debug: str, status: int = 200) -> Response:
    """An error answer: the only kind that carries X-akismet-debug-help."""
    return text(body, status, {"X-akismet-debug-help": debug})


def json_answer(data: Any) -> Response:
    # json.dumps, not jsonify: Flask's provider sorts keys, and key-sites wants its month key first.
    return Response(json.dumps(data, separators=(",", ":")), mimetype="application/json")


View = Callable[[], Response]


def route(name: str, methods: tuple[str, ...] = ("POST",)) -> Callable[[View], View]:
    """Register a view under /1.1/<name> and /1.2/<name>; no automatic OPTIONS so 405 says `Allow: POST`."""

    def register(view: View) -> View:
        for version in ("1.1", "1.2"):
            bp.add_url_rule(
                f"/{version}/{name}",
                endpoint=name.replace("-", "_"),
                view_func=view,
                methods=list(methods),
                provide_automatic_options=False,
            )
        return view

    return register


# -- request helpers ---------------------------------------------------------------------------
def read_fields(req: Request | None = None) -> MultiDict[str, str]:
    return form.read_fields(request if req is None else req, current_app.config["SPAMGUARD_MAX_FIELD_CHARS"])


def site_for(key: str) -> Site | None:
    return services().site_cache.find(get_session(), key)


# The look-ups below answer either what the endpoint needs or the refusal to send instead; callers
# return the latter as soon as `isinstance(..., Response)` says so.
def account_site(fields: MultiDict[str, str]) -> Site | Response:
    """verify-key style key (`key` wins), for the WordPress account calls."""
    key = keys.verify_key_candidate(fields)
    if not key:
        record_refusal("missing_key")
        return failure("invalid", EMPTY_KEY)
    site = site_for(key)
    if site is None:
        record_refusal("invalid_key")
        return text("invalid")
    return site


def api_site(fields: MultiDict[str, str], req: Request | None = None) -> tuple[Site, str] | Response:
    """Site and key for every non-verify endpoint (§1.2 order); an unknown key answers `invalid` (2015 capture: no debug)."""
    key = keys.api_key_candidate(request if req is None else req, fields, current_app.config["SPAMGUARD_BASE_HOSTS"])
    if not key:
        record_refusal("missing_key")
        return failure("invalid", EMPTY_KEY)
    site = site_for(key)
    if site is None:
        record_refusal("invalid_key")
        return text("invalid")
    return site, key


def missing_field(fields: MultiDict[str, str]) -> Response | None:
    """Check order after the key: blog, then user_ip; blank counts as missing."""
    for name, debug in (("blog", EMPTY_BLOG), ("user_ip", EMPTY_IP)):
        if not (fields.get(name) or "").strip():
            record_refusal("missing_field")
            return failure(f"Missing required field: {name}.", debug)
    return None


def comment_site(fields: MultiDict[str, str], req: Request | None = None) -> tuple[Site, str] | Response:
    found = api_site(fields, req)
    if isinstance(found, Response):
        return found
    return missing_field(fields) or found


# -- comment-check and reports -----------------------------------------------------------------
def verdict_headers(result: CheckResult) -> dict[str, str]:
    headers = {"X-akismet-guid": result.guid}
    if result.verdict == DISCARD:
        headers["X-akismet-pro-tip"] = "discard"
    headers.update(
        {
            "X-Spamguard-Score": f"{result.probability:.4f}",
            "X-Spamguard-Verdict": result.verdict,
            "X-Spamguard-Reasons": "; ".join(result.reasons[:5]),
        }
    )
    headers.update(result.alerts)
    return headers


def refused(refusal: Refusal) -> Response:
    """Over the limit (spec §5): fail open with `false`, but WordPress holds the comment (X-akismet-error)."""
    headers = {
        "X-akismet-guid": uuid.uuid4().hex,
        "X-akismet-error": refusal.reason,
        "X-akismet-alert-code": refusal.alert_code,
        "X-akismet-alert-msg": refusal.alert_msg,
        "Retry-After": str(refusal.retry_after),
        **refusal.headers,
    }
    return text("false", headers=headers)


@route("comment-check")
def comment_check() -> Response:
    return answer_comment_check(request)


def answer_comment_check(req: Request) -> Response:
    """comment-check's answer to `req` (in an app context): the Flask view's, and the lean path's
    (`spamguard.api.fast_path`), which serves the same requests without Flask's dispatch."""
    max_chars = current_app.config["SPAMGUARD_MAX_FIELD_CHARS"]  # read once: each proxy look-up costs
    fields = wordpress.check_fields(form.read_fields(req, max_chars), req.headers.get("User-Agent"))
    found = comment_site(fields, req)
    if isinstance(found, Response):
        return found
    site, key = found
    comment = form.comment_from_fields(fields, max_chars)
    callback = (fields.get("callback") or "").strip()
    outcome = services().checks.check(get_session(), site, comment, "akismet", need_id=bool(callback))
    if outcome.result is None:
        assert outcome.refusal is not None
        return refused(outcome.refusal)
    result = outcome.result
    headers = verdict_headers(result)
    if callback and result.check_id is not None:
        # Akismet's asynchronous verdicts (§2.6): a provisional `false` that WordPress keeps pending
        # until the moderator's (or the timeout policy's) decision is POSTed to the callback.
        recheck = delivery.register_callback(
            get_session(), site, result.check_id, result.verdict, callback, key, delivery.settings()
        )
        if recheck is not None:
            headers["X-akismet-recheck-after"] = str(recheck)
    return text("true" if result.is_spam else "false", headers=headers)


def refused_report(refusal: Refusal) -> Response:
    """Feedback over the key's rate limit: nothing is recorded, so never the thanks string.

    There is no verdict to fail open for, so this is the spec's throttling answer
    (§1.5, §5): 429 + Retry-After, with the same error/alert headers as comment-check.
    Python and npm raise, the PHP SDK raises its RateLimitException, WordPress ignores it.
    """
    response = failure(refusal.reason, f"{refusal.alert_msg} Retry after {refusal.retry_after} s.", 429)
    for name, value in {
        "X-akismet-error": refusal.reason,
        "X-akismet-alert-code": refusal.alert_code,
        "X-akismet-alert-msg": refusal.alert_msg,
        "Retry-After": refusal.retry_after,
    }.items():
        response.headers[name] = header_value(value)
    return response


def report(label: str) -> Response:
    fields = read_fields()
    found = comment_site(fields)
    if isinstance(found, Response):
        return found
    site, _key = found
    checks = services().checks
    refusal = checks.feedback_refusal(site)
    if refusal is not None:
        return refused_report(refusal)
    comment = form.comment_from_fields(fields, current_app.config["SPAMGUARD_MAX_FIELD_CHARS"])
    checks.record_feedback(
        get_session(),
        site,
        comment,
        label,
        source="api",
        reporter=fields.get("reporter") or "",
        guid=(fields.get("guid") or "").strip(),
    )
    return text(THANKS)


@route("submit-spam")
def submit_spam() -> Response:
    return report("spam")


@route("submit-ham")
def submit_ham() -> Response:
    return report("ham")


@route("verify-key")
def verify_key() -> Response:
    fields = read_fields()
    key = keys.verify_key_candidate(fields)  # never the Host: akismet-api sends verify-key to the bare host
    if not key:
        return failure("invalid", EMPTY_KEY)
    if site_for(key) is None:
        return text("invalid")
    if not (fields.get("blog") or "").strip():
        return failure("invalid", EMPTY_BLOG)
    return text("valid")


# -- 1.2 account endpoints ---------------------------------------------------------------------
@route("usage-limit", ("GET", "POST"))
def usage_limit() -> Response:
    fields = read_fields()
    found = api_site(fields)
    if isinstance(found, Response):
        return found
    site, _key = found
    usage = services().quota.usage
    return json_answer(usage.usage_report(site, form.parse_bool(fields.get("extended")), get_session()))


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int((value or "").strip()), low), high)
    except ValueError:
        return default


@route("key-sites", ("GET", "POST"))
def key_sites() -> Response:
    fields = read_fields()
    found = api_site(fields)  # Python 25.10.1 sends no api_key here: it gets `invalid` (§2.4)
    if isinstance(found, Response):
        return found
    site, key = found
    month = (fields.get("month") or "").strip()
    if not usage_stats.MONTH.match(month):
        month = usage_stats.current_month()
    order = (fields.get("order") or "").strip().lower()
    order = order if order in KEY_SITES_ORDERS else "total"
    limit = _int(fields.get("limit"), 500, 1, 5000)
    offset = _int(fields.get("offset"), 0, 0, 10**9)
    rows, total = usage_stats.key_sites_report(
        get_session(), site, month, (fields.get("filter") or "").strip(), order, limit, offset
    )
    if (fields.get("format") or "").strip().lower() == "csv":
        out = io.StringIO()
        out.write(f"Active sites for {key} during {month} (limit:{limit}, offset: {offset}, total: {total})\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for row in rows:
            writer.writerow(
                [
                    row["site"],
                    row["api_calls"],
                    row["spam"],
                    row["ham"],
                    row["missed_spam"],
                    row["false_positives"],
                    "true" if row["is_revoked"] else "false",
                ]
            )
        return Response(out.getvalue().rstrip("\n"), mimetype="text/csv")
    return json_answer({month: rows, "limit": limit, "offset": offset, "total": total})


# -- WordPress plugin helpers (spec §2.6) ------------------------------------------------------
@route("test", ("GET", "POST"))
def connectivity_test() -> Response:
    return text("connected")


@route("get-subscription")
def get_subscription() -> Response:
    fields = read_fields()
    site = account_site(fields)
    if isinstance(site, Response):
        return site
    # `active` is what lets WordPress save the key from its settings screen.
    return json_answer(
        {
            "status": "active",
            "account_name": site.url,
            "account_type": "free-api-key",
            "next_billing_date": None,
            "user_email": "",
            "user_login": "",
            "ID": site.id,
            "api_key": keys.verify_key_candidate(fields).lower(),
        }
    )


@route("get-stats")
def get_stats() -> Response:
    fields = read_fields()
    site = account_site(fields)
    if isinstance(site, Response):
        return site
    period = (fields.get("from") or "all").strip()
    return json_answer(usage_stats.stats_report(get_session(), site, period))


@route("token")
def token() -> Response:
    fields = read_fields()
    found = api_site(fields)
    if isinstance(found, Response):
        if not fields.get("key"):
            return found
        account = account_site(fields)
        if isinstance(account, Response):
            return account
    return text(secrets.token_hex(16))  # only feeds stats iframes on akismet.com; any opaque string will do


@route("deactivate")
def deactivate() -> Response:
    found = account_site(read_fields())
    return found if isinstance(found, Response) else text("deactivated")


@route("verify-wpcom-key")
def verify_wpcom_key() -> Response:
    read_fields()
    return failure("invalid", "WordPress.com (Jetpack) keys are not supported by this server")


# -- errors: protocol-form text, never a traceback ---------------------------------------------
@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Transport-level errors inside Akismet views (e.g. 413 for a body over SPAMGUARD_MAX_BODY_BYTES)."""
    debug = error.name
    if error.code == 413:
        debug = f"Request body larger than {current_app.config['SPAMGUARD_MAX_BODY_BYTES']} bytes"
    response = failure(error.name, debug, error.code or 400)
    original = error.get_response()
    for name in ("Allow", "Retry-After"):
        if original.headers.get(name):
            response.headers[name] = original.headers[name]
    return response


def storage_unavailable(error: Exception) -> Response:
    """Database down, locked or too slow: an error, never a verdict or "Thanks" (WordPress holds and rechecks)."""
    current_app.logger.error("database unavailable: %s", error, extra={"path": request.path})
    response = failure("Service Unavailable", "Storage temporarily unavailable; retry later", 503)
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return response


for _error in UNAVAILABLE:
    bp.register_error_handler(_error, storage_unavailable)


REPORT_ENDPOINTS = {"akismet.comment_check", "akismet.submit_spam", "akismet.submit_ham"}
UNSUPPORTED_CHARSET = "Unsupported request charset."


@bp.errorhandler(form.UnsupportedCharset)
def unsupported_charset(error: form.UnsupportedCharset) -> Response:
    """Refused before decoding and before the key is looked up, in each endpoint's own error form (§2.7):
    an error body for comment-check (WordPress holds the comment) and submit-*, `invalid` elsewhere."""
    body = UNSUPPORTED_CHARSET if request.endpoint in REPORT_ENDPOINTS else "invalid"
    return failure(body, error.message)


@bp.errorhandler(NoModelError)
def no_model(error: NoModelError) -> Response:
    current_app.logger.error("comment-check without a servable model")
    response = failure("Service Unavailable", "No spam model is loaded", 503)
    response.headers["Retry-After"] = str(math.ceil(error.retry_after))
    return response

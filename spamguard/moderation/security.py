"""UI security: CSRF on every state-changing request, strict headers, login/role decorators.

CSRF: Flask-WTF's CSRFProtect is initialised with WTF_CSRF_CHECK_DEFAULT off, so its
app-wide hook does nothing; this blueprint's own before_request calls `protect()`.
The API blueprints therefore never see CSRF checks, and every POST of the UI does
(set WTF_CSRF_ENABLED=False to switch it off, e.g. in a test that wants to).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Blueprint, abort, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from spamguard import storage
from spamguard.storage.models import AuditLog, User
from spamguard.storage.queries import audit as audit_log

# script-src/connect-src 'self': only the UI's own static ui.js, which posts decisions with fetch.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

csrf = CSRFProtect()


def _init_csrf(state) -> None:
    app = state.app
    app.config.setdefault("WTF_CSRF_ENABLED", True)
    # Only this blueprint asks for CSRF checks (below); the API endpoints are form POSTs without a session.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)  # a moderation shift, not an hour
    csrf.init_app(app)


def _csrf_protect() -> None:
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "moderation.static":
        # Pages show comment data and sometimes a new API key: never cache them.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def client_ip() -> str:
    """The client's address: REMOTE_ADDR, which ProxyFix (SPAMGUARD_TRUSTED_PROXIES hops) has
    already replaced by the X-Forwarded-For entry the nearest trusted proxy appended."""
    return (request.remote_addr or "")[:64]


def current_user() -> User | None:
    """The logged-in, enabled user of this request (loaded once), or None."""
    marker = id(request._get_current_object())  # type: ignore[attr-defined]  # werkzeug's proxy is untyped
    cached = g.get("sg_user")
    if cached is not None and cached[0] == marker:
        return cached[1]
    user = None
    user_id = session.get("user_id")
    if user_id is not None:
        user = storage.get_session().get(User, user_id)
        # A session from before the user's last logout or password change is dead, copies included.
        if user is None or user.disabled or session.get("epoch") != user.session_epoch:
            session.clear()
            user = None
    g.sg_user = (marker, user)
    return user


def _template_globals() -> dict[str, Any]:
    return {"current_user": current_user}


def install(bp: Blueprint) -> None:
    """CSRF on every request of `bp` (and only `bp`), its security headers, `current_user` in templates."""
    bp.record_once(_init_csrf)
    bp.before_request(_csrf_protect)
    bp.after_request(_security_headers)
    bp.app_context_processor(_template_globals)


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("moderation.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect(url_for("moderation.login", next=request.full_path if request.method == "GET" else None))
        if user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def audit(action: str, target: str = "", user: User | None = None, commit: bool = True, **details: Any) -> AuditLog:
    """Append one audit row (who, what, when, from which client IP)."""
    user = user if user is not None else current_user()
    details.setdefault("ip", client_ip())
    db = storage.get_session()
    row = audit_log.add(db, action, target, user_id=user.id if user else None, details=details)
    if commit:
        db.commit()
    return row


MAX_NEXT_CHARS = 2048


def safe_next(target: str | None) -> str | None:
    """`target` when it is a same-site path to follow after login, else None (no open redirect).

    Browsers drop tabs/newlines and read `\\` as `/`, so `/<tab>/evil` or `/\\evil` would
    become `//evil` (another host); CR/LF would break the Location header.  Any control
    character or backslash, raw or percent-encoded, is refused, and what is left must
    parse with neither scheme nor host.
    """
    if not target or len(target) > MAX_NEXT_CHARS:
        return None
    for form in (target, unquote(target)):
        if "\\" in form or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in form):
            return None
        if not form.startswith("/") or form.startswith("//"):
            return None
        try:
            parts = urlsplit(form)
        except ValueError:
            return None
        if parts.scheme or parts.netloc:
            return None
    return target

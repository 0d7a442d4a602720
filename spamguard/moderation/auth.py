"""Login / logout.

Every login POST first takes one attempt from the throttle counters (per IP,
per username+IP, global; see `throttle`), and only an attempt within all limits
reaches argon2.  Unknown usernames then cost one dummy verification, like known
ones, so timing does not tell which usernames exist.

Sessions carry the user's `session_epoch`; logout and a password change bump
it, so a copied cookie stops working too.  They expire after
SPAMGUARD_SESSION_IDLE_HOURS without a request (see `app.create_app`).
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for

from spamguard import storage
from spamguard.moderation import passwords, throttle
from spamguard.moderation.security import audit, client_ip, current_user, safe_next
from spamguard.storage.queries import users

REFUSED = {
    "ip": "Too many login attempts from your address. Try again later.",
    "user": "Too many failed logins. Try again in 15 minutes.",
    "global": "Too many login attempts right now. Try again in a minute.",
}


def _login_page(next_url: str | None, status: int, retry_after: int | None = None):
    response = current_app.make_response((render_template("moderation/login.html", next=next_url), status))
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def login():
    if request.method == "GET":
        if current_user() is not None:
            return redirect(url_for("moderation.queue"))
        return render_template("moderation/login.html", next=safe_next(request.args.get("next")))

    username = request.form.get("username", "").strip()[:150]
    password = request.form.get("password", "")
    next_url = safe_next(request.form.get("next"))
    ip = client_ip()
    if not username or not password:
        flash("Enter a username and a password.", "error")
        return _login_page(next_url, 400)
    db = storage.get_session()
    refusal = throttle.reserve(db, username, ip, throttle.LoginLimits.from_config(current_app.config))
    if refusal is not None:
        # The password is not even looked at, so guessing gains nothing; audited once per window.
        if refusal.first:
            audit("login_locked", username, user=None, ip=ip, limit=refusal.scope)
        flash(REFUSED[refusal.scope], "error")
        return _login_page(next_url, 429, refusal.retry_after)

    user = users.by_name(db, username)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        audit("login_failed", username, user=None, ip=ip)
        flash("Wrong username or password.", "error")
        return _login_page(next_url, 401)

    throttle.succeeded(db, username, ip)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.clear()  # no session fixation: a fresh session (and CSRF secret) for the logged-in user
    session["user_id"] = user.id
    session["epoch"] = user.session_epoch
    session.permanent = True  # expires after the idle lifetime; refreshed by every request
    audit("login", username, user=user, ip=ip)
    return redirect(next_url or url_for("moderation.queue"))


def logout():
    user = current_user()
    if user is not None:
        users.end_sessions(storage.get_session(), user.id)  # committed with the audit row below
        audit("logout", user.username, user=user)
    session.clear()
    flash("Logged out.", "info")
    return redirect(url_for("moderation.login"))

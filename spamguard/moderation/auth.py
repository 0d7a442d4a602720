"""Login / logout with throttling of failed attempts.

Throttling counts `login_failed` audit rows for (username, client IP) in the last
LOGIN_WINDOW, since the last successful login from that IP.  The database is
shared by every gunicorn worker, so the limit holds across workers with no Redis.
The query uses the audit log's created_at index and only reads the window's rows.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select

from spamguard import storage
from spamguard.moderation import passwords
from spamguard.moderation.blueprint import bp
from spamguard.moderation.security import audit, current_user, safe_next
from spamguard.storage.models import AuditLog, User, utcnow

LOGIN_WINDOW = timedelta(minutes=15)


def client_ip() -> str:
    return (request.remote_addr or "")[:64]


def _max_failures() -> int:
    return current_app.config["SPAMGUARD_LOGIN_MAX_FAILURES"]


def recent_failures(username: str, ip: str) -> int:
    """Failed logins for username from ip in the window, after the last success from that ip."""
    since = utcnow() - LOGIN_WINDOW
    rows = storage.get_session().execute(
        select(AuditLog.action, AuditLog.details, AuditLog.created_at)
        .where(AuditLog.created_at >= since, AuditLog.target == username[:200],
               AuditLog.action.in_(("login_failed", "login")))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(200)
    ).all()
    failures = 0
    for action, details, _created in rows:
        if (details or {}).get("ip") != ip:
            continue
        if action == "login":
            break
        failures += 1
    return failures


@bp.route("/login", methods=["GET", "POST"])
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
        return render_template("moderation/login.html", next=next_url), 400
    if recent_failures(username, ip) >= _max_failures():
        # Locked: do not even look at the password, so guessing gains nothing.
        audit("login_locked", username, user=None, ip=ip)
        flash("Too many failed logins. Try again in 15 minutes.", "error")
        response = current_app.make_response((render_template("moderation/login.html", next=next_url), 429))
        response.headers["Retry-After"] = str(int(LOGIN_WINDOW.total_seconds()))
        return response

    db = storage.get_session()
    user = db.scalar(select(User).where(User.username == username))
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        audit("login_failed", username, user=None, ip=ip)
        flash("Wrong username or password.", "error")
        return render_template("moderation/login.html", next=next_url), 401

    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.clear()  # no session fixation: a fresh session (and CSRF secret) for the logged-in user
    session["user_id"] = user.id
    session.permanent = False
    audit("login", username, user=user, ip=ip)
    return redirect(next_url or url_for("moderation.queue"))


@bp.post("/logout")
def logout():
    user = current_user()
    if user is not None:
        audit("logout", user.username, user=user, ip=client_ip())
    session.clear()
    flash("Logged out.", "info")
    return redirect(url_for("moderation.login"))

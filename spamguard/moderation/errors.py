"""Friendly HTML error pages for people; machines keep their own error forms.

The app's error handlers ask `html_error_page` first: it answers only for pages a
person opens in a browser (not /api/*, the Akismet /1.x/* forms, health or metrics
endpoints) and otherwise returns None so the caller keeps its plain/JSON answer.
The page is rendered without touching the database, so it works when a 500 came
from the database itself.
"""

from __future__ import annotations

from flask import Response, render_template, request

from spamguard.moderation.security import SECURITY_HEADERS

MACHINE_PREFIXES = ("/api/", "/1.1/", "/1.2/", "/healthz", "/readyz", "/metrics", "/openapi")
MESSAGES = {
    400: ("That request did not make sense", "Something in the form or link was not what we expected."),
    403: ("You can't open this page", "Your account does not have access to it. Ask an administrator if you need it."),
    404: ("Page not found", "The page or comment you were looking for is not here. It may have been removed."),
    405: ("That did not work", "This page cannot be used that way."),
    413: ("That was too large", "The request was larger than SpamGuard accepts."),
    429: ("Slow down a little", "Too many requests in a short time. Wait a moment and try again."),
    500: ("Something went wrong", "SpamGuard hit an unexpected error. It has been logged; try again in a moment."),
}


def wants_html() -> bool:
    if request.path.startswith(MACHINE_PREFIXES):
        return False
    if request.accept_mimetypes.best == "application/json":  # ui.js fetches
        return False
    return (
        "text/html" in (m for m, _q in request.accept_mimetypes)
        or request.path == "/"
        or request.path.startswith(("/moderation", "/admin", "/stats", "/login", "/logout"))
    )


def html_error_page(code: int) -> Response | None:
    if not wants_html():
        return None
    title, text = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    response = Response(
        render_template("moderation/error.html", code=code, title=title, text=text), status=code, mimetype="text/html"
    )
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response

"""A lean WSGI dispatch for `POST /1.1|1.2/comment-check`: the API's hot path without Flask's request machinery.

Flask's dispatch of one comment-check (a request context with its URL adapter and match, the session
opened and saved, hooks reaching `g` and `request` through context proxies, make_response and
process_response, teardown) cost ≈ 80 µs of CPU a check in process (−8 %), about two thirds of a whole
request to a trivial Flask app.  This middleware answers the same requests with the same view code
(`akismet.answer_comment_check`) in an app context only (`current_app`, `g`, the request's database
session and its teardown), and does itself what the app's hooks would: the request id (`X-Request-ID`,
and in log records), the HTTP metrics, starting the background maintenance, Flask's first-request flag.

Whatever it cannot vouch for goes to Flask unchanged: other paths and methods, a request with a Cookie
(the session interface may refresh it), a test client keeping its contexts, SERVER_NAME, TRUSTED_HOSTS or
host matching, receivers of Flask's request signals, and any app-wide hook it does not know (checked by
name once, at the first request: Flask refuses new hooks after it).  An exception is answered by Flask
itself, in a request context made for the occasion: the same handlers, after-request hooks and forms as
the Flask view's.  ProxyFix, when configured, wraps this middleware, so it sees the corrected environ.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask.ctx import RequestContext
from flask.signals import request_finished, request_started

from spamguard import logs
from spamguard.api import akismet
from spamguard.metrics import count_http

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ENDPOINT = "akismet.comment_check"
# The app-wide hooks whose work this path does itself (by qualified name: the layers above the API
# define them); any other hook sends every request to Flask.
BEFORE_HOOKS = {"spamguard.logs.assign_request_id", "spamguard.metrics_view.start_timer"}
BACKGROUND_HOOK = "spamguard.jobs.maintenance.Maintenance.ensure_started"  # called, not redone
# Flask-WTF's app-wide hook, which returns at once while WTF_CSRF_CHECK_DEFAULT is off (the moderation
# blueprint asks for its own checks: spamguard.moderation.security).
CSRF_HOOK = "flask_wtf.csrf.CSRFProtect.init_app.<locals>.csrf_protect"
AFTER_HOOKS = {"spamguard.metrics_view.count_request", "spamguard.logs.return_request_id"}


def _name(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}"


class CommentCheckFastPath:
    """WSGI middleware in front of Flask's `wsgi_app` (install with `app.wsgi_app = CommentCheckFastPath(app)`)."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication | None = None) -> None:
        self.app = app
        self.wsgi_app: WSGIApplication = wsgi_app or app.wsgi_app
        self.paths = frozenset(rule.rule for rule in app.url_map.iter_rules(ENDPOINT) if "POST" in (rule.methods or ()))
        self._usable: bool | None = None  # decided at the first request
        self._background: list[Callable[[], Any]] = []
        self.served = 0  # requests answered here (tests tell the two paths apart by it)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") not in self.paths
            or "HTTP_COOKIE" in environ
            or "werkzeug.debug.preserve_context" in environ
            or request_started.receivers
            or request_finished.receivers
            or not (self._usable if self._usable is not None else self._decide())
        ):
            return self.wsgi_app(environ, start_response)
        return self.serve(environ, start_response)

    def _decide(self) -> bool:
        """Whether the app's hooks are all ones this path stands in for (and nothing else changes routing)."""
        app = self.app
        before = app.before_request_funcs.get(None, [])
        after = app.after_request_funcs.get(None, [])
        csrf_idle = not app.config.get("WTF_CSRF_ENABLED", True) or not app.config.get("WTF_CSRF_CHECK_DEFAULT", True)
        known_before = {_name(f) for f in before} <= BEFORE_HOOKS | {BACKGROUND_HOOK} | (
            {CSRF_HOOK} if csrf_idle else set()
        )
        self._background = [f for f in before if _name(f) == BACKGROUND_HOOK]
        blueprint = ENDPOINT.split(".")[0]
        self._usable = bool(
            self.paths
            and known_before
            and {_name(f) for f in after} <= AFTER_HOOKS
            and not any(app.teardown_request_funcs.get(k) for k in (None, blueprint))
            and not any(app.before_request_funcs.get(k) or app.after_request_funcs.get(k) for k in (blueprint,))
            and not any(app.url_value_preprocessors.get(k) for k in (None, blueprint))
            and not app.config.get("SERVER_NAME")
            and app.config.get("TRUSTED_HOSTS") is None  # Flask checks the Host against them while routing
            and not app.url_map.host_matching
        )
        return self._usable

    def serve(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app = self.app
        app._got_first_request = True  # as Flask's dispatch does: no set-up methods after the first request
        request = app.request_class(environ)
        request.json_module = app.json  # as Flask's RequestContext sets it
        app_ctx = app.app_context()
        app_ctx.push()
        context_g = app_ctx.g  # this context's `g`, without the proxy's look-up each time
        error: BaseException | None = None
        try:
            request_id = context_g.request_id = logs.request_id_for(environ)
            started = context_g.metrics_started = time.perf_counter()
            try:
                for hook in self._background:
                    hook()
                response = akismet.answer_comment_check(request)
            except Exception as exc:  # Flask's handlers answer it, with Flask's after-request hooks
                response, error = self._flask_error(environ, request, exc)
                self.served += 1
                return response(environ, start_response)
            del context_g.metrics_started
            count_http(environ["PATH_INFO"], "POST", response.status_code, started)
            response.headers[logs.REQUEST_ID_HEADER] = request_id
            self.served += 1
            if type(response.response) is not list:  # not a body built in memory: werkzeug's own way
                return response(environ, start_response)
            # What `response(environ, start_response)` sends for a POST with a body in memory (its
            # Content-Length set with the body), without copying the headers and wrapping the body.
            start_response(response.status, response.headers.to_wsgi_list())
            return response.response
        finally:
            request.close()
            app_ctx.pop(error)

    def _flask_error(self, environ: WSGIEnvironment, request: Any, exc: Exception) -> tuple[Any, Exception | None]:
        """`Flask.full_dispatch_request`'s and `wsgi_app`'s error handling, in a request context on this
        app context (same `g`): (response, the error `wsgi_app` would hand to the contexts' teardown)."""
        app = self.app
        ctx = RequestContext(app, environ, request=request)
        ctx.push()
        error: Exception | None = None
        try:
            try:
                response = app.finalize_request(app.handle_user_exception(exc))
            except Exception as again:
                error = again
                response = app.handle_exception(again)
        finally:
            ctx.pop(error if error is None or not app.should_ignore_error(error) else None)
        return response, error

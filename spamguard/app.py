"""The application factory: the only place where SpamGuard is wired together."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from spamguard import config as settings
from spamguard import logs, metrics_view, storage
from spamguard.logs import configure_logging
from spamguard.metrics import DB_ERRORS
from spamguard.services import Services, install

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

    from spamguard.storage.write_behind import WriteBehind
    from spamguard.storage.write_lock import WriteLock


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key set.

    Flask builds it on every request (the API's too, which carry no cookie), and building it
    serialises a probe value: ≈ 2 % of a comment-check's CPU for an object that never changes
    while the keys stay the same.
    """

    def __init__(self) -> None:
        self._serializer: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def open_session(self, app: Flask, request: Any) -> Any:
        # API calls carry no cookie: skip parsing a Cookie header that is not there (≈ 15 µs a request).
        if "HTTP_COOKIE" not in request.environ and self.get_signing_serializer(app) is not None:
            return self.session_class()
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._serializer
        if cached is None or cached[0] != keys:
            cached = self._serializer = (keys, super().get_signing_serializer(app))
        return cached[1]


class SpamGuardFlask(Flask):
    """Flask, with `ensure_sync`'s answer remembered per function.

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request (eight calls per
    comment-check); SpamGuard has no async views, and a function's answer never changes.
    """

    _SYNC_CACHE_MAX = 4096  # hooks and views are a fixed set; bound methods of short-lived objects are not kept

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Any, Any] = {}

    def ensure_sync(self, func: Any) -> Any:
        try:
            return self._sync[func]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)
        answer = super().ensure_sync(func)
        if len(self._sync) < self._SYNC_CACHE_MAX:
            self._sync[func] = answer
        return answer


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = SpamGuardFlask("spamguard")
    app.session_interface = SessionInterface()
    app.config.update(settings.from_env())
    app.config.update(overrides or {})
    app.config["SECRET_KEY"] = settings.ensure_secret_key(app.config)
    app.config["SPAMGUARD_KEY_SECRET"] = settings.ensure_key_secret(app.config)
    # Werkzeug refuses larger bodies with 413 before any view reads them.
    app.config["MAX_CONTENT_LENGTH"] = app.config["SPAMGUARD_MAX_BODY_BYTES"]
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["SPAMGUARD_MAX_BODY_BYTES"]
    app.config["MAX_FORM_PARTS"] = 2000
    app.config.update(
        # An idle lifetime: the signed cookie is re-issued on every request and refused when older.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["SPAMGUARD_SESSION_IDLE_HOURS"]),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["SPAMGUARD_SECURE_COOKIES"],
        JSON_SORT_KEYS=False,
    )
    configure_logging(app.config["SPAMGUARD_LOG_LEVEL"])
    logs.init_app(app)
    metrics_view.init_app(app)

    storage.init_app(app)
    from spamguard import delivery

    delivery.init_app(app)
    install(app, build_services(app))
    _register_blueprints(app)
    _register_error_handlers(app)
    _wrap_wsgi_app(app)
    return app


def _wrap_wsgi_app(app: Flask) -> None:
    """comment-check's lean dispatch in front of Flask, and ProxyFix (if any) in front of both.

    (Flask's documented way to wrap the WSGI app, which mypy reads as assigning to a method.)"""
    from spamguard.api.fast_path import CommentCheckFastPath

    app.wsgi_app = CommentCheckFastPath(app, app.wsgi_app)  # type: ignore[method-assign]
    # Behind N trusted proxies the client address is the Nth X-Forwarded-For entry from the right,
    # for everything (login throttling, audit, UI); with 0 those headers are ignored.
    hops = app.config["SPAMGUARD_TRUSTED_PROXIES"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]


def build_services(app: Flask) -> Services:
    """Every service with its dependencies passed in: the only place they are wired together."""
    from spamguard.adaptation import Settings as AdaptationSettings
    from spamguard.adaptation import SiteAdapter
    from spamguard.api.site_cache import SiteCache
    from spamguard.checking import CheckService
    from spamguard.gate import CheckGate
    from spamguard.jobs import JobQueue, Maintenance, queue_connection, queue_url
    from spamguard.jobs.heartbeat import WorkerHeartbeat
    from spamguard.jobs.maintenance import build_state
    from spamguard.jobs.retention import CheckRetention
    from spamguard.quota import KeyRateLimiter, Quota
    from spamguard.scoring.model import ModelHolder
    from spamguard.storage.write_lock import WriteLock

    config = app.config
    models = ModelHolder(config["SPAMGUARD_MODEL_DIR"], config["SPAMGUARD_MODEL_RELOAD_SECONDS"])
    models.refresh()  # load now, in each worker, so the first check does not pay for it
    session_factory = app.extensions["spamguard.db"]  # set by storage.init_app
    state = build_state(config, session_factory)
    quota = Quota(
        KeyRateLimiter(state.state, config["SPAMGUARD_RATE_LIMIT_KEY"], state.usage.monthly_policy), state.usage
    )
    write_lock = WriteLock.for_url(config["DATABASE_URL"], config["SPAMGUARD_SQLITE_BUSY_TIMEOUT"])
    maintenance = None
    if config.get("SPAMGUARD_BACKGROUND_TASKS", True):
        maintenance = Maintenance(
            state.usage,
            state.reputation,
            session_factory,
            config["SPAMGUARD_FLUSH_SECONDS"],
            CheckRetention.for_config(config, write_lock),
        )
        # Started on the first request, not here: gunicorn may fork after create_app.
        app.before_request(maintenance.ensure_started)
    checks = CheckService(
        models,
        quota,
        state.reputation,
        CheckGate(state.state, quota, state.reputation),
        discard_trigger=config["SPAMGUARD_DISCARD_TRIGGER"],
        adapter=SiteAdapter(AdaptationSettings.from_config(config), session_factory),
        write_lock=write_lock,
        rows=check_rows(session_factory, write_lock, config["SPAMGUARD_CHECK_WRITE_BEHIND_MS"]),
    )
    return Services(
        db=session_factory,
        models=models,
        state=state.state,
        quota=quota,
        reputation=state.reputation,
        jobs=JobQueue(
            queue_url(config), config["SPAMGUARD_REDIS_PREFIX"], config["SPAMGUARD_MODEL_DIR"], config["DATABASE_URL"]
        ),
        checks=checks,
        site_cache=SiteCache(config["SPAMGUARD_KEY_SECRET"]),
        heartbeat=WorkerHeartbeat(
            queue_connection(queue_url(config), timeout=max(0.2, config["SPAMGUARD_REDIS_TIMEOUT"])),
            config["SPAMGUARD_REDIS_PREFIX"],
            config["SPAMGUARD_WORKER_HEARTBEAT_SECONDS"],
        ),
        maintenance=maintenance,
    )


def check_rows(session_factory: sessionmaker, write_lock: WriteLock | None, interval_ms: int) -> WriteBehind | None:
    """The write-behind buffer of check rows; None when SPAMGUARD_CHECK_WRITE_BEHIND_MS is 0."""
    from spamguard.checking import INSERT_CHECK
    from spamguard.storage.write_behind import WriteBehind

    if interval_ms <= 0:
        return None
    engine = session_factory.kw["bind"]
    return WriteBehind(engine, INSERT_CHECK, interval=interval_ms / 1000, write_lock=write_lock, table="checks")


def _register_blueprints(app: Flask) -> None:
    from spamguard import health, moderation
    from spamguard.api import akismet, json_api, openapi

    for module in (akismet, json_api, openapi, metrics_view, health, moderation):
        app.register_blueprint(module.bp)


def _register_error_handlers(app: Flask) -> None:
    """Errors outside a blueprint's own handlers: short, typed, never a traceback."""

    from spamguard.moderation.errors import html_error_page

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        page = html_error_page(error.code or 500)
        if page is not None:
            response = page
        elif request.path.startswith("/api/"):
            response = jsonify(error={"code": error.name.lower().replace(" ", "_"), "message": error.description})
        else:
            response = Response(error.name, mimetype="text/plain")
        response.status_code = error.code or 500
        for name in ("Allow", "Retry-After"):
            if error.get_response().headers.get(name):
                response.headers[name] = error.get_response().headers[name]
        return response

    def storage_unavailable(error: Exception):
        app.logger.error("database unavailable: %s", error, extra={"path": request.path})
        if request.path.startswith("/api/"):
            response = jsonify(error={"code": "storage_unavailable", "message": "storage temporarily unavailable"})
        else:
            response = Response("Service Unavailable", mimetype="text/plain")
        response.status_code = 503
        response.headers["Retry-After"] = str(storage.UNAVAILABLE_RETRY_AFTER)
        return response

    for error_class in storage.UNAVAILABLE:
        app.register_error_handler(error_class, storage_unavailable)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(error, SQLAlchemyError):
            DB_ERRORS.labels(op="request").inc()
        app.logger.exception("unhandled error", extra={"path": request.path})
        if request.path.startswith("/api/"):
            return jsonify(error={"code": "internal_error", "message": "internal error"}), 500
        return html_error_page(500) or Response("Internal Server Error", status=500, mimetype="text/plain")

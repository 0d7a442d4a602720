"""Structured logs: one JSON object a line (python-json-logger), no comment text or keys at INFO.

The app, `spamguard worker` and gunicorn's own error and access logs all use
the same formatter, so every line has `time`, `level`, `logger` and `message`;
lines written while a request is served also carry its `request_id` (taken
from a sane `X-Request-ID` header or generated, and echoed in the response).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, g, has_app_context, has_request_context, request
from gunicorn.glogging import Logger as GunicornBaseLogger
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"
# Accepted from clients only if short and plain: it is echoed in headers and logs.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        timestamp="time",
        rename_fields={"levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


class RequestContextFilter(logging.Filter):
    """Adds the current request's id to every record logged while serving it (the lean comment-check
    path, `spamguard.api.fast_path`, serves in an app context only: its id is in that context's `g`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_app_context():
            request_id = g.get("request_id")
            if request_id is not None or has_request_context():
                record.request_id = request_id
        return True


def _json_handler(stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestContextFilter())
    return handler


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(_json_handler())
    root.setLevel(level.upper())


def request_id_for(environ: dict[str, Any]) -> str:
    """The request's id: its X-Request-ID when well-formed, else a new one."""
    given = environ.get(_REQUEST_ID_ENVIRON, "")  # the header, without building EnvironHeaders
    return given if _REQUEST_ID_RE.match(given) else os.urandom(16).hex()


def assign_request_id() -> None:
    g.request_id = request_id_for(request.environ)


def return_request_id(response: Response) -> Response:
    if g.get("request_id"):
        response.headers[REQUEST_ID_HEADER] = g.request_id
    return response


def init_app(app: Flask) -> None:
    """Request ids: accepted from X-Request-ID when well-formed, else generated; always returned.
    (Module-level hooks: the lean comment-check path recognises them, and does the same itself.)"""
    app.before_request(assign_request_id)
    app.after_request(return_request_id)


# Built once: json.dumps(..., ensure_ascii=False) builds an encoder per call.
_ACCESS_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _line_encoder() -> Callable[[dict[str, Any]], str]:
    """`_ACCESS_ENCODER.encode`, same text, without building the C encoder again for every line
    (what `JSONEncoder.encode` does each call: half its cost for an access line)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the encoder as it is
        return _ACCESS_ENCODER.encode
    e = _ACCESS_ENCODER
    # The arguments JSONEncoder.iterencode passes (markers=None: an access line's flat dict cannot be circular).
    chunks = make(
        None, e.default, json.encoder.encode_basestring, e.indent, e.key_separator, e.item_separator,
        e.sort_keys, e.skipkeys, e.allow_nan,
    )  # fmt: skip
    return lambda fields: "".join(chunks(fields, 0))


_encode_line = _line_encoder()


def _discards_everything(logger: logging.Logger) -> bool:
    """True when every record `logger` handles goes nowhere: it does not propagate and each of its handlers
    is a NullHandler or a file handler on the null device (there is at least one, so no last-resort handler)."""
    handlers = logger.handlers
    return (
        not logger.propagate
        and bool(handlers)
        and all(
            type(h) is logging.NullHandler
            or (type(h) is logging.FileHandler and not h.filters and h.baseFilename == os.devnull)
            for h in handlers
        )
    )


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's error and access logs as JSON lines (`logger_class` in gunicorn.conf.py).

    Access lines are built from gunicorn's atoms as fields, never by pasting
    them into a JSON-looking format string (a `\\` or `"` in a URL broke that).
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(json_formatter())
        # The access line is the formatter's own output, written straight to plain stream handlers:
        # going through `Logger.info` (a LogRecord, the JSON formatter's field merging) cost ≈ 30 µs a request.
        handlers = self.access_log.handlers
        plain = all(type(h) in (logging.StreamHandler, logging.FileHandler) and not h.filters for h in handlers)
        self._access_streams: list[logging.StreamHandler[Any]] | None = list(handlers) if plain else None
        self._access_discarded = _discards_everything(self.access_log)

    def _write_access(self, fields: dict[str, Any]) -> None:
        streams = self._access_streams
        # A FileHandler opened lazily has no stream yet: the logging module opens it.
        if streams is None or any(h.stream is None for h in streams) or not self.access_log.isEnabledFor(logging.INFO):
            self.access_log.info("request", extra=fields)
            return
        line = _encode_line(
            {
                "level": "INFO",
                "logger": self.access_log.name,
                "message": "request",
                **fields,
                "time": datetime.now(UTC).isoformat(),
            }
        )
        for handler in streams:
            with handler.lock:  # type: ignore[union-attr]  # created by Handler.__init__
                handler.stream.write(line + handler.terminator)
                handler.stream.flush()

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        # `--access-logfile /dev/null` (how the benchmarks turn the access log off) leaves gunicorn's
        # `access_log_enabled` true: the line would be built and written (≈ 9.5 µs a request) for nothing.
        if not self.access_log_enabled or self._access_discarded or not self.access_log.isEnabledFor(logging.INFO):
            return
        try:
            status = resp.status
            status = int(str(status).split(None, 1)[0]) if status else 0
            headers = {name.lower(): value for name, value in (resp.headers or [])}
            fields = {
                "event": "access",
                "remote": environ.get("REMOTE_ADDR", "-"),
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("RAW_URI") or environ.get("PATH_INFO"),
                "protocol": environ.get("SERVER_PROTOCOL"),
                "status": status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
                "user_agent": environ.get("HTTP_USER_AGENT", "")[:256],
                "request_id": headers.get("x-request-id"),
                "guid": headers.get("x-akismet-guid"),
                "verdict": headers.get("x-spamguard-verdict"),
            }
            self._write_access({k: v for k, v in fields.items() if v is not None})
        except Exception:  # a log line must never break a response
            self.error_log.exception("access log failed")

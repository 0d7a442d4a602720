"""Structured logs: one JSON object a line, with the request id of the request being served."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import Flask

from spamguard import logs


@pytest.fixture
def captured():
    """A logger writing through SpamGuard's JSON handler into a buffer."""
    stream = io.StringIO()
    logger = logging.getLogger("spamguard.unit-logs")
    handler = logs._json_handler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_the_standard_fields(captured):
    logger, stream = captured
    logger.warning('naïve "quoted"\nsecond line', extra={"event": "unit", "count": 3})
    [record] = lines(stream)
    assert (record["level"], record["logger"], record["message"]) == (
        "WARNING",
        "spamguard.unit-logs",
        'naïve "quoted"\nsecond line',
    )
    assert record["event"] == "unit" and record["count"] == 3 and record["time"]
    assert "naïve" in stream.getvalue()  # not \\u-escaped


@pytest.fixture
def app(captured):
    logger, _stream = captured
    app = Flask("unit-logs")
    logs.init_app(app)

    @app.get("/log")
    def log_something():
        logger.info("served")
        return "ok"

    return app


def test_a_well_formed_request_id_is_kept_logged_and_echoed(app, captured):
    response = app.test_client().get("/log", headers={"X-Request-ID": "edge-42.a:b"})
    assert response.headers["X-Request-ID"] == "edge-42.a:b"
    assert lines(captured[1])[-1]["request_id"] == "edge-42.a:b"


@pytest.mark.parametrize("given", ["x" * 129, "has space", "tab\there", "<script>", "é", ""])
def test_any_other_request_id_is_replaced_by_a_generated_one(app, captured, given):
    response = app.test_client().get("/log", headers={"X-Request-ID": given} if given else {})
    generated = response.headers["X-Request-ID"]
    assert generated != given and len(generated) == 32 and int(generated, 16) >= 0
    assert lines(captured[1])[-1]["request_id"] == generated


def test_outside_a_request_there_is_no_request_id(captured):
    logger, stream = captured
    logger.info("background")
    assert "request_id" not in lines(stream)[-1]


def access_line(tmp_path, handler_setup=None) -> dict:
    """One access line written by GunicornLogger to a log file (optionally with a handler changed first)."""
    import datetime
    import types

    from gunicorn.config import Config

    tmp_path.mkdir()
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    logger = logs.GunicornLogger(cfg)
    if handler_setup is not None:
        handler_setup(logger)
    response = types.SimpleNamespace(
        status="200 OK", headers=[("X-Request-ID", "req-1"), ("X-Akismet-Guid", "abc")], sent=5
    )
    environ = {"REMOTE_ADDR": "192.0.2.1", "REQUEST_METHOD": "POST", "RAW_URI": '/a"\\é', "SERVER_PROTOCOL": "HTTP/1.1"}
    logger.access(response, None, environ, datetime.timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.close()
    (line,) = (tmp_path / "access.log").read_text(encoding="utf-8").splitlines()
    return json.loads(line)


def test_the_direct_access_line_is_what_the_json_formatter_writes(tmp_path):
    direct = access_line(tmp_path / "direct")

    def through_logging(logger):  # as with a handler that is not a plain stream: Logger.info and the formatter
        logger._access_streams = None

    formatted = access_line(tmp_path / "formatted", through_logging)
    assert list(direct) == list(formatted)  # same fields, same order
    assert {k: v for k, v in direct.items() if k != "time"} == {k: v for k, v in formatted.items() if k != "time"}
    assert direct["path"] == '/a"\\é' and direct["status"] == 200 and direct["request_id"] == "req-1"
    assert direct["logger"] == "gunicorn.access" and direct["level"] == "INFO" and direct["message"] == "request"


def test_the_access_line_encoder_writes_what_json_encoder_writes():
    fields = {
        "level": "INFO",
        "path": '/a"\\é\u2028\x00\n',
        "status": 200,
        "bytes": None,
        "duration_ms": 1.25,
        "odd": float("nan"),
        "flag": True,
        "big": 10**20,
        "list": [1, "x"],
    }
    assert logs._encode_line(fields) == json.JSONEncoder(ensure_ascii=False).encode(fields)


def gunicorn_logger(accesslog: str, tmp_path):
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("accesslog", accesslog)
    cfg.set("errorlog", str(tmp_path / "error.log"))
    return logs.GunicornLogger(cfg)


def built_lines(logger) -> list[dict]:
    """Access lines `logger` builds for one request (counted where the line would be written)."""
    import datetime
    import types

    built: list[dict] = []
    logger._write_access = built.append
    response = types.SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "req-1")], sent=5)
    environ = {"REMOTE_ADDR": "192.0.2.1", "REQUEST_METHOD": "POST", "RAW_URI": "/1.1/comment-check"}
    logger.access(response, None, environ, datetime.timedelta(milliseconds=3))
    return built


def test_an_access_log_to_the_null_device_builds_no_line(tmp_path, monkeypatch):
    """`--access-logfile /dev/null` leaves gunicorn's access_log_enabled true; nothing is built for it."""
    import os

    # Only gunicorn's own handler (other tests' capture handlers may still be on the shared logger).
    monkeypatch.setattr(logging.getLogger("gunicorn.access"), "handlers", [])
    logger = gunicorn_logger(os.devnull, tmp_path)
    assert logger.access_log_enabled and built_lines(logger) == []
    written = gunicorn_logger(str(tmp_path / "access.log"), tmp_path)
    assert [line["path"] for line in built_lines(written)] == ["/1.1/comment-check"]
    written.access_log.setLevel(logging.WARNING)  # not enabled for INFO: nothing built either
    assert built_lines(written) == []
    for each in (logger, written):
        for handler in each.access_log.handlers + each.error_log.handlers:
            handler.close()


def test_a_logger_discards_everything_only_when_no_handler_writes_anywhere(tmp_path):
    import os

    logger = logging.getLogger("spamguard.unit-logs.discard")
    logger.propagate = False
    null_file = logging.FileHandler(os.devnull, delay=True)
    real_file = logging.FileHandler(tmp_path / "real.log", delay=True)
    try:
        assert not logs._discards_everything(logger)  # no handler: the last-resort handler may write
        for handlers, expected in (
            ([logging.NullHandler()], True),
            ([null_file], True),
            ([null_file, logging.NullHandler()], True),
            ([null_file, real_file], False),
            ([logging.StreamHandler(io.StringIO())], False),
        ):
            logger.handlers = handlers
            assert logs._discards_everything(logger) is expected, handlers
        logger.handlers = [null_file]
        null_file.addFilter(lambda record: True)  # a filter may act on the record: it is not discarded
        assert not logs._discards_everything(logger)
        null_file.filters.clear()
        logger.propagate = True  # an ancestor's handlers may write it
        assert not logs._discards_everything(logger)
    finally:
        logger.handlers = []
        null_file.close()
        real_file.close()

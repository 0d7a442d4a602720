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

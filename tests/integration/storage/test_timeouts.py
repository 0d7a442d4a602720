"""Storage fails fast and says so (issue 8 item 6).

A PostgreSQL "server" that accepts TCP connections and never answers (a socket
that listens and never reads), and a SQLite file locked by another writer: every
Akismet call answers an error within the configured timeouts, never a verdict
and never "Thanks"; the JSON API answers 503 JSON.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import uuid

import pytest
from sqlalchemy import text

from spamguard import sites, storage
from spamguard.app import create_app

COMMENT = {
    "blog": "https://blog.example",
    "user_ip": "203.0.113.9",
    "comment_type": "comment",
    "comment_content": "Great post, thanks for writing it up.",
}
GENEROUS = 20.0  # seconds; only so that old code fails instead of hanging the suite (its wait was 130 s)


@pytest.fixture
def silent_postgres():
    """A TCP listener that completes handshakes (kernel backlog) but never accepts or reads."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"postgresql+psycopg://postgres@127.0.0.1:{listener.getsockname()[1]}/nowhere"
    listener.close()  # any client still waiting (old code) gets a reset and ends


def answer_within(client, method: str, path: str, **kwargs):
    """The response, or None when none arrived within GENEROUS seconds."""
    box = []
    thread = threading.Thread(target=lambda: box.append(getattr(client, method)(path, **kwargs)), daemon=True)
    thread.start()
    thread.join(GENEROUS)
    return box[0] if box else None


def app_on(database_url: str, redis_url: str, redis_prefix: str, **overrides):
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
        "SECRET_KEY": "test-secret",
        "SPAMGUARD_BACKGROUND_TASKS": False,
    }
    config.update(overrides)
    return create_app(config)


def test_unreachable_postgres_answers_errors_not_verdicts(silent_postgres, model_dir, redis_url, redis_prefix, caplog):
    app = app_on(
        silent_postgres, redis_url, redis_prefix, SPAMGUARD_MODEL_DIR=str(model_dir), SPAMGUARD_DB_CONNECT_TIMEOUT=1.0
    )  # libpq's floor makes it 2 s
    client = app.test_client()
    fields = dict(COMMENT, api_key="0123456789ab")

    check = answer_within(client, "post", "/1.1/comment-check", data=fields)
    assert check is not None, "comment-check hung on an unreachable database"
    assert check.status_code == 503
    assert check.get_data(as_text=True) not in ("true", "false")  # WordPress holds the comment and rechecks
    assert "unavailable" in check.headers["X-akismet-debug-help"].lower()
    assert check.headers["Retry-After"]
    # It ended because the configured connect timeout expired, not because of some other error.
    assert "timeout expired" in caplog.text

    for endpoint in ("submit-spam", "submit-ham"):
        report = answer_within(client, "post", f"/1.1/{endpoint}", data=fields)
        assert report is not None, f"{endpoint} hung"
        assert report.status_code == 503 and "Thanks" not in report.get_data(as_text=True)
        assert report.headers["X-akismet-debug-help"]

    api = answer_within(client, "post", "/api/v1/check", json=fields)
    assert api is not None and api.status_code == 503
    assert api.json["error"]["code"] == "storage_unavailable" and api.headers["Retry-After"]


def test_locked_sqlite_answers_an_error_after_the_busy_timeout(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    # Rows written in the request: test_write_behind.py covers a lock met by the write-behind buffer.
    app = make_app(url, SPAMGUARD_SQLITE_BUSY_TIMEOUT=1.0, SPAMGUARD_CHECK_WRITE_BEHIND_MS=0)
    with app.app_context():
        _site, key = sites.create_site(
            storage.get_session(), COMMENT["blog"], secret=app.config["SPAMGUARD_KEY_SECRET"]
        )
    client = app.test_client()
    fields = dict(COMMENT, api_key=key)
    assert client.post("/1.1/comment-check", data=fields).get_data(as_text=True) in ("true", "false")

    writer = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock (e.g. a long migration)
    try:
        check = answer_within(client, "post", "/1.1/comment-check", data=fields)
        assert check is not None and check.status_code == 503
        assert check.get_data(as_text=True) not in ("true", "false") and check.headers["X-akismet-debug-help"]
        report = answer_within(client, "post", "/1.1/submit-spam", data=fields)
        assert report is not None and report.status_code == 503
        assert "Thanks" not in report.get_data(as_text=True)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert client.post("/1.1/submit-spam", data=fields).get_data(as_text=True).startswith("Thanks")


def test_postgres_statement_timeout_cancels_a_slow_statement(pg_url):
    engine = storage.make_engine(pg_url, storage.Timeouts(statement=1.0))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "1s"
            with pytest.raises(storage.UNAVAILABLE, match="statement timeout"):
                connection.execute(text("SELECT pg_sleep(30)"))
    finally:
        engine.dispose()


def test_timeouts_come_from_settings():
    from spamguard import config

    values = config.from_env(
        {
            "SPAMGUARD_DB_CONNECT_TIMEOUT": "3",
            "SPAMGUARD_DB_STATEMENT_TIMEOUT": "0",
            "SPAMGUARD_DB_POOL_TIMEOUT": "1.5",
            "SPAMGUARD_SQLITE_BUSY_TIMEOUT": "4",
        }
    )
    timeouts = storage.Timeouts.from_config(values)
    assert timeouts == storage.Timeouts(connect=3.0, statement=0.0, pool=1.5, sqlite_busy=4.0)
    assert storage.connect_args("postgresql+psycopg://h/db", timeouts) == {"connect_timeout": 3}
    assert storage.connect_args("sqlite:///x.db", timeouts)["timeout"] == 4.0
    assert config.from_env({})["SPAMGUARD_SQLITE_BUSY_TIMEOUT"] < 30  # below gunicorn's worker timeout

"""The application factory: settings, error forms and the proxy fix, on SQLite and no Redis.

create_app builds its Redis clients lazily, so nothing here connects to Redis (the unit tier's guard
would fail the test); the app has no model (an empty registry) and no database schema, which these
tests do not need. Checks that go through the API's rate limits need a `memory://` backend.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy.exc
from flask import request
from prometheus_client import REGISTRY

from spamguard.app import create_app
from spamguard.storage import UNAVAILABLE_RETRY_AFTER


@pytest.fixture
def build(tmp_path):
    def factory(**overrides):
        config = {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "SPAMGUARD_MODEL_DIR": str(tmp_path / "models"),
            "SECRET_KEY": "unit-secret",
            "SPAMGUARD_KEY_SECRET": "unit-key-secret",
            "SPAMGUARD_BACKGROUND_TASKS": False,
        }
        config.update(overrides)
        return create_app(config)

    return factory


def add_route(app, path, view):
    app.add_url_rule(path, endpoint=path, view_func=view, methods=["GET", "POST"])


# -- settings ---------------------------------------------------------------------------------------------


def test_overrides_win_over_the_environment_and_derive_the_flask_settings(build, monkeypatch):
    monkeypatch.setenv("SPAMGUARD_MAX_BODY_BYTES", "999")
    monkeypatch.setenv("SPAMGUARD_SESSION_IDLE_HOURS", "3")
    app = build(SPAMGUARD_MAX_BODY_BYTES=4096, SPAMGUARD_SECURE_COOKIES=True)
    assert app.config["MAX_CONTENT_LENGTH"] == app.config["MAX_FORM_MEMORY_SIZE"] == 4096
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=3)  # from the environment
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SECRET_KEY"] == "unit-secret" and app.config["SPAMGUARD_KEY_SECRET"] == "unit-key-secret"


def test_unset_secrets_are_generated_once_and_kept(build, monkeypatch, tmp_path):
    from spamguard import config

    monkeypatch.setattr(config, "VAR_DIR", tmp_path / "var")
    first = build(SECRET_KEY="", SPAMGUARD_KEY_SECRET="")
    second = build(SECRET_KEY="", SPAMGUARD_KEY_SECRET="")
    assert len(first.config["SECRET_KEY"]) == 64 and first.config["SECRET_KEY"] != first.config["SPAMGUARD_KEY_SECRET"]
    assert (second.config["SECRET_KEY"], second.config["SPAMGUARD_KEY_SECRET"]) == (
        first.config["SECRET_KEY"],
        first.config["SPAMGUARD_KEY_SECRET"],
    )
    assert (tmp_path / "var" / "secret_key").read_text() == first.config["SECRET_KEY"]


def test_a_body_over_the_limit_is_refused_before_the_view_reads_it(build):
    app = build(SPAMGUARD_MAX_BODY_BYTES=100)
    seen = []
    add_route(app, "/api/echo", lambda: seen.append(request.get_data()) or "read")
    response = app.test_client().post("/api/echo", data=b"x" * 101, content_type="application/octet-stream")
    assert response.status_code == 413 and response.json["error"]["code"] == "request_entity_too_large"
    assert seen == []


# -- error forms: JSON under /api/, plain text for machines, HTML for people -----------------------------


def test_http_errors_under_api_are_json(build):
    response = build().test_client().get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.json["error"]["code"] == "not_found" and response.json["error"]["message"]


def test_http_errors_for_machines_are_plain_text_and_keep_allow(build):
    response = build().test_client().get("/1.1/verify-key")  # POST only
    assert response.status_code == 405 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "Method Not Allowed"
    assert "POST" in response.headers["Allow"]


def test_http_errors_for_a_browser_are_an_html_page_without_a_traceback(build):
    response = build().test_client().get("/moderation/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Page not found" in page and "Traceback" not in page
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path, mimetype", [("/api/boom", "application/json"), ("/1.1/boom", "text/plain")])
def test_an_unreachable_database_is_a_503_with_retry_after(build, path, mimetype):
    app = build()

    def boom():
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    add_route(app, path, boom)
    response = app.test_client().get(path)
    assert response.status_code == 503 and response.mimetype == mimetype
    assert response.headers["Retry-After"] == str(UNAVAILABLE_RETRY_AFTER)
    if mimetype == "application/json":
        assert response.json["error"]["code"] == "storage_unavailable"
    assert "connection refused" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path, mimetype, body",
    [
        ("/api/boom", "application/json", '{"error":{"code":"internal_error","message":"internal error"}}'),
        ("/1.1/boom", "text/plain", "Internal Server Error"),
        ("/moderation/boom", "text/html", "Something went wrong"),
    ],
)
def test_an_unexpected_error_is_a_short_500_in_the_path_s_form(build, path, mimetype, body, caplog):
    app = build()

    def boom():
        raise RuntimeError("secret detail")

    add_route(app, path, boom)
    response = app.test_client().get(path, headers={"Accept": "text/html"})
    text = response.get_data(as_text=True)
    assert response.status_code == 500 and response.mimetype == mimetype
    if mimetype == "application/json":
        assert json.loads(text) == json.loads(body)
    else:
        assert body in text
    assert "secret detail" not in text and "Traceback" not in text
    assert any(r.getMessage() == "unhandled error" for r in caplog.records)  # logged, not shown


def test_a_database_error_that_is_not_unavailability_counts_in_the_metrics(build):
    app = build()

    def boom():
        raise sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate"))

    add_route(app, "/api/boom", boom)
    before = REGISTRY.get_sample_value("spamguard_db_errors_total", {"op": "request"}) or 0.0
    assert app.test_client().get("/api/boom").status_code == 500
    assert REGISTRY.get_sample_value("spamguard_db_errors_total", {"op": "request"}) == before + 1


# -- reverse proxies ---------------------------------------------------------------------------------------


def client_view():
    return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}


@pytest.mark.parametrize(
    "hops, expected_addr, expected_scheme",
    [
        (0, "127.0.0.1", "http"),  # no trusted proxy: the headers are ignored
        (1, "198.51.100.7", "https"),  # the nearest proxy's entry (the rightmost)
        (2, "203.0.113.9", "https"),  # two hops: the second entry from the right
    ],
)
def test_forwarded_headers_are_believed_for_the_configured_hops_only(build, hops, expected_addr, expected_scheme):
    app = build(SPAMGUARD_TRUSTED_PROXIES=hops)
    add_route(app, "/api/whoami", client_view)
    response = app.test_client().get(
        "/api/whoami",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
        headers={
            "X-Forwarded-For": "192.0.2.1, 203.0.113.9, 198.51.100.7",
            "X-Forwarded-Proto": "https, https",
            "X-Forwarded-Host": "evil.example",
        },
    )
    assert response.json["addr"] == expected_addr and response.json["scheme"] == expected_scheme
    assert response.json["host"] == "localhost"  # X-Forwarded-Host is never believed

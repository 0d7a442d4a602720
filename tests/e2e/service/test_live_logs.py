"""Through real gunicorn: every log line is one JSON object, request ids flow, metrics add up across workers."""

from __future__ import annotations

import json
import socket
import uuid

import httpx
import pytest
from live_server import LiveServer
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow

SECRET = "live-key-secret"  # the key HMAC secret: the same for the CLI-side key and every server


@pytest.fixture
def live(tmp_path, model_dir, redis_url, redis_prefix):
    from spamguard import sites, storage

    database_url = f"sqlite:///{tmp_path / 'live.db'}"
    storage.upgrade(database_url)
    with storage.make_sessionmaker(database_url)() as session:
        _site, key = sites.create_site(session, "https://blog.example", secret=SECRET)
    env = {
        "DATABASE_URL": database_url,
        "SPAMGUARD_MODEL_DIR": str(model_dir),
        "REDIS_URL": redis_url,
        "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
        "SECRET_KEY": "live",
        "SPAMGUARD_VAR_DIR": str(tmp_path),
        "SPAMGUARD_KEY_SECRET": SECRET,
    }
    server = LiveServer(env, tmp_path).wait_ready()
    try:
        yield server, key
    finally:
        server.stop()


def raw_get(port: int, target: str) -> bytes:
    """A request line httpx would normalise: sent byte for byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        return sock.recv(65536)


def test_logs_are_json_lines_with_request_ids_and_check_fields(live):
    server, key = live
    check = httpx.post(
        f"{server.url}/1.1/comment-check",
        headers={"X-Request-ID": "req-check-1"},
        data={
            "api_key": key,
            "blog": "https://blog.example",
            "user_ip": "203.0.113.7",
            "comment_content": "subscribe to my channel please!! check out my videos",
        },
    )
    guid = check.headers["X-akismet-guid"]
    assert check.headers["X-Request-ID"] == "req-check-1"
    assert raw_get(server.port, '/a\\b"c?x=\\u0022').startswith(b"HTTP/1.1 404")
    generated = httpx.get(f"{server.url}/healthz").headers["X-Request-ID"]
    httpx.get(f"{server.url}/metrics")
    server.stop()  # flushes and closes the log

    lines = [line for line in server.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, gunicorn's own included, is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)

    access = [r for r in records if r.get("event") == "access"]
    by_path = {r["path"]: r for r in access}
    assert by_path['/a\\b"c?x=\\u0022']["status"] == 404
    assert by_path["/1.1/comment-check"]["request_id"] == "req-check-1"
    assert by_path["/1.1/comment-check"]["guid"] == guid and by_path["/1.1/comment-check"]["duration_ms"] >= 0
    assert by_path["/healthz"]["request_id"] == generated

    checks = [r for r in records if r.get("event") == "check"]
    assert len(checks) == 1
    assert checks[0]["guid"] == guid and checks[0]["site"] == 1 and checks[0]["request_id"] == "req-check-1"
    assert checks[0]["verdict"] in ("spam", "discard") and checks[0]["latency_ms"] > 0


def test_metrics_add_up_over_gunicorn_workers(live):
    server, key = live
    for i in range(8):
        httpx.post(
            f"{server.url}/1.1/comment-check",
            data={
                "api_key": key,
                "blog": "https://blog.example",
                "user_ip": f"203.0.113.{i}",
                "comment_content": f"hello there number {i}",
            },
        )
    text = httpx.get(f"{server.url}/metrics").text
    got = {}
    pids = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "spamguard_process_resident_memory_bytes":
                pids.add(sample.labels["pid"])
            got[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    requests = got[
        ("spamguard_http_requests_total", (("endpoint", "/1.1/comment-check"), ("method", "POST"), ("status", "200")))
    ]
    assert requests == 8
    assert sum(v for (name, labels), v in got.items() if name == "spamguard_checks_total") == 8
    assert pids  # per-process gauges carry the worker pid
    assert got[("spamguard_model_loaded", ())] == 1

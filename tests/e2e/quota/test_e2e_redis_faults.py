"""End to end: 2 gunicorn workers on a private Redis; shared limits; Redis killed and restarted mid-traffic."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[3]
THANKS = "Thanks for making the web a better place."

pytestmark = pytest.mark.slow

KEY_SECRET = "e2e-key-secret"  # the server and the in-process key creation must agree


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:
            pass
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s")


class PrivateRedis:
    def __init__(self, tmp: Path):
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: redis.Redis.from_url(self.url).ping(), 10)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def db(pg_url):
    from spamguard import storage

    storage.upgrade(pg_url)
    return pg_url, storage.make_sessionmaker(pg_url)


def new_site(sessionmaker, url: str, rate_limit: str | None = None) -> tuple[int, str]:
    from spamguard import sites

    with sessionmaker() as session:
        site, key = sites.create_site(session, url, secret=KEY_SECRET)
        site.rate_limit = rate_limit
        session.commit()
        return site.id, key


@pytest.fixture
def server(private_redis, db, model_dir, tmp_path):
    pg_url, _ = db
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=pg_url,
        REDIS_URL=private_redis.url,
        SPAMGUARD_KEY_SECRET=KEY_SECRET,
        SPAMGUARD_REDIS_PREFIX=f"sgtest:{uuid.uuid4().hex}:",
        SPAMGUARD_MODEL_DIR=str(model_dir),
        SPAMGUARD_FLUSH_SECONDS="1",
        SPAMGUARD_VAR_DIR=str(tmp_path),
        SECRET_KEY="e2e",
        SPAMGUARD_LOG_LEVEL="WARNING",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "spamguard.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200, 60, 0.2)
        yield type("Server", (str,), {"log": tmp_path / "gunicorn.log"})(base)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def check(base: str, key: str, n: int, ip: str = "192.0.2.1") -> httpx.Response:
    # A new connection per call, so gunicorn spreads calls over both workers.
    return httpx.post(
        f"{base}/1.1/comment-check",
        timeout=5,
        headers={"Connection": "close"},
        data={
            "api_key": key,
            "blog": "https://e2e.example",
            "user_ip": ip,
            "comment_content": f"comment number {n}, nice post {uuid.uuid4().hex[:6]}",
        },
    )


def submit(base: str, key: str, label: str, n: int) -> httpx.Response:
    return httpx.post(
        f"{base}/1.1/submit-{label}",
        timeout=5,
        headers={"Connection": "close"},
        data={
            "api_key": key,
            "blog": "https://e2e.example",
            "user_ip": f"203.0.113.{n % 250 + 1}",
            "comment_content": f"report {n} http://campaign{n % 3}.example/x",
        },
    )


def refused(resp: httpx.Response) -> bool:
    return resp.status_code == 200 and resp.text == "false" and resp.headers.get("X-akismet-alert-code") == "10508"


def test_limit_is_shared_by_both_workers(server, db):
    _, sm = db
    _, key = new_site(sm, "https://limited.example", "20/hour")
    answers = [check(server, key, i) for i in range(40)]
    assert all(a.status_code == 200 and a.text in ("true", "false") for a in answers)
    assert sum(not refused(a) for a in answers) == 20
    assert all(refused(a) for a in answers[20:])
    assert int(answers[-1].headers["Retry-After"]) > 0


def redis_seen(base: str, ok: bool, in_a_row: int = 10) -> bool:
    """True once `in_a_row` fresh connections (spread over both workers) all report Redis as `ok` or not.
    /readyz goes through the workers' circuit breaker, so this also says their breakers agree."""
    return all(
        httpx.get(f"{base}/readyz", timeout=5, headers={"Connection": "close"}).json()["checks"]["redis"]["ok"] is ok
        for _ in range(in_a_row)
    )


def test_redis_kill_and_restart_under_traffic(server, db, private_redis):
    from spamguard.storage.models import Feedback

    _, sm = db
    site_id, key = new_site(sm, "https://busy.example")
    failed_checks, failed_submits = [], []
    checks = submits = n = 0

    def traffic(calls: int, phase: str) -> None:
        # Counted calls per phase, not seconds: a loaded machine only makes each phase slower.
        nonlocal checks, submits, n
        for _ in range(calls):
            n += 1
            if n % 4 == 0:
                submits += 1
                resp = submit(server, key, "spam" if n % 8 == 0 else "ham", n)
                if resp.status_code != 200 or resp.text != THANKS:
                    failed_submits.append((phase, n, resp.status_code, resp.text[:80]))
            else:
                checks += 1
                try:
                    resp = check(server, key, n)
                    ok = resp.status_code == 200 and resp.text in ("true", "false") and "X-akismet-guid" in resp.headers
                except httpx.HTTPError as exc:
                    ok, resp = False, exc
                if not ok:
                    failed_checks.append((phase, n, getattr(resp, "status_code", resp)))

    traffic(60, "before")
    private_redis.kill()
    wait_for(lambda: redis_seen(server, ok=False), 30)  # both workers have noticed the outage
    traffic(80, "outage")
    private_redis.start()
    wait_for(lambda: redis_seen(server, ok=True), 30)  # ...and that Redis is back
    traffic(60, "after")
    assert (checks, submits) == (150, 50)
    assert failed_checks == []
    assert failed_submits == []

    with sm() as session:
        stored = session.scalar(select(func.count(Feedback.id)).where(Feedback.site_id == site_id))
        assert stored == submits  # no lost submit-spam/submit-ham

    # The background catch-up replays whatever Redis missed while it was down.
    def all_synced():
        with sm() as session:
            return (
                session.scalar(
                    select(func.count(Feedback.id)).where(Feedback.site_id == site_id, Feedback.redis_synced.is_(False))
                )
                == 0
            )

    wait_for(all_synced, 20, 0.5)
    log = server.log.read_text()
    assert '"event": "redis_unavailable"' in log  # the outage was seen, logged, and failed open
    assert "Traceback" not in log

    # Limits are enforced again after the restart (fresh Redis, fresh counters).
    _, limited_key = new_site(sm, "https://after-restart.example", "10/hour")
    answers = [check(server, limited_key, i) for i in range(20)]
    assert sum(not refused(a) for a in answers) == 10

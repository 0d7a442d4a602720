"""Liveness, readiness and the worker heartbeat, against real Redis and real databases."""

from __future__ import annotations

import redis

from spamguard.jobs.heartbeat import WorkerHeartbeat


def heartbeat(app, clock=None, name="host-a:1"):
    kwargs = {"clock": clock} if clock else {}
    return WorkerHeartbeat(
        redis.Redis.from_url(app.config["REDIS_URL"]),
        app.config["SPAMGUARD_REDIS_PREFIX"],
        interval=10,
        name=name,
        **kwargs,
    )


def test_ready_needs_database_and_model_and_reports_worker(app, client):
    body = client.get("/readyz")
    assert body.status_code == 200
    data = body.get_json()
    assert data["status"] == "degraded"  # no worker yet: verdicts are fine, retrains would wait
    assert data["checks"]["database"]["ok"] and data["checks"]["redis"]["ok"]
    assert data["checks"]["model"]["version"] and data["checks"]["model"]["age_seconds"] >= 0
    assert data["checks"]["worker"] == {"ok": False, "alive": 0, "last_seen_seconds": None}

    heartbeat(app).beat()
    data = client.get("/readyz").get_json()
    assert data["status"] == "ready" and data["checks"]["worker"]["alive"] == 1


def test_a_worker_that_stopped_beating_counts_as_down(app):
    now = [1_000_000.0]
    beats = heartbeat(app, clock=lambda: now[0])
    beats.beat()
    assert set(beats.alive()) == {"host-a:1"}
    now[0] += 3 * 10 - 1
    assert set(beats.alive()) == {"host-a:1"}
    now[0] += 2  # three beats missed
    assert beats.alive() == {} and beats.last_seen() == 31.0
    beats.beat()
    beats.stop()  # a worker that exits cleanly leaves at once
    assert beats.alive() == {}


def test_not_ready_without_a_model_but_still_alive(make_app, tmp_path):
    app = make_app(SPAMGUARD_MODEL_DIR=str(tmp_path / "empty-registry"))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "not_ready" and not ready.get_json()["checks"]["model"]["ok"]
    assert client.get("/healthz").status_code == 200


def test_not_ready_when_the_database_is_unreachable(make_app, tmp_path):
    app = make_app()
    # A port nothing listens on: every query fails to connect.
    from spamguard import storage
    from spamguard.services import override

    override(app, db=storage.make_sessionmaker("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert 'spamguard_db_errors_total{op="readyz"}' in client.get("/metrics").get_data(as_text=True)


def test_redis_down_is_degraded_not_unready(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:9/0")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200
    data = ready.get_json()
    assert data["status"] == "degraded" and not data["checks"]["redis"]["ok"]
    assert data["checks"]["worker"]["ok"] is False and data["checks"]["worker"]["alive"] is None


def test_worker_health_command_sees_only_this_hosts_worker(app, monkeypatch):
    import os
    import socket

    from click.testing import CliRunner

    from spamguard.cli import cli

    env = {
        "REDIS_URL": app.config["REDIS_URL"],
        "SPAMGUARD_REDIS_PREFIX": app.config["SPAMGUARD_REDIS_PREFIX"],
        "SPAMGUARD_ENV_FILE": os.devnull,
    }
    heartbeat(app, name="some-other-host:7").beat()
    down = CliRunner().invoke(cli, ["worker-health"], env=env)
    assert down.exit_code == 1 and "no worker on" in down.output
    heartbeat(app, name=f"{socket.gethostname()}:123").beat()
    up = CliRunner().invoke(cli, ["worker-health"], env=env)
    assert up.exit_code == 0 and "worker alive" in up.output


def test_worker_command_beats_while_it_runs(app):
    """`spamguard worker --burst` registers a heartbeat while it runs and removes it when it exits."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "REDIS_URL": app.config["REDIS_URL"],
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SPAMGUARD_REDIS_PREFIX": app.config["SPAMGUARD_REDIS_PREFIX"],
        "SPAMGUARD_ENV_FILE": os.devnull,
        "SPAMGUARD_MODEL_DIR": app.config["SPAMGUARD_MODEL_DIR"],
    }
    code = (
        "import spamguard.jobs.heartbeat as h, sys\n"
        "seen = []\n"
        "orig = h.WorkerHeartbeat.beat\n"
        "def beat(self):\n"
        "    orig(self); seen.append(sorted(self.alive()))\n"
        "h.WorkerHeartbeat.beat = beat\n"
        "from spamguard.cli import cli\n"
        "try:\n"
        "    cli(['worker', '--burst'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('SEEN', len(seen[0]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "SEEN 1" in proc.stdout, proc.stderr[-2000:]
    assert heartbeat(app).alive() == {}  # left on exit

"""Liveness (/healthz), readiness (/readyz) and the background worker's heartbeat.

/healthz only says the process answers HTTP: a load balancer or orchestrator
that restarts on failure must not restart every web worker because Redis blinked.
/readyz says whether this instance can give *correct* verdicts now: the
database answers (checks are stored before they are answered) and a model is
loaded.  Redis and the worker are reported but do not make it 503: limits and
reputation fail open without Redis, and a missing worker only delays retrains
and the usage flush.

The worker heartbeat is one sorted set in Redis (`<prefix>workers`, member
`host:pid`, score = last beat), so any instance, the admin page and /metrics
see every worker on every host, and Redis Cluster needs no multi-key command.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

MISSED_BEATS = 3  # a worker counts as down after this many missed heartbeats


class WorkerHeartbeat:
    """Writes (`beat`) and reads (`alive`) worker heartbeats; `clock` is injectable for tests."""

    def __init__(self, client, prefix: str, interval: float = 10.0, clock: Callable[[], float] = time.time,
                 name: str | None = None) -> None:
        self.client = client
        self.key = f"{prefix}workers"
        self.interval = float(interval)
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()

    @property
    def max_age(self) -> float:
        return self.interval * MISSED_BEATS

    def beat(self) -> None:
        now = self.clock()
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.key, {self.name: now})
        pipe.zremrangebyscore(self.key, "-inf", now - 10 * self.max_age)  # forget long-dead workers
        pipe.execute()

    def leave(self) -> None:
        self.client.zrem(self.key, self.name)

    def alive(self) -> dict[str, float]:
        """{worker name: seconds since its last beat} for workers seen within `max_age`."""
        now = self.clock()
        rows = self.client.zrangebyscore(self.key, now - self.max_age, "+inf", withscores=True)
        return {(name.decode() if isinstance(name, bytes) else name): round(now - score, 1) for name, score in rows}

    def last_seen(self) -> float | None:
        """Seconds since any worker's last beat (None: never seen, or forgotten)."""
        rows = self.client.zrevrange(self.key, 0, 0, withscores=True)
        return round(self.clock() - rows[0][1], 1) if rows else None

    def _beat_logged(self) -> None:
        try:
            self.beat()
        except Exception as exc:  # Redis trouble is logged, never fatal to the worker
            log.warning("worker heartbeat failed", extra={"event": "heartbeat_error", "error": type(exc).__name__})

    def start(self) -> threading.Thread:
        """Beat once now (the worker is visible as soon as it starts), then every `interval` in a thread."""
        self._beat_logged()
        self._thread = threading.Thread(target=self._run, name="spamguard-heartbeat", daemon=True)
        self._thread.start()
        return self._thread

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat_logged()

    def stop(self) -> None:
        """Stop beating and leave at once (a clean exit is not reported as a dead worker for 3 intervals)."""
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout=5)
        try:
            self.leave()
        except Exception:
            pass


def heartbeat_for(app) -> WorkerHeartbeat:
    heartbeat = app.extensions.get("spamguard.heartbeat")
    if heartbeat is None:
        from spamguard.limits.jobs import queue_connection, queue_url

        c = app.config
        heartbeat = WorkerHeartbeat(queue_connection(queue_url(c), timeout=max(0.2, c["SPAMGUARD_REDIS_TIMEOUT"])),
                                    c["SPAMGUARD_REDIS_PREFIX"], c["SPAMGUARD_WORKER_HEARTBEAT_SECONDS"])
        app.extensions["spamguard.heartbeat"] = heartbeat
    return heartbeat


def worker_status(app) -> dict[str, Any]:
    """{"ok", "alive": n, "last_seen_seconds"} or {"ok": False, "error"} when Redis cannot tell."""
    heartbeat = heartbeat_for(app)
    try:
        alive = heartbeat.alive()
        last = min(alive.values()) if alive else heartbeat.last_seen()
    except Exception as exc:
        return {"ok": False, "alive": None, "error": type(exc).__name__}
    return {"ok": bool(alive), "alive": len(alive), "last_seen_seconds": last}


def model_status(app) -> dict[str, Any]:
    scorer = loaded_scorer(app)
    if scorer is None:
        return {"ok": False, "version": None, "error": "no promoted model loaded"}
    trained = model_trained_at(scorer)
    return {"ok": True, "version": scorer.version, "trained_at": trained and _iso(trained),
            "age_seconds": round(time.time() - trained) if trained else None}


def loaded_scorer(app):
    """The model this process serves now (reloading if due), or None when none is promoted."""
    from spamguard.scoring.model import NoModelError

    try:
        return app.extensions["spamguard.models"].current()
    except NoModelError:
        return None


def model_trained_at(scorer) -> float | None:
    """Unix time the loaded model was created (from its manifest), if known."""
    from datetime import datetime

    created = (getattr(scorer, "manifest", None) or {}).get("created")
    try:
        return datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp() if created else None
    except ValueError:
        return None


def _iso(ts: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def database_status(app) -> dict[str, Any]:
    try:
        with app.extensions["spamguard.db"]() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        from spamguard.metrics import DB_ERRORS

        DB_ERRORS.labels(op="readyz").inc()
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def redis_status(app) -> dict[str, Any]:
    state = app.extensions.get("spamguard.redis")
    if state is None:
        return {"ok": False, "error": "not configured"}
    ok = state.call("readyz_ping", lambda client: bool(client.ping()), default=False)
    return {"ok": ok} if ok else {"ok": False, "error": "unreachable (limits and reputation fail open)"}


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process serves HTTP. Touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: 200 when verdicts can be given and stored, else 503; details for humans and alerts."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # werkzeug's proxy is untyped
    checks = {"database": database_status(app), "model": model_status(app), "redis": redis_status(app),
              "worker": worker_status(app)}
    ready = checks["database"]["ok"] and checks["model"]["ok"]
    degraded = ready and not (checks["redis"]["ok"] and checks["worker"]["ok"])
    status = "degraded" if degraded else ("ready" if ready else "not_ready")
    response = jsonify(status=status, checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response

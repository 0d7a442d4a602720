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
import time
from datetime import UTC
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text

from spamguard.services import services

if TYPE_CHECKING:
    from spamguard.scoring.model import Scorer

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def worker_status(app) -> dict[str, Any]:
    """{"ok", "alive": n, "last_seen_seconds"} or {"ok": False, "error"} when Redis cannot tell."""
    heartbeat = services(app).heartbeat
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
    return {
        "ok": True,
        "version": scorer.version,
        "trained_at": trained and _iso(trained),
        "age_seconds": round(time.time() - trained) if trained else None,
    }


def loaded_scorer(app: Flask) -> Scorer | None:
    """The model this process serves now (reloading if due), or None when none is promoted."""
    from spamguard.scoring.model import NoModelError

    try:
        return services(app).models.current()
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
        with services(app).db() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        from spamguard.metrics import DB_ERRORS

        DB_ERRORS.labels(op="readyz").inc()
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def redis_status(app) -> dict[str, Any]:
    state = services(app).state
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
    checks = {
        "database": database_status(app),
        "model": model_status(app),
        "redis": redis_status(app),
        "worker": worker_status(app),
    }
    ready = checks["database"]["ok"] and checks["model"]["ok"]
    degraded = ready and not (checks["redis"]["ok"] and checks["worker"]["ok"])
    status = "degraded" if degraded else ("ready" if ready else "not_ready")
    response = jsonify(status=status, checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response

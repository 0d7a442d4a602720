"""Prometheus metrics at /metrics (multi-process aware under gunicorn).

The counters themselves live in `spamguard.metrics` and are recorded where
things happen.  State that lives elsewhere — the loaded model, the moderation
backlog in the database, worker heartbeats and retrain outcomes in Redis — is
read by a collector when /metrics is scraped, so every instance reports the
same shared numbers and nothing has to be kept in step.

`SPAMGUARD_METRICS_TOKEN` set: /metrics wants `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily

from spamguard import health
from spamguard.metrics import DB_ERRORS, count_http, retrain_key, update_process_metrics
from spamguard.services import services

bp = Blueprint("metrics", __name__)
BACKLOG_VERDICTS = ("unsure", "spam", "discard")  # unreviewed comments a moderator may still act on


def init_app(app: Flask) -> None:
    """Count and time every request by its route (the rule, never the raw path: bounded labels)."""
    shared = CollectorRegistry()
    shared.register(SharedStateCollector(app))
    app.extensions["spamguard.metrics_registry"] = shared

    app.before_request(start_timer)
    app.after_request(count_request)


# Module-level hooks: the lean comment-check path (`spamguard.api.fast_path`) recognises them by name
# and does the same itself (`count_http`).
def start_timer() -> None:
    g.metrics_started = time.perf_counter()


def count_request(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    count_http(endpoint, request.method, response.status_code, started)
    return response


class SharedStateCollector:
    """Model, backlog, workers and retrains, read at scrape time from this app's shared state."""

    BACKLOG_CACHE_SECONDS = 10.0  # scrapes from several Prometheus servers share one count

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._backlog: tuple[float, dict[str, int]] = (float("-inf"), {})

    def collect(self) -> Iterator[Metric]:
        app = self.app
        info = GaugeMetricFamily(
            "spamguard_model_info", "The model this process serves (value 1)", labels=["version", "kind"]
        )
        trained = GaugeMetricFamily(
            "spamguard_model_trained_timestamp_seconds",
            "When the served model was trained (unix time); age = time() - this",
        )
        gate = GaugeMetricFamily("spamguard_model_gate_metric", "Gate metrics of the served model", labels=["metric"])
        loaded = GaugeMetricFamily("spamguard_model_loaded", "1 when a promoted model is loaded, else 0")
        scorer = health.loaded_scorer(app)
        loaded.add_metric([], 1 if scorer is not None else 0)
        if scorer is not None:
            manifest = scorer.manifest or {}
            info.add_metric([scorer.version, str(manifest.get("kind", ""))], 1)
            ts = health.model_trained_at(scorer)
            if ts:
                trained.add_metric([], ts)
            for name, value in ((manifest.get("metrics") or {}).get("gate") or {}).items():
                if isinstance(value, (int, float)):
                    gate.add_metric([name], float(value))
        yield from (info, trained, gate, loaded)

        backlog = GaugeMetricFamily(
            "spamguard_moderation_backlog", "Unreviewed flagged comments, by verdict", labels=["verdict"]
        )
        for verdict, count in self._backlog_counts().items():
            backlog.add_metric([verdict], count)
        yield backlog

        workers = GaugeMetricFamily("spamguard_workers_alive", "Background workers with a recent heartbeat")
        status = health.worker_status(app)
        if status.get("alive") is not None:
            workers.add_metric([], status["alive"])
        yield workers

        yield from retrain_metrics(app)

    def _backlog_counts(self) -> dict[str, int]:
        cached_at, counts = self._backlog
        if time.monotonic() - cached_at < self.BACKLOG_CACHE_SECONDS:
            return counts
        from sqlalchemy import func, select

        from spamguard.storage.models import Check

        counts = {verdict: 0 for verdict in BACKLOG_VERDICTS}
        try:
            with services(self.app).db() as session:
                rows = session.execute(
                    select(Check.verdict, func.count())
                    .where(Check.reviewed_at.is_(None), Check.verdict.in_(BACKLOG_VERDICTS), Check.is_test.is_(False))
                    .group_by(Check.verdict)
                ).all()
            counts.update({verdict: int(n) for verdict, n in rows})
        except Exception:
            DB_ERRORS.labels(op="metrics_backlog").inc()
            return counts
        self._backlog = (time.monotonic(), counts)
        return counts


def retrain_metrics(app: Flask) -> Iterator[Metric]:
    runs = CounterMetricFamily("spamguard_retrain_runs", "Retrain jobs finished, by outcome", labels=["outcome"])
    duration = SummaryMetricFamily("spamguard_retrain_duration_seconds", "Time retrain jobs took")
    last = GaugeMetricFamily("spamguard_retrain_last_success_timestamp_seconds", "When a retrain last succeeded")
    # Written through the job queue's connection (see record_retrain), so read through it too.
    try:
        raw = services(app).jobs.connection.hgetall(retrain_key(app.config["SPAMGUARD_REDIS_PREFIX"]))
    except Exception:
        raw = {}
    values = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()
    }
    for outcome in ("promoted", "registered", "failed"):
        runs.add_metric([outcome], float(values.get(f"runs:{outcome}", 0)))
    duration.add_metric(
        [], count_value=int(float(values.get("seconds_count", 0))), sum_value=float(values.get("seconds_sum", 0))
    )
    if values.get("last_success"):
        last.add_metric([], float(values["last_success"]))
    yield from (runs, duration, last)


def _authorised() -> bool:
    token = current_app.config.get("SPAMGUARD_METRICS_TOKEN") or ""
    if not token:
        return True
    auth = request.headers.get("Authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    return hmac.compare_digest(given.encode(), token.encode())


@bp.get("/metrics")
def metrics() -> Response:
    if not _authorised():
        return Response(
            "metrics need Authorization: Bearer <SPAMGUARD_METRICS_TOKEN>\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    update_process_metrics(force=True)
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Under gunicorn each worker writes its own files; add them up here.
        registry = CollectorRegistry()
        # prometheus_client leaves this constructor unannotated.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    shared = current_app.extensions["spamguard.metrics_registry"]
    return Response(generate_latest(registry) + generate_latest(shared), mimetype=CONTENT_TYPE_LATEST)

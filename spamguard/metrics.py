"""Prometheus metrics at /metrics (multi-process aware under gunicorn).

Counters and histograms are recorded where things happen, in each worker
process (gunicorn workers write them to PROMETHEUS_MULTIPROC_DIR and /metrics
adds them up).  State that lives elsewhere — the loaded model, the moderation
backlog in the database, worker heartbeats and retrain outcomes in Redis — is
read by a collector when /metrics is scraped, so every instance reports the
same shared numbers and nothing has to be kept in step.

`SPAMGUARD_METRICS_TOKEN` set: /metrics wants `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from spamguard.services import services

bp = Blueprint("metrics", __name__)
_check_log = logging.getLogger("spamguard.checks")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BACKLOG_VERDICTS = ("unsure", "spam", "discard")  # unreviewed comments a moderator may still act on

HTTP_REQUESTS = Counter(
    "spamguard_http_requests_total",
    "HTTP requests answered, by route, method and status",
    ["endpoint", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "spamguard_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["endpoint", "method"],
    buckets=LATENCY_BUCKETS,
)
CHECKS = Counter("spamguard_checks_total", "Comment checks answered, by verdict and site id", ["verdict", "site"])
CHECK_SECONDS = Histogram("spamguard_check_seconds", "Time to score and store one comment", buckets=LATENCY_BUCKETS)
FEEDBACK = Counter(
    "spamguard_feedback_total", "Labels recorded (decisions), by label and source (api, moderator)", ["label", "source"]
)
REFUSALS = Counter("spamguard_refusals_total", "API calls refused, by reason", ["reason"])
DB_ERRORS = Counter("spamguard_db_errors_total", "Database errors seen while serving, by operation", ["op"])
# Per-process resource use, as gauges every worker sets (prometheus_client's own process
# collector only reports the process that serves /metrics in multiprocess mode).
PROCESS_RSS = Gauge(
    "spamguard_process_resident_memory_bytes", "Resident memory of each serving process", multiprocess_mode="liveall"
)
PROCESS_CPU = Gauge(
    "spamguard_process_cpu_seconds", "CPU time used by each serving process", multiprocess_mode="liveall"
)
PROCESS_FDS = Gauge(
    "spamguard_process_open_fds", "Open file descriptors of each serving process", multiprocess_mode="liveall"
)
PROCESS_START = Gauge(
    "spamguard_process_start_time_seconds",
    "Start time of each serving process (unix time)",
    multiprocess_mode="liveall",
)

_PROCESS_EVERY = 5.0  # seconds between refreshes of the process gauges in one process
_last_process_update = float("-inf")
_start_time_set = False


def record_check(result, site_id: int | None, seconds: float, api: str) -> None:
    """Count, time and log one answered check (the log line an operator greps for a GUID)."""
    CHECK_SECONDS.observe(seconds)
    CHECKS.labels(result.verdict, str(site_id) if site_id is not None else "none").inc()
    _check_log.info(
        "check",
        extra={
            "event": "check",
            "api": api,
            "guid": result.guid,
            "site": site_id,
            "verdict": result.verdict,
            "score": round(result.probability, 4),
            "model_version": result.model_version,
            "latency_ms": round(seconds * 1000, 2),
        },
    )


def record_refusal(reason: str) -> None:
    REFUSALS.labels(reason).inc()


def update_process_metrics(force: bool = False) -> None:
    """Refresh this process's resource gauges (cheap: a few /proc reads, at most every 5 s)."""
    global _last_process_update, _start_time_set
    now = time.monotonic()
    if not force and now - _last_process_update < _PROCESS_EVERY:
        return
    _last_process_update = now
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    PROCESS_CPU.set(usage.ru_utime + usage.ru_stime)
    try:
        with open("/proc/self/statm") as handle:
            PROCESS_RSS.set(int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
        PROCESS_FDS.set(len(os.listdir("/proc/self/fd")))
        if not _start_time_set:
            with open("/proc/self/stat") as handle:
                ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
            with open("/proc/stat") as handle:
                boot = next(int(line.split()[1]) for line in handle if line.startswith("btime"))
            PROCESS_START.set(boot + ticks / os.sysconf("SC_CLK_TCK"))
            _start_time_set = True
    except (OSError, ValueError, StopIteration):  # not Linux: RSS from getrusage's peak instead
        PROCESS_RSS.set(usage.ru_maxrss * 1024)


def init_app(app: Flask) -> None:
    """Count and time every request by its route (the rule, never the raw path: bounded labels)."""
    shared = CollectorRegistry()
    shared.register(SharedStateCollector(app))
    app.extensions["spamguard.metrics_registry"] = shared

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
        if started is not None:
            HTTP_SECONDS.labels(endpoint, method).observe(time.perf_counter() - started)
        if response.status_code == 413:
            record_refusal("body_too_large")
        update_process_metrics()
        return response


_METHODS = {"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}


class SharedStateCollector:
    """Model, backlog, workers and retrains, read at scrape time from this app's shared state."""

    BACKLOG_CACHE_SECONDS = 10.0  # scrapes from several Prometheus servers share one count

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._backlog: tuple[float, dict[str, int]] = (float("-inf"), {})

    def collect(self):
        from spamguard import health

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


# -- retrain outcomes: recorded in Redis by the job (it runs in a worker's child process, which no
# -- Prometheus scrapes) and exposed by every web instance.
def _retrain_key(prefix: str) -> str:
    return f"{prefix}metrics:retrain"


def record_retrain(client, prefix: str, outcome: str, seconds: float, now: float | None = None) -> None:
    """Count one retrain run (`outcome`: promoted, registered, failed) and its duration."""
    key = _retrain_key(prefix)
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(key, f"runs:{outcome}", 1)
    pipe.hincrbyfloat(key, "seconds_sum", seconds)
    pipe.hincrby(key, "seconds_count", 1)
    if outcome != "failed":
        pipe.hset(key, "last_success", now if now is not None else time.time())
    pipe.execute()


def retrain_metrics(app: Flask):
    runs = CounterMetricFamily("spamguard_retrain_runs", "Retrain jobs finished, by outcome", labels=["outcome"])
    duration = SummaryMetricFamily("spamguard_retrain_duration_seconds", "Time retrain jobs took")
    last = GaugeMetricFamily("spamguard_retrain_last_success_timestamp_seconds", "When a retrain last succeeded")
    # Written through the job queue's connection (see record_retrain), so read through it too.
    try:
        raw = services(app).jobs.connection.hgetall(_retrain_key(app.config["SPAMGUARD_REDIS_PREFIX"]))
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
        multiprocess.MultiProcessCollector(registry)
    shared = current_app.extensions["spamguard.metrics_registry"]
    return Response(generate_latest(registry) + generate_latest(shared), mimetype=CONTENT_TYPE_LATEST)

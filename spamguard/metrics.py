"""The Prometheus counters, histograms and gauges every layer records into.

Counters and histograms are recorded where things happen, in each worker
process (gunicorn workers write them to PROMETHEUS_MULTIPROC_DIR and /metrics
adds them up).  This module imports nothing from the app, so any layer may
record here; serving /metrics and reading shared state at scrape time is
`spamguard.metrics_view`'s job.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from redis import Redis

    from spamguard.checking import CheckResult

_check_log = logging.getLogger("spamguard.checks")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

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
CHECKS_DELETED = Counter("spamguard_checks_deleted_total", "Checks deleted after the retention period")
# Per-process resource use, as gauges every worker sets (prometheus_client's own process
# collector only reports the process that serves /metrics in multiprocess mode).
# `.labels()` validates, locks and looks the child up on every call (≈ 10 µs each, three per check): the
# children of the per-request series are kept here, bounded (the label values come from a fixed set of
# routes, methods, statuses, verdicts and site ids).
http_requests = functools.lru_cache(maxsize=4096)(HTTP_REQUESTS.labels)
http_seconds = functools.lru_cache(maxsize=1024)(HTTP_SECONDS.labels)
_checks = functools.lru_cache(maxsize=4096)(CHECKS.labels)

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


def record_check(result: CheckResult, site_id: int | None, seconds: float, api: str) -> None:
    """Count, time and log one answered check (the log line an operator greps for a GUID)."""
    CHECK_SECONDS.observe(seconds)
    _checks(result.verdict, str(site_id) if site_id is not None else "none").inc()
    if not _check_log.isEnabledFor(logging.INFO):  # the line's fields are not built for nothing
        return
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


_METHODS = {"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}


def count_http(endpoint: str, method: str, status: int, started: float | None) -> None:
    """Count and time one answered request by its route (the rule, never the raw path: bounded labels)."""
    method = method if method in _METHODS else "other"
    http_requests(endpoint, method, str(status)).inc()
    if started is not None:
        http_seconds(endpoint, method).observe(time.perf_counter() - started)
    if status == 413:
        record_refusal("body_too_large")
    update_process_metrics()


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


# -- retrain outcomes: recorded in Redis by the job (it runs in a worker's child process, which no
# -- Prometheus scrapes) and exposed by every web instance through `spamguard.metrics_view`.
def retrain_key(prefix: str) -> str:
    return f"{prefix}metrics:retrain"


def record_retrain(client: Redis, prefix: str, outcome: str, seconds: float, now: float | None = None) -> None:
    """Count one retrain run (`outcome`: promoted, registered, failed) and its duration."""
    key = retrain_key(prefix)
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(key, f"runs:{outcome}", 1)
    pipe.hincrbyfloat(key, "seconds_sum", seconds)
    pipe.hincrby(key, "seconds_count", 1)
    if outcome != "failed":
        pipe.hset(key, "last_success", now if now is not None else time.time())
    pipe.execute()

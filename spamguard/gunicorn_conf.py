"""gunicorn settings for SpamGuard (`gunicorn -c python:spamguard.gunicorn_conf`; flags from `spamguard serve`
take precedence).  Values come from the validated settings, so a bad SPAMGUARD_BIND/WORKERS/THREADS (or any
other setting) stops the master before it forks, with a message naming the variable."""

import os
import sys
import tempfile

from spamguard.config import ConfigError, from_env
from spamguard.memory import limit_malloc_arenas

try:
    _config = from_env()
except ConfigError as _exc:
    sys.stderr.write(f"spamguard: {_exc}\n")
    raise SystemExit(2) from None

bind = _config["SPAMGUARD_BIND"]
workers = _config["SPAMGUARD_WORKERS"]
threads = _config["SPAMGUARD_THREADS"]
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
# Oversized request lines and headers are refused by gunicorn with 400 before Flask runs.
limit_request_line = 8190
limit_request_field_size = 16384
limit_request_fields = 200
# Error and access logs as JSON lines on stderr (see spamguard/logs.py).
logger_class = "spamguard.logs.GunicornLogger"
accesslog = "-"
errorlog = "-"

# Two glibc malloc arenas instead of up to 8 per core: with gthread workers every request thread would
# otherwise keep its own arena at its high-water mark (RSS creeping up for hours). Set here, in the
# master before it forks, so every worker inherits it; an explicit MALLOC_ARENA_MAX wins.
if "MALLOC_ARENA_MAX" not in os.environ:
    limit_malloc_arenas(2)

# Each worker writes its metrics here; /metrics adds them up.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="spamguard-metrics-")


def on_starting(server):
    """A fixed PROMETHEUS_MULTIPROC_DIR keeps the last run's files; prometheus_client wants it empty at start."""
    import glob

    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.unlink(path)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """Write the check rows still waiting in this worker's write-behind buffer (atexit does too)."""
    from spamguard.storage.write_behind import close_all

    close_all()


def post_worker_init(worker):
    """Move the loaded app (≈ 120 k objects: model tables' wrappers, SQLAlchemy, Flask) out of the collector's reach.

    Without this a full (generation 2) collection walks every one of them, ≈ 140 ms of one request's time
    now and then: the p99 at light load. The objects frozen here live as long as the worker anyway.
    """
    from spamguard.memory import freeze_loaded_objects

    freeze_loaded_objects()

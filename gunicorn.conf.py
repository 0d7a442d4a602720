"""gunicorn settings for SpamGuard (command-line flags from `spamguard serve` take precedence)."""
import os
import tempfile

bind = os.environ.get("SPAMGUARD_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SPAMGUARD_WORKERS", "2"))
threads = int(os.environ.get("SPAMGUARD_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
# Oversized request lines and headers are refused by gunicorn with 400 before Flask runs.
limit_request_line = 8190
limit_request_fields = 200
limit_request_field_size = 16384
accesslog = "-"
access_log_format = '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":"%(b)s","ms":%(M)s}'
errorlog = "-"

# Each worker writes its metrics here; /metrics adds them up.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="spamguard-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

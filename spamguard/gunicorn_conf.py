"""gunicorn settings for SpamGuard (`gunicorn -c python:spamguard.gunicorn_conf`; flags from `spamguard serve`
take precedence).  Values come from the validated settings, so a bad SPAMGUARD_BIND/WORKERS/THREADS (or any
other setting) stops the master before it forks, with a message naming the variable."""

import errno
import os
import socket
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
    if _config["SPAMGUARD_LISTEN_PER_WORKER"]:
        listen_per_worker(server)


def tcp_addresses(binds: list[str]) -> list[tuple[str, int]] | None:
    """(host, port) of every bind; None when one is a unix socket, an fd:// or port 0, where a socket per worker
    cannot work (each worker would replace the socket file, or get a port of its own)."""
    from gunicorn.util import parse_address

    addresses = []
    for bind in binds:
        address = parse_address(bind)
        if not isinstance(address, tuple) or not address[1]:
            return None
        addresses.append((str(address[0]), int(address[1])))
    return addresses


def listen_per_worker(server) -> None:
    """Give each worker a listening socket of its own (SO_REUSEPORT) for a TCP bind.

    On gunicorn's one shared socket the workers race to accept, and a worker busy with requests still
    accepts: clients that keep their connections (a proxy's upstream pool, wrk) can all land on one
    worker, which then has one core while the other idles.  Measured with bench/fullstack.py: 4 to 7
    of 10 rounds at 16 connections lopsided, throughput halved in each; none with a socket per worker,
    where the kernel spreads connections by their address hash.  The price: connections still queued
    on a worker's own socket when that worker exits are reset (Linux >= 5.14 hands them to the other
    sockets with net.ipv4.tcp_migrate_req=1).

    gunicorn then opens no socket in the master, so a port another instance already serves would be
    joined silently instead of refused: the master first binds each address itself, without
    SO_REUSEPORT, and stops if it is taken.
    """
    from gunicorn.util import is_ipv6

    addresses = tcp_addresses(server.cfg.bind)
    if addresses is None or not hasattr(socket, "SO_REUSEPORT"):
        return
    for host, port in addresses:
        with socket.socket(socket.AF_INET6 if is_ipv6(host) else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn's own sockets
            try:
                probe.bind((host, port))
            except OSError as exc:
                reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                server.log.error("Cannot listen on %s:%s: %s", host, port, reason)
                sys.exit(1)
    server.cfg.set("reuse_port", True)
    server.log.info("each worker listens on %s with its own socket (SO_REUSEPORT)", ", ".join(server.cfg.bind))


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

"""Background jobs on RQ: retraining runs in `spamguard worker`, never in a web request.

The retrain job is enqueued by its dotted name (`RETRAIN_JOB`), so the web process
never imports training code; only the worker's job process imports it.  The job
receives plain values (model dir, database URL) instead of an app, so the worker
needs no Flask app to run it.  The worker is RQ's normal forking
`Worker`: each training job runs in a child process, so its memory (TF-IDF
matrices, sklearn fits) is returned to the OS when it ends, a crash or the job
timeout kills only the child, and a model promoted by the job is picked up by
the web workers through the registry, not through shared state.
"""

from __future__ import annotations

import logging

import click
import redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

log = logging.getLogger("spamguard.jobs")

QUEUE_NAME = "spamguard"
RETRAIN_TIMEOUT = 60 * 60  # a retrain that runs for an hour is stuck
RETRAIN_JOB = "model_training.jobs.retrain"


def queue_url(config) -> str:
    """The job queue's Redis: SPAMGUARD_QUEUE_REDIS_URL, else REDIS_URL (RQ cannot use a Redis Cluster)."""
    return config.get("SPAMGUARD_QUEUE_REDIS_URL") or config["REDIS_URL"]


def queue_connection(url: str, timeout: float = 5.0) -> redis.Redis:
    """RQ needs bytes responses and longer timeouts than the request-path client."""
    if url.startswith("memory://"):
        from spamguard.backends.state import memory_client

        return memory_client(url, decode_responses=False)
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


class JobQueue:
    def __init__(self, redis_url: str, prefix: str, model_dir: str, database_url: str) -> None:
        self.connection = queue_connection(redis_url)
        # The queue name carries the key prefix so deployments sharing a Redis do not mix jobs.
        self.queue = Queue(f"{prefix}{QUEUE_NAME}", connection=self.connection)
        self.model_dir = model_dir
        self.database_url = database_url

    def enqueue_retrain(self, from_db: bool = True, quick: bool = False, api_feedback: bool = False) -> str:
        """Queue a retrain; returns the job id.  Raises redis.RedisError when Redis is down
        (the caller shows "try again": retraining is never urgent).  `from_db` adds moderator
        decisions; `api_feedback` also the keys' submit-spam/ham reports (untrusted: opt-in)."""
        job = self.queue.enqueue(
            RETRAIN_JOB,
            self.model_dir,
            self.database_url if from_db else None,
            quick,
            from_db and api_feedback,
            job_timeout=RETRAIN_TIMEOUT,
            result_ttl=7 * 86400,
            failure_ttl=7 * 86400,
            description="retrain model" + (" with feedback" if from_db else ""),
        )
        log.info(
            "retrain queued",
            extra={
                "event": "retrain_queued",
                "job_id": job.id,
                "from_db": from_db,
                "api_feedback": from_db and api_feedback,
            },
        )
        return job.id

    def job_status(self, job_id: str) -> dict:
        """{"id", "status" (queued|started|finished|failed|...|unknown), "result", "error"}."""
        try:
            job = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return {"id": job_id, "status": "unknown", "result": None, "error": None}
        status = job.get_status(refresh=True)
        status = getattr(status, "value", status)
        error = None
        if status == "failed":
            latest = job.latest_result()
            last_line = (latest.exc_string or "").strip().splitlines()[-1:] if latest else []
            error = last_line[0] if last_line else "failed"
        return {
            "id": job.id,
            "status": status,
            "result": job.return_value() if status == "finished" else None,
            "error": error,
            "enqueued_at": job.enqueued_at.isoformat() if job.enqueued_at else None,
        }


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (for tests and cron).")
def worker(burst: bool) -> None:
    """Run the background worker: retrain jobs, usage flush, reputation catch-up and deleting old checks."""
    from spamguard import config as settings
    from spamguard import storage
    from spamguard.jobs.heartbeat import WorkerHeartbeat
    from spamguard.logs import configure_logging
    from spamguard.storage.write_lock import WriteLock

    from .maintenance import Maintenance, build_state
    from .retention import CheckRetention

    try:
        config = settings.from_env()
    except settings.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(config["SPAMGUARD_LOG_LEVEL"])
    services = build_state(config, storage.make_sessionmaker(config["DATABASE_URL"]))
    write_lock = WriteLock.for_url(config["DATABASE_URL"], config["SPAMGUARD_SQLITE_BUSY_TIMEOUT"])
    maintenance = Maintenance(
        services.usage,
        services.reputation,
        services.session_factory,
        config["SPAMGUARD_FLUSH_SECONDS"],
        CheckRetention.for_config(config, write_lock),
    )
    maintenance.start()
    from spamguard.delivery.jobs import start_sweeper

    sweeper = start_sweeper(config["SPAMGUARD_DELIVERY_SWEEP_SECONDS"])
    queue = JobQueue(
        queue_url(config), config["SPAMGUARD_REDIS_PREFIX"], config["SPAMGUARD_MODEL_DIR"], config["DATABASE_URL"]
    )
    # Seen by /readyz, /metrics and the admin page on every instance: "a worker is running".
    heartbeat = WorkerHeartbeat(
        queue.connection, config["SPAMGUARD_REDIS_PREFIX"], config["SPAMGUARD_WORKER_HEARTBEAT_SECONDS"]
    )
    heartbeat.start()
    try:
        Worker([queue.queue], connection=queue.connection).work(burst=burst, with_scheduler=False)
    finally:
        sweeper.stop()
        heartbeat.stop()
        maintenance.stop()


@click.command("worker-health")
def worker_health() -> None:
    """Exit 0 when a `spamguard worker` on this host beat recently (the worker's container healthcheck)."""
    import socket

    from spamguard import config as settings
    from spamguard.jobs.heartbeat import WorkerHeartbeat

    config = settings.from_env()
    heartbeat = WorkerHeartbeat(
        queue_connection(queue_url(config), timeout=2.0),
        config["SPAMGUARD_REDIS_PREFIX"],
        config["SPAMGUARD_WORKER_HEARTBEAT_SECONDS"],
    )
    try:
        alive = heartbeat.alive()
    except redis.RedisError as exc:
        raise click.ClickException(f"cannot read worker heartbeats from Redis: {type(exc).__name__}") from None
    host = socket.gethostname()
    mine = {name: age for name, age in alive.items() if name.rsplit(":", 1)[0] == host}
    if not mine:
        raise click.ClickException(f"no worker on {host} beat in the last {heartbeat.max_age:g} s")
    click.echo(f"worker alive on {host} (last beat {min(mine.values()):g} s ago)")

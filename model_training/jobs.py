"""The retrain job that `spamguard worker` runs.

`spamguard.jobs.JobQueue` enqueues it by name ("model_training.jobs.retrain"),
so only the worker's job process imports training code.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from model_training.train import train_and_register
from spamguard import storage

log = logging.getLogger(__name__)


def retrain(model_dir: str, database_url: str | None, quick: bool = False, api_feedback: bool = False) -> Any:
    """Train (optionally with the service's labelled feedback), register, promote if the gate passes.

    `api_feedback` adds the keys' submit-spam/ham reports to the moderators' decisions (opt-in: untrusted).
    """
    # A batch job: the web's statement timeout would only cut a large feedback query short.
    timeouts = replace(storage.Timeouts.from_config(), statement=0)
    session = storage.make_sessionmaker(database_url, timeouts)() if database_url else None
    started = time.monotonic()
    outcome = "failed"
    try:
        result = train_and_register(
            model_dir, quick=quick, progress=False, from_db_session=session, api_feedback=api_feedback
        )
        outcome = "promoted" if result.get("promoted") else "registered"
    finally:
        if session is not None:
            session.close()
        _record_outcome(outcome, time.monotonic() - started)
    return _jsonable(result)


def _record_outcome(outcome: str, seconds: float) -> None:
    """Retrain counters live in Redis: this runs in a worker's child process, which nothing scrapes."""
    import redis
    from rq import get_current_job

    from spamguard.jobs.queue import QUEUE_NAME
    from spamguard.metrics import record_retrain

    job = get_current_job()
    if job is None:  # called directly, not as a job
        return
    try:
        record_retrain(job.connection, job.origin[: -len(QUEUE_NAME)], outcome, seconds)
    except redis.RedisError:
        log.warning("could not record retrain outcome", extra={"event": "retrain_metrics_error"})


def _jsonable(value: Any) -> Any:
    """RQ stores the result with pickle; plain JSON-like values stay readable across versions."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)

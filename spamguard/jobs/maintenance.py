"""The background loop: persist usage counters, replay unsynced feedback into Redis, delete old checks.

Runs as a daemon thread in every web worker process (started on the first
request, so it also survives gunicorn's fork) and in `spamguard worker`.  Both
tasks are idempotent, so several processes running them at once is harmless.  Deleting checks past
their retention period (`retention.py`) runs at most every 10 minutes per process.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass

from spamguard.backends import RedisState
from spamguard.jobs.retention import CheckRetention
from spamguard.quota import UsageCounter
from spamguard.reputation import ReputationStore

log = logging.getLogger("spamguard.jobs.maintenance")


@dataclass(frozen=True)
class StateServices:
    """What the web app and `spamguard worker` both build on the state backend."""

    state: RedisState
    usage: UsageCounter
    reputation: ReputationStore
    session_factory: object


def build_state(config, session_factory) -> StateServices:
    state = RedisState(config["REDIS_URL"], config["SPAMGUARD_REDIS_PREFIX"], config["SPAMGUARD_REDIS_TIMEOUT"])
    usage = UsageCounter(state, config["SPAMGUARD_MONTHLY_LIMIT"], session_factory)
    reputation = ReputationStore(
        state, config["SPAMGUARD_RATE_LIMIT_COMMENTER_IP"], config["SPAMGUARD_REPUTATION_MIN_SITES"]
    )
    return StateServices(state, usage, reputation, session_factory)


class Maintenance:
    def __init__(
        self,
        usage: UsageCounter,
        reputation: ReputationStore,
        session_factory,
        interval: float = 30.0,
        retention: CheckRetention | None = None,
    ) -> None:
        self.usage = usage
        self.reputation = reputation
        self.session_factory = session_factory
        self.interval = interval
        self.retention = retention
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        """Start the thread once per process (cheap to call on every request)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self.start()

    def start(self) -> None:
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spamguard-maintenance", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Stop the loop and flush one last time (at shutdown)."""
        if self._pid != os.getpid():
            return
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.run_once()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def run_once(self) -> dict:
        """One pass of every task; never raises (each logs its own failure)."""
        done = {"usage_rows": 0, "feedback_rows": 0}
        tasks = [("usage_rows", self.usage.flush_usage), ("feedback_rows", self.reputation.catch_up)]
        if self.retention is not None:
            done["checks_deleted"] = 0
            tasks.append(("checks_deleted", self.retention.run_if_due))
        for name, task in tasks:
            try:
                with self.session_factory() as session:
                    done[name] = task(session)
            except Exception as exc:
                log.warning(
                    "maintenance task failed",
                    extra={
                        "event": "maintenance_error",
                        "task": name,
                        "error": type(exc).__name__,
                        "detail": str(exc)[:200],
                    },
                )
        return done

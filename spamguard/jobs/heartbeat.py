"""The background worker's heartbeat, seen by /readyz, /metrics and the admin page on every instance.

One sorted set in Redis (`<prefix>workers`, member `host:pid`, score = last
beat), so any instance sees every worker on every host, and Redis Cluster needs
no multi-key command.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MISSED_BEATS = 3  # a worker counts as down after this many missed heartbeats


class WorkerHeartbeat:
    """Writes (`beat`) and reads (`alive`) worker heartbeats; `clock` is injectable for tests."""

    def __init__(
        self,
        client,
        prefix: str,
        interval: float = 10.0,
        clock: Callable[[], float] = time.time,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.key = f"{prefix}workers"
        self.interval = float(interval)
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()

    @property
    def max_age(self) -> float:
        return self.interval * MISSED_BEATS

    def beat(self) -> None:
        now = self.clock()
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.key, {self.name: now})
        pipe.zremrangebyscore(self.key, "-inf", now - 10 * self.max_age)  # forget long-dead workers
        pipe.execute()

    def leave(self) -> None:
        self.client.zrem(self.key, self.name)

    def alive(self) -> dict[str, float]:
        """{worker name: seconds since its last beat} for workers seen within `max_age`."""
        now = self.clock()
        rows = self.client.zrangebyscore(self.key, now - self.max_age, "+inf", withscores=True)
        return {(name.decode() if isinstance(name, bytes) else name): round(now - score, 1) for name, score in rows}

    def last_seen(self) -> float | None:
        """Seconds since any worker's last beat (None: never seen, or forgotten)."""
        rows = self.client.zrevrange(self.key, 0, 0, withscores=True)
        return round(self.clock() - rows[0][1], 1) if rows else None

    def _beat_logged(self) -> None:
        try:
            self.beat()
        except Exception as exc:  # Redis trouble is logged, never fatal to the worker
            log.warning("worker heartbeat failed", extra={"event": "heartbeat_error", "error": type(exc).__name__})

    def start(self) -> threading.Thread:
        """Beat once now (the worker is visible as soon as it starts), then every `interval` in a thread."""
        self._beat_logged()
        self._thread = threading.Thread(target=self._run, name="spamguard-heartbeat", daemon=True)
        self._thread.start()
        return self._thread

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat_logged()

    def stop(self) -> None:
        """Stop beating and leave at once (a clean exit is not reported as a dead worker for 3 intervals)."""
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(timeout=5)
        try:
            self.leave()
        except Exception:
            pass

"""One Redis client per app, behind a fail-open guard.

Redis holds only derived, rebuildable state (rate-limit windows, usage counters
that are flushed to the DB, reputation counters that feedback rows can replay),
so when it is down or slow every caller gets a neutral default instead of an
error.  A short circuit breaker stops each request from paying the timeout
again while Redis is known to be down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from prometheus_client import Counter
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger("spamguard.backends")

T = TypeVar("T")

REDIS_FAILURES = Counter(
    "spamguard_redis_failures_total",
    "Redis calls that failed or were skipped while the circuit breaker was open.",
    ["op"],
)

# Everything a dead, restarting or overloaded Redis raises at us.
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


CLUSTER_SCHEME = "redis+cluster://"


def is_cluster_url(url: str) -> bool:
    """`redis+cluster://host:port` means Redis Cluster."""
    return url.startswith(CLUSTER_SCHEME)


def cluster_prefix(prefix: str) -> str:
    """On a cluster every SpamGuard key carries one hash tag, so multi-key commands (the usage
    flush's SUNIONSTORE, Lua scripts) stay in one slot."""
    return prefix if "{" in prefix else "{" + prefix + "}"


MEMORY_SCHEME = "memory://"
_memory_servers: dict[str, Any] = {}
_memory_lock = threading.Lock()


def memory_client(url: str, decode_responses: bool = True) -> redis.Redis:
    """`memory://<name>`: an in-process twin of Redis (fakeredis, Lua included) for unit tests and
    single-process development; clients of one name share one store, in this process only."""
    import fakeredis

    with _memory_lock:
        server = _memory_servers.setdefault(url, fakeredis.FakeServer())
    return fakeredis.FakeRedis(server=server, decode_responses=decode_responses)


def make_client(url: str, timeout: float) -> redis.Redis:
    """A client whose every call gives up after `timeout` seconds.

    Schemes: `redis://`, `rediss://` (TLS), `redis+cluster://host:port` and `memory://name`.
    redis-py retries failed commands by default; each retry would add another
    timeout to a request, so retries are off: the breaker handles recovery.
    """
    if url.startswith(MEMORY_SCHEME):
        return memory_client(url)
    if is_cluster_url(url):
        from redis.cluster import RedisCluster

        first_node = url[len(CLUSTER_SCHEME) :].split(",")[0]
        # RedisCluster speaks the same command API as Redis (what callers use), not a subclass of it.
        cluster: Any = RedisCluster.from_url(
            f"redis://{first_node}",
            socket_connect_timeout=max(timeout, 0.5),
            socket_timeout=timeout,
            decode_responses=True,
            # one retry, for a MOVED/ASK after a slot changed hands (redis-py >= 6
            # takes it from the Retry object; cluster_error_retry_attempts is deprecated)
            retry=Retry(NoBackoff(), 1),
        )
        return cluster
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=True,
    )


class RedisState:
    """The app's Redis client, key prefix and fail-open guard.

    `call(op, fn, default)` runs `fn(client)`; on any Redis error it logs a
    structured warning (at most once per `log_interval` per op), bumps
    `spamguard_redis_failures_total{op}`, opens the breaker for
    `breaker_seconds` and returns `default`.  While the breaker is open calls
    return `default` immediately (counted under the same metric).
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        timeout: float = 0.05,
        *,
        breaker_seconds: float = 1.5,
        log_interval: float = 30.0,
        client: redis.Redis | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.clock = clock  # the breaker's clock (tests inject one)
        self.prefix = cluster_prefix(prefix) if is_cluster_url(url) else prefix
        self.timeout = timeout
        self.client = client or make_client(url, timeout)
        self.breaker_seconds = breaker_seconds
        self.log_interval = log_interval
        self._open_until = 0.0
        self._last_log: dict[str, float] = {}
        self._lock = threading.Lock()

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    @property
    def available(self) -> bool:
        """False while the breaker is open (Redis recently failed)."""
        return self.clock() >= self._open_until

    def call(self, op: str, fn: Callable[[redis.Redis], T], default: Any = None) -> T | Any:
        if not self.available:
            REDIS_FAILURES.labels(op=op).inc()
            return default
        try:
            return fn(self.client)
        except REDIS_ERRORS as exc:
            self.record_failure(op, exc)
            return default

    def record_failure(self, op: str, exc: BaseException) -> None:
        """Count, maybe log, and open the breaker.  Also used by callers that
        talk to the backend in their own way."""
        REDIS_FAILURES.labels(op=op).inc()
        now = self.clock()
        self._open_until = now + self.breaker_seconds
        with self._lock:
            if now - self._last_log.get(op, -1e9) < self.log_interval:
                return
            self._last_log[op] = now
        log.warning(
            "redis unavailable, failing open",
            extra={
                "event": "redis_unavailable",
                "op": op,
                "error": type(exc).__name__,
                "detail": str(exc)[:200],
                "breaker_seconds": self.breaker_seconds,
            },
        )

    def reset_breaker(self) -> None:
        self._open_until = 0.0

    def delete_prefix(self) -> int:
        """Delete every key under this prefix, and RQ's `rq:…:<prefix>…` keys (tests and benches only)."""
        deleted = 0
        for batch in _chunks(self.client.scan_iter(match=f"*{self.prefix}*", count=500), 500):
            deleted += self.client.delete(*batch)
        return deleted


def _chunks(iterable, size):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

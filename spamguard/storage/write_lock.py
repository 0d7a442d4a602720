"""One SQLite writer at a time, queued instead of retried.

SQLite lets one connection write at a time.  A second writer that finds the lock taken gets
SQLITE_BUSY, and the driver's busy handler (the `timeout` connect argument) *sleeps* 1, 2, 5,
10, 15, 20, 25 ... ms between retries: with several gunicorn threads and workers inserting check
rows, a colliding insert + commit took 3 ms at p90 and 11-30 ms at p99 (vs 0.3 ms at p50), the
light-load p99 of comment-check.  Holding this lock around the write makes a second writer wait
exactly as long as the first one holds the database: a `threading.Lock` between the threads of
a process, then an exclusive `flock` on a file next to the database between processes (the
kernel wakes the waiter when it is released).  Other databases need no such queue.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from collections.abc import Iterator

from sqlalchemy.engine import make_url

_LOCKS: weakref.WeakSet[WriteLock] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # Only the forking thread exists in the child: a lock another parent thread held would never be released,
    # and the inherited descriptor shares the parent's flock (so it would not exclude the parent).
    for lock in list(_LOCKS):
        lock._thread_lock = threading.Lock()
        if lock._fd is not None:
            os.close(lock._fd)  # the parent's own descriptor keeps its lock
            lock._fd = None


class WriteLock:
    """A context manager serialising writes to one SQLite file across the threads and processes using it."""

    def __init__(self, path: str | None) -> None:
        self.path = path  # None: an in-memory database (the thread lock alone)
        self._thread_lock = threading.Lock()
        self._fd: int | None = None  # opened on first use, in the process that uses it
        _LOCKS.add(self)

    @classmethod
    def for_url(cls, url: str) -> WriteLock | None:
        """The lock for a SQLite database URL; None for other databases (they take concurrent writers)."""
        parsed = make_url(url)
        if not parsed.get_backend_name() == "sqlite":
            return None
        database = parsed.database or ""
        return cls(None if database in ("", ":memory:") else f"{database}-writer.lock")

    def _file(self) -> int | None:
        if self.path is not None and self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._thread_lock:
            fd = self._file()
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


os.register_at_fork(after_in_child=_after_fork_in_child)

"""One SQLite writer at a time, queued instead of retried.

SQLite lets one connection write at a time.  A second writer that finds the lock taken gets
SQLITE_BUSY, and the driver's busy handler (the `timeout` connect argument) *sleeps* 1, 2, 5,
10, 15, 20, 25 ... ms between retries: with several gunicorn threads and workers inserting check
rows, a colliding insert + commit took 3 ms at p90 and 11-30 ms at p99 (vs 0.3 ms at p50), the
light-load p99 of comment-check.  Holding this lock around the write makes a second writer wait
exactly as long as the first one holds the database: a `threading.Lock` between the threads of
a process (woken the moment it is released), then an exclusive `flock` on a file next to the
database between processes.  A free flock is taken at once (non-blocking); a taken one is waited
for by a helper thread of the process blocking in `flock` (woken by the kernel the moment the other
process lets go, where polling slept up to 1 ms with this worker's other writers queued behind it:
idle CPU at 16 connections).  Waiting is bounded by the SQLite busy timeout: after it the write goes
ahead without the lock and SQLite's own busy handling decides (an error answer after its timeout),
so a stuck writer elsewhere never queues requests up to gunicorn's worker timeout; the helper
drops the flock when it finally gets it and nobody wants it any more.  Other databases need no
such queue.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import weakref
from collections.abc import Iterator

from sqlalchemy.engine import make_url

_LOCKS: weakref.WeakSet[WriteLock] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # Only the forking thread exists in the child: a lock another parent thread held would never be released,
    # and the inherited descriptor shares the parent's flock (so it would not exclude the parent).
    for lock in list(_LOCKS):
        lock._thread_lock = threading.Lock()
        lock._taker = _FlockTaker()
        if lock._fd is not None:
            os.close(lock._fd)  # the parent's own descriptor keeps its lock
            lock._fd = None


class WriteLock:
    """A context manager serialising writes to one SQLite file across the threads and processes using it."""

    def __init__(self, path: str | None, timeout: float = 3.0) -> None:
        self.path = path  # None: an in-memory database (the thread lock alone)
        self.timeout = timeout  # seconds, the SQLite busy timeout
        self._thread_lock = threading.Lock()
        self._fd: int | None = None  # opened on first use, in the process that uses it
        self._taker = _FlockTaker()
        _LOCKS.add(self)

    @classmethod
    def for_url(cls, url: str, timeout: float = 3.0) -> WriteLock | None:
        """The lock for a SQLite database URL; None for other databases (they take concurrent writers)."""
        parsed = make_url(url)
        if not parsed.get_backend_name() == "sqlite":
            return None
        database = parsed.database or ""
        return cls(None if database in ("", ":memory:") else f"{database}-writer.lock", timeout)

    def _file(self) -> int | None:
        if self.path is not None and self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            yield  # waited a whole busy timeout: SQLite's own handling decides
            return
        try:
            fd = self._file()
            locked = fd if fd is not None and self._taker.take(fd, deadline - time.monotonic()) else None
            try:
                yield
            finally:
                if locked is not None:
                    fcntl.flock(locked, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class _FlockTaker:
    """Takes a process's exclusive flock for whichever thread of it wants it, waiting no longer than asked.

    The caller holds the WriteLock's thread lock, so one thread at a time asks; a caller that gave up
    leaves the helper blocked in `flock`, and the next caller waits for that same helper.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._wanted = False  # a caller is waiting for the flock
        self._held = False  # the helper took it for a caller who has not picked it up yet
        self._blocked = False  # the helper thread is in flock(LOCK_EX)

    def take(self, fd: int, timeout: float) -> bool:
        with self._cond:  # a helper that just got the flock shares `fd`: only it may hand it over (or drop it)
            if not self._blocked:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
            self._wanted = True
            if not self._blocked:
                self._blocked = True
                threading.Thread(target=self._block, args=(fd,), name="sqlite-writer-flock", daemon=True).start()
            got = self._cond.wait_for(lambda: self._held, max(0.0, timeout))
            self._wanted = self._held = False
            return got

    def _block(self, fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL; the kernel wakes it when the holder lets go
        with self._cond:
            self._blocked = False
            if self._wanted:
                self._held = True
                self._cond.notify()
            else:  # the caller gave up (busy timeout): let the next writer in
                fcntl.flock(fd, fcntl.LOCK_UN)


os.register_at_fork(after_in_child=_after_fork_in_child)

"""Rows written behind the request: a bounded per-process buffer, inserted in batches by one thread.

A comment-check's row is write-only on the request path (nothing reads it back before the answer), and
its own INSERT + COMMIT cost ≈ 15 % of a check's CPU.  Here the request appends the row and returns; one
writer thread per process inserts everything pending in one transaction (`executemany`) at most
`interval` seconds later, or as soon as `batch` rows are waiting, and on shutdown (`close`: gunicorn's
worker_exit hook and atexit).  Nothing is dropped: when `capacity` rows are already waiting the request
writes its row itself.  A failed batch stays pending and is retried (backing off to `MAX_BACKOFF`), and
until a batch goes in again every request writes its own row, so a database that is down or locked
answers errors as it does without the buffer (only checks in the interval before the failure was seen
were answered; their rows are written once the database is back).

Read-your-writes within a process: a SELECT naming the table (`table`), run on the same engine by any
code in this process, writes the pending rows first, unless its own SQLite connection is in the middle of
a write (the batch would wait for that very transaction).  A row pending in another process is visible at
most `interval` (plus one batch's insert) later.  SQLite's `WriteLock` is held around every insert,
batched or not.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy import Engine, Executable, event

log = logging.getLogger(__name__)

_OPEN: weakref.WeakSet[WriteBehind] = weakref.WeakSet()
MAX_BACKOFF = 5.0  # seconds between retries of a failing batch, at most


class WriteBehind:
    def __init__(
        self,
        engine: Engine,
        statement: Executable,
        *,
        interval: float = 0.1,
        batch: int = 200,
        capacity: int = 2000,
        write_lock: Callable[[], AbstractContextManager[Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
        table: str | None = None,
    ) -> None:
        """`background=False` starts no thread: the owner calls `tick()` (the tests, with an injected clock)."""
        self.engine = engine
        self.statement = statement
        self.interval = interval
        self.batch = max(1, batch)
        self.capacity = max(self.batch, capacity)
        self.write_lock = write_lock or nullcontext
        self.clock = clock
        self.background = background
        self._rows: list[dict[str, Any]] = []
        self._oldest = 0.0  # clock() when the oldest pending row was added
        self._cond = threading.Condition(threading.Lock())
        self._flushing = threading.Lock()  # one batch insert at a time, whoever runs it
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        self.batches = 0  # counted events, for tests and the bench
        self.direct_writes = 0
        self.read_flushes = 0
        self.failing = False  # the last batch failed: requests write their own rows until one goes in
        self._table = table
        if table is not None:
            event.listen(engine, "before_cursor_execute", self._before_statement)
        _OPEN.add(self)

    # --- the request side ------------------------------------------------------------------

    def add(self, row: dict[str, Any]) -> None:
        """Queue `row`; with the buffer full (or closed) write it now, in this thread."""
        with self._cond:
            if len(self._rows) < self.capacity and not self._closed and not self.failing:
                if not self._rows:
                    self._oldest = self.clock()
                self._rows.append(row)
                if len(self._rows) == 1 or len(self._rows) >= self.batch:
                    self._cond.notify()  # the first row starts the writer's interval; a full batch ends it
                self._ensure_thread()
                return
        self.direct_writes += 1
        self.write_now(row)

    def write_now(self, row: dict[str, Any]) -> Any:
        """Insert one row synchronously (also for callers that need its primary key); returns the result."""
        with self.write_lock(), self.engine.begin() as connection:
            return connection.execute(self.statement, row)

    @property
    def pending(self) -> int:
        return len(self._rows)

    def _before_statement(self, connection, _cursor, statement: str, *_args) -> None:
        table = self._table
        if not self._rows or table is None or table not in statement or statement.lstrip()[:6].upper() != "SELECT":
            return
        if getattr(connection.connection.dbapi_connection, "in_transaction", False):
            return  # a SQLite connection holding the write lock: the batch would wait for it
        self.read_flushes += 1
        with contextlib.suppress(Exception):  # the read goes ahead (flush() logs); the writer thread retries
            self.flush()

    # --- the writer side -------------------------------------------------------------------

    def due(self) -> bool:
        return bool(self._rows) and (len(self._rows) >= self.batch or self.clock() - self._oldest >= self.interval)

    def tick(self) -> int:
        """Insert the pending rows when a batch is full or the oldest has waited `interval`; rows written."""
        return self.flush() if self.due() else 0

    def flush(self) -> int:
        """Insert everything pending now (one transaction); rows written. A failed batch stays pending."""
        with self._flushing:
            with self._cond:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                with self.write_lock(), self.engine.begin() as connection:
                    connection.execute(self.statement, rows)
            except Exception:
                with self._cond:  # back in front, oldest first; may exceed capacity until it is written
                    self._rows[:0] = rows
                    self._oldest = self.clock() - self.interval  # retried at the next wake-up
                if not self.failing:
                    log.warning("write-behind batch failed; requests write their own rows", exc_info=True)
                self.failing = True
                raise
            if self.failing:
                log.warning("write-behind batches go in again", extra={"rows": len(rows)})
            self.failing = False
            self.batches += 1
            return len(rows)

    def close(self) -> int:
        """Stop taking rows (later ones are written directly) and write what is pending."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        return self.flush() if self._pid == os.getpid() else 0

    def _ensure_thread(self) -> None:
        # Called with the condition held.  Started on first use, in the process that uses it (gunicorn forks
        # after the app is built; a forked child inherits the rows list but not the thread).
        if not self.background:
            return
        if self._pid != os.getpid():
            self._pid, self._thread = os.getpid(), None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        backoff = self.interval
        while True:
            with self._cond:
                while not self._closed and not self.due():
                    wait = self.interval - (self.clock() - self._oldest) if self._rows else None
                    self._cond.wait(wait)
                if self._closed:
                    return  # close() writes the rest
            try:
                self.flush()
                backoff = self.interval
            except Exception:  # logged by flush() when it starts failing
                time.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)


def open_buffers() -> Iterator[WriteBehind]:
    return iter(list(_OPEN))


def close_all() -> int:
    """Write every buffer's pending rows (gunicorn's worker_exit hook, atexit); rows written."""
    written = 0
    for buffer in open_buffers():
        try:
            written += buffer.close()
        except Exception:
            log.exception("write-behind rows could not be written at shutdown", extra={"pending": buffer.pending})
    return written


atexit.register(close_all)

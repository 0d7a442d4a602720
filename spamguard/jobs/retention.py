"""Check rows are kept for a retention period, then deleted.

Every comment-check stores the comment and its author's IP address and e-mail.  Kept forever, that is
personal data held without a purpose, and a table that only grows: each of its indexes keyed by something
random (content hash, IP, e-mail, score) costs every new row a page read and write somewhere in the
index, so a check's own cost grew with the table (docs/measurements.md, "Writing a check row").

A check older than `SPAMGUARD_CHECK_RETENTION_DAYS` is deleted unless something still refers to it: a
label (feedback, which keeps its own copy of the comment for training), an asynchronous-verdict callback
or a decision sent to the site.  Retraining's implicit ham (`SPAMGUARD_IMPLICIT_HAM_DAYS`) reads only
recent checks: a shorter period is raised to its window (`for_config`).  Unreviewed checks in the
moderation queue go too once they are that old: a decision then no longer reaches the site in time.

Deletion is by chunks: each chunk's rows are found by a read, then deleted in a short transaction of their
own (SQLite: under the write lock, so checks being written wait for one chunk's delete, never for the
search), at most `max_rows` a pass; a pass runs at most every `every` seconds per process, from the
maintenance loop.  A chunk of 500 held the lock 41–46 ms and a pass deleted 90,000 rows in 7.8 s
(`bench/row_writes.py --prune`): 100,000 a pass every 10 minutes in each process is far more than the
checks a process answers in that time.  Idempotent: processes running it at once delete disjoint or
already-deleted rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, delete, exists, or_, select
from sqlalchemy.orm import Session

from spamguard.delivery.models import Callback, Decision
from spamguard.metrics import CHECKS_DELETED
from spamguard.storage.models import Check, Feedback

log = logging.getLogger(__name__)

CHECKS = cast(Table, Check.__table__)


class CheckRetention:
    def __init__(
        self,
        days: float,
        *,
        every: float = 600.0,
        chunk: int = 500,
        max_rows: int = 100_000,
        write_lock: Callable[[], AbstractContextManager[Any]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`days` ≤ 0 keeps every check (nothing is deleted)."""
        self.days = days
        self.every = every
        self.chunk = max(1, chunk)
        self.max_rows = max(self.chunk, max_rows)
        self.write_lock = write_lock or nullcontext
        self.now = now
        self.clock = clock
        self._last: float | None = None
        self.deleted = 0  # counted events, for tests and the logs

    @classmethod
    def for_config(cls, config: Any, write_lock: Callable[[], AbstractContextManager[Any]] | None) -> CheckRetention:
        days = float(config["SPAMGUARD_CHECK_RETENTION_DAYS"])
        if days > 0:
            days = max(days, float(config["SPAMGUARD_IMPLICIT_HAM_DAYS"]))
        return cls(days, write_lock=write_lock)

    def run_if_due(self, session: Session) -> int:
        """A pass when `every` seconds have gone by since the last one in this process; rows deleted."""
        if self.days <= 0 or (self._last is not None and self.clock() - self._last < self.every):
            return 0
        self._last = self.clock()
        return self.purge(session)

    def purge(self, session: Session) -> int:
        """Delete the checks older than the retention period that nothing refers to; rows deleted (chunks until
        `max_rows` is reached, so at most `max_rows + chunk - 1`)."""
        if self.days <= 0:
            return 0
        cutoff = self.now() - timedelta(days=self.days)
        total = 0
        after: tuple[datetime, int] | None = None  # where the last chunk ended: kept rows are walked once a pass
        while total < self.max_rows:
            # Found by a read (no write lock held while old, still-referenced rows are walked): the oldest
            # first along `ix_checks_created`, each probed in the referring tables' check_id indexes.
            found = select(Check.created_at, Check.id).where(Check.created_at < cutoff, *_unreferenced(Check.id))
            if after is not None:
                found = found.where(
                    or_(Check.created_at > after[0], and_(Check.created_at == after[0], Check.id > after[1]))
                )
            rows = session.execute(found.order_by(Check.created_at, Check.id).limit(self.chunk)).all()
            session.rollback()  # end the read before queueing for the write lock
            if not rows:
                break
            after = (rows[-1][0], rows[-1][1])
            # Checked again as it is deleted: a label may have arrived for one of them since.
            statement = delete(CHECKS).where(CHECKS.c.id.in_([row[1] for row in rows]), *_unreferenced(CHECKS.c.id))
            with self.write_lock():
                deleted = cast(CursorResult, session.execute(statement)).rowcount
                session.commit()
            total += deleted
            if len(rows) < self.chunk:
                break
        if total:
            self.deleted += total
            CHECKS_DELETED.inc(total)
            log.info(
                "old checks deleted",
                extra={"event": "checks_purged", "rows": total, "older_than_days": self.days},
            )
        return total


def _unreferenced(check_id: Any) -> tuple[Any, ...]:
    """No label, callback or decision refers to the check `check_id` (NOT EXISTS: an index probe each on
    SQLite, an anti-join on PostgreSQL, where NOT IN a large set would degrade to a scan per row)."""
    return (
        ~exists().where(Feedback.check_id == check_id),
        ~exists().where(Callback.check_id == check_id),
        ~exists().where(Decision.check_id == check_id),
    )

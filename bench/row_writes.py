"""What writing a check row costs as the checks table grows, with time-ordered and with random GUIDs.

    python bench/row_writes.py [--processes 2] [--rounds 6] [--rows 30000] [--batch 100] [--prune]

Forks `--processes` writers (gunicorn's workers) on one fresh, migrated SQLite file; each inserts
`--rounds` × `--rows` rows shaped like a comment-check's in batches of `--batch` (what the write-behind
buffer inserts at ≈ 1,000 checks a second per worker), one transaction each, under the production
`WriteLock`, with the same Core INSERT as `checking.py`.  Prints, per round, the table's size at its
end and each writer's CPU microseconds per row (its whole process: SQLAlchemy, the driver, SQLite),
first with `checking.new_guid` (the time first), then with 32 random hex digits (what GUIDs were before):
a random key lands on a random page of the unique index, so once that index outgrows the cache every
row reads and rewrites a page of it.  CPU time, so other load on the machine moves it only a little.

`--prune` then ages every other row of the time-ordered table by 100 days and runs one retention pass
(`spamguard/jobs/retention.py`, production chunk size, no row limit) over it, printing the rows deleted, the
pass's wall time and how long each chunk held the write lock (what a check writer may wait for).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spamguard import sites, storage  # noqa: E402
from spamguard.checking import INSERT_CHECK, new_guid  # noqa: E402
from spamguard.storage.models import utcnow  # noqa: E402
from spamguard.storage.write_lock import WriteLock  # noqa: E402

CONTENT = "Thanks for the detailed write-up, the part about the second step saved me an evening of debugging."


def random_guid() -> str:
    return os.urandom(16).hex()


def row(site_id: int, i: int, guid) -> dict:
    return {
        "guid": guid(),
        "site_id": site_id,
        "blog": "https://blog.example",
        "user_ip": f"10.{i % 250}.{(i // 250) % 250}.{i % 97}",
        "comment_author": f"reader {i % 3000}",
        "comment_author_email": f"reader{i % 5000}@example.com",
        "comment_content": f"{CONTENT} #{i}",
        "content_hash": os.urandom(32).hex(),
        "fields": {
            "blog": "https://blog.example",
            "user_ip": "10.0.0.1",
            "comment_content": f"{CONTENT} #{i}",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "referrer": "https://blog.example/post",
        },
        "is_test": False,
        "score": (i * 7919 % 1000) / 1000,
        "verdict": "ham",
        "reasons": ["ham signal: word “thanks”", "ham signal: word “debugging”"],
        "model_version": "bench",
        "created_at": utcnow(),
    }


def writer(url: str, site_id: int, number: int, args: argparse.Namespace, guid, out) -> None:
    engine = storage.make_engine(url)
    lock = WriteLock.for_url(url)
    per_round = []
    for rnd in range(args.rounds):
        rows = [row(site_id, (number * args.rounds + rnd) * args.rows + i, guid) for i in range(args.rows)]
        started = time.process_time()
        for at in range(0, len(rows), args.batch):
            with lock(), engine.begin() as connection:
                connection.execute(INSERT_CHECK, rows[at : at + args.batch])
        per_round.append((time.process_time() - started) / len(rows) * 1e6)
    out.write(" ".join(f"{v:.1f}" for v in per_round) + "\n")
    out.flush()


def run(args: argparse.Namespace, name: str, guid) -> str:
    work = Path(tempfile.mkdtemp(prefix="sg-rows-"))
    url = f"sqlite:///{work / 'rows.db'}"
    storage.upgrade(url)
    with storage.make_sessionmaker(url)() as session:
        site, _key = sites.create_site(session, "https://blog.example", secret="bench")
        site_id = site.id
    results = work / "results"
    results.mkdir()
    children = []
    for number in range(args.processes):
        pid = os.fork()
        if pid == 0:
            with open(results / f"{number}", "w") as out:
                writer(url, site_id, number, args, guid, out)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    rows_per_round = args.rows * args.processes
    print(f"{name} GUIDs: CPU µs per row, per writer, by round (table size at the end of the round)")
    lines = [(results / f"{n}").read_text().split() for n in range(args.processes)]
    for rnd in range(args.rounds):
        values = ", ".join(line[rnd] for line in lines)
        print(f"  {rows_per_round * (rnd + 1):>9,} rows: {values}")
    return url


def prune(url: str) -> None:
    from datetime import timedelta

    from sqlalchemy import bindparam, select, update

    from spamguard.jobs.retention import CHECKS, CheckRetention
    from spamguard.storage.models import Check

    engine = storage.make_engine(url)
    with engine.begin() as connection:  # through the column type: stored exactly as the service stores times
        rows = connection.execute(select(Check.id, Check.created_at).where(Check.id % 2 == 0)).all()
        connection.execute(
            update(CHECKS).where(CHECKS.c.id == bindparam("row_id")).values(created_at=bindparam("aged")),
            [{"row_id": row_id, "aged": created - timedelta(days=100)} for row_id, created in rows],
        )
    aged = len(rows)
    lock = WriteLock.for_url(url)
    held: list[float] = []

    @contextlib.contextmanager
    def timed_lock():
        with lock():
            started = time.perf_counter()
            try:
                yield
            finally:
                held.append(time.perf_counter() - started)

    retention = CheckRetention(90, max_rows=10**9, write_lock=timed_lock)
    started = time.perf_counter()
    with storage.make_sessionmaker(url)() as session:
        deleted = retention.purge(session)
    wall = time.perf_counter() - started
    held.sort()
    print(
        f"retention pass over {aged:,} rows aged 100 days: {deleted:,} deleted in {wall:.2f} s, {len(held)} chunks; "
        f"write lock held {1000 * held[len(held) // 2]:.0f} ms a chunk (median), {1000 * held[-1]:.0f} ms at most"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--rows", type=int, default=30_000, help="rows per writer per round")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--prune", action="store_true", help="then time a retention pass over half the rows")
    args = parser.parse_args()
    print(f"{args.processes} writers, batches of {args.batch}, load average {os.getloadavg()[0]:.1f}", flush=True)
    url = run(args, "time-ordered", new_guid)
    if args.prune:
        prune(url)
    run(args, "random", random_guid)


if __name__ == "__main__":
    main()

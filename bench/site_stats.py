"""Time the per-site statistics on a SQLite database: key-sites, get-stats and the stats page's overturn rates.

    python bench/site_stats.py [--rows 100000] [--repeat 20]

Seeds one site with `rows` checks over the last 30 days (several blogs, every
verdict, 2 % test calls, 5 % with an API report, 3 % reviewed), then times the
three consumers of the per-site figures and prints their p50 and the figures
themselves (so two versions of the code can be compared for speed and answers).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from spamguard import storage  # noqa: E402
from spamguard.api import usage_stats  # noqa: E402
from spamguard.moderation import stats as stats_page  # noqa: E402
from spamguard.storage.models import Check, Feedback, Site  # noqa: E402

VERDICTS = ("ham", "unsure", "spam", "discard")
BLOGS = [f"https://blog{i}.example/" for i in range(20)]


def seed(session, rows: int, rng: random.Random) -> Site:
    site = Site(url="https://bench.example", key_hash=uuid.uuid4().hex * 2, key_hint="abcd")
    session.add(site)
    session.commit()
    now = datetime.now(UTC)
    checks = []
    for i in range(rows):
        verdict = rng.choice(VERDICTS)
        reviewed = rng.random() < 0.03
        checks.append(
            {
                "guid": uuid.uuid4().hex,
                "site_id": site.id,
                "blog": rng.choice(BLOGS),
                "user_ip": "192.0.2.1",
                "comment_author": "a",
                "comment_author_email": "a@example.com",
                "comment_content": f"c{i}",
                "content_hash": uuid.uuid4().hex,
                "fields": {},
                "is_test": rng.random() < 0.02,
                "score": rng.random(),
                "verdict": verdict,
                "reasons": [],
                "model_version": "bench",
                "created_at": now - timedelta(seconds=rng.randrange(29 * 86400)),
                "reviewed_at": now if reviewed else None,
                "review_label": rng.choice(("spam", "ham")) if reviewed else None,
            }
        )
    session.execute(insert(Check), checks)
    session.commit()
    ids = [row[0] for row in session.execute(Check.__table__.select().with_only_columns(Check.id))]
    reports = [
        {
            "site_id": site.id,
            "check_id": cid,
            "label": rng.choice(("spam", "ham")),
            "source": "api",
            "reporter": "",
            "fields": {},
            "is_test": False,
            "created_at": now,
            "redis_synced": True,
        }
        for cid in rng.sample(ids, len(ids) // 20)
    ]
    session.execute(insert(Feedback), reports)
    session.commit()
    return site


def p50(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        storage.upgrade(url)
        session = storage.make_sessionmaker(url, storage.Timeouts(statement=0))()
        site = seed(session, args.rows, random.Random(7))
        month = usage_stats.current_month()
        since = datetime.now(UTC) - timedelta(days=30)
        runs = {
            "key-sites (this month, 20 blogs)": lambda: usage_stats.key_sites_report(
                session, site, month, "", "total", 500, 0
            )[0][:2],
            "get-stats (all)": lambda: usage_stats.stats_report(session, site, "all"),
            "stats page overturn rates": lambda: stats_page.overturn_rates(session, since)[-1],
        }
        print(f"{args.rows} checks, {args.rows // 20} API reports, p50 of {args.repeat} runs")
        for name, fn in runs.items():
            ms, result = p50(fn, args.repeat)
            print(f"  {name:<34} {ms:8.1f} ms   {result}")


if __name__ == "__main__":
    main()

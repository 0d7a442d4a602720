"""A from-DB retrain on a soak-shaped database: wall and CPU seconds, optionally a profile.

Builds (or reuses) a SQLite database the way bench/soak.py fills it: one site, the soak's request
mix (bench/check_latency.make_body) through the real service in-process: comment-checks, submit-spam/ham
with a random label, and moderator decisions on flagged checks through the same feedback path. Then
runs `train_and_register(from_db_session=...)` as the `spamguard worker` job does and prints the time.

    python bench/retrain_db.py --checks 20000 --db /tmp/soak-shaped.db            # build + time
    python bench/retrain_db.py --db /tmp/soak-shaped.db --reuse --profile 30       # time + top 30

Results and history: docs/measurements.md, "Full retrain from a soak-shaped database".
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from check_latency import make_body  # noqa: E402  (the soak's comment mix)


def build(database_url: str, model_dir: str, checks: int, seed: int) -> None:
    from sqlalchemy import select

    from spamguard import sites, storage
    from spamguard.app import create_app
    from spamguard.checking import record_feedback
    from spamguard.comment import Comment
    from spamguard.storage.models import Check, Site

    storage.upgrade(database_url)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SPAMGUARD_MODEL_DIR": model_dir,
            "SPAMGUARD_REDIS_PREFIX": f"bench-retrain-{uuid.uuid4().hex[:8]}:",
            "SPAMGUARD_BACKGROUND_TASKS": False,
            "SPAMGUARD_RATE_LIMIT_KEY": "10000000/minute",
            "SECRET_KEY": "bench",
            "SPAMGUARD_KEY_SECRET": "bench",
        }
    )
    with app.app_context():
        site, key = sites.create_site(storage.get_session(), "https://blog.example", secret="bench")
        site_id = site.id
    client = app.test_client()
    rng = random.Random(seed)
    n = 0
    while n < checks:
        roll = rng.random()
        if roll < 0.85:
            client.post(
                "/1.1/comment-check", data=make_body(key, rng), content_type="application/x-www-form-urlencoded"
            )
            n += 1
        elif roll < 0.93:
            endpoint = rng.choice(["submit-spam", "submit-ham"])
            client.post(f"/1.1/{endpoint}", data=make_body(key, rng), content_type="application/x-www-form-urlencoded")
        else:  # a moderator decides the newest unreviewed flagged check (the soak's first queue row)
            with app.test_request_context():
                db = storage.get_session()
                check = db.scalar(
                    select(Check)
                    .where(Check.reviewed_at.is_(None), Check.verdict != "ham")
                    .order_by(Check.created_at.desc(), Check.id.desc())
                    .limit(1)
                )
                if check is not None:
                    record_feedback(
                        db,
                        db.get(Site, site_id),
                        Comment.from_json(check.fields),
                        rng.choice(["spam", "ham"]),
                        source="moderator",
                        reporter="soak",
                        check=check,
                    )
        if n and n % 5000 == 0 and roll < 0.85:
            print(f"  {n} checks", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=20000)
    parser.add_argument("--db", default="", help="SQLite file (kept); default a temp file")
    parser.add_argument("--reuse", action="store_true", help="time a retrain on an existing --db")
    parser.add_argument(
        "--model-dir", default=str(ROOT / "var" / "models"), help="registry to copy the current model from"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions by cumulative time")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import shutil

    from sqlalchemy import text

    from spamguard import storage

    work = Path(tempfile.mkdtemp(prefix="sg-retrain-"))
    db_file = Path(args.db) if args.db else work / "soak.db"
    database_url = f"sqlite:///{db_file}"
    models = work / "models"
    shutil.copytree(args.model_dir, models)  # the retrain registers (and may promote) into a copy
    if not args.reuse:
        db_file.unlink(missing_ok=True)
        started = time.perf_counter()
        build(database_url, str(models), args.checks, args.seed)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    session = storage.make_sessionmaker(database_url)()
    counts = {t: session.execute(text(f"select count(*) from {t}")).scalar_one() for t in ("checks", "feedback")}
    print(f"database {db_file}: {db_file.stat().st_size / 2**20:.1f} MiB, {counts}", flush=True)

    from model_training.train import train_and_register

    profiler = cProfile.Profile() if args.profile else None
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    if profiler:
        profiler.enable()
    manifest = train_and_register(str(models), quick=args.quick, from_db_session=session, progress=False)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    print(
        f"retrain from DB ({'quick' if args.quick else 'full'}): wall {wall:.1f} s, CPU {cpu:.1f} s in-process"
        f" (+{children.ru_utime + children.ru_stime:.1f} s in child processes); "
        f"n_feedback {manifest['training_data']['n_feedback']}, promoted {manifest['promoted']}",
        flush=True,
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
    session.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

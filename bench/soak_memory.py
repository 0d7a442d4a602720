"""Where a worker's memory goes under soak traffic: the app driven in-process, tracemalloc diffs + RSS.

    python bench/soak_memory.py                              # quick-trained model, 6000 requests
    python bench/soak_memory.py --model-dir var/models --requests 20000 --threads 4 --promote

Builds the app as a gunicorn worker does (`create_app`, temporary SQLite, a private Redis prefix),
then sends the soak's mix (85 % comment-check, 15 % submit-spam/ham, bench/check_latency.py's bodies)
from --threads threads through Flask's test client. After --warmup requests (first-request
allocations: SQLAlchemy's compiled statements, Jinja, lazy imports) tracemalloc starts; a snapshot is
taken every --requests / --snapshots requests. With --promote the registry's other version is
promoted halfway (ModelHolder hot-reloads it), as in the soak. Prints per snapshot the RSS, the
Python-traced total, and at the end the allocation sites that grew most since the first snapshot.
RSS that grows while the traced total does not is allocator retention (arenas, fragmentation),
not live Python objects.

Results and history: docs/measurements.md, "Promotion step" and "Soak".
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import threading
import tracemalloc
import uuid
import weakref
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from check_latency import make_body  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", help="registry (else a quick model is trained; --promote needs two versions)")
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--snapshots", type=int, default=6)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--promote", action="store_true", help="promote the other registry version halfway")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-trace", action="store_true", help="RSS only (tracemalloc itself costs memory)")
    args = parser.parse_args()

    from spamguard import sites, storage
    from spamguard.app import create_app
    from spamguard.memory import release_freed_memory
    from spamguard.scoring.registry import Registry
    from spamguard.services import services

    work = Path(tempfile.mkdtemp(prefix="sg-soakmem-"))
    model_dir = args.model_dir
    if model_dir is None:
        from model_training.train import train_and_register

        model_dir = str(work / "models")
        train_and_register(model_dir, quick=True, progress=False)
        if args.promote:
            train_and_register(model_dir, quick=True, progress=False, promote=False)
    registry = Registry(model_dir)
    other = [m["version"] for m in registry.list() if not m["promoted"]]
    if args.promote and not other:
        raise SystemExit(f"--promote needs a second, unpromoted version in {model_dir}")

    url = f"sqlite:///{work / 'soak.db'}"
    storage.upgrade(url)
    prefix = f"sgsoakmem:{uuid.uuid4().hex[:8]}:"
    app = create_app(
        {
            "DATABASE_URL": url,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "SPAMGUARD_REDIS_PREFIX": prefix,
            "SPAMGUARD_MODEL_DIR": model_dir,
            "SECRET_KEY": "soak",
            "SPAMGUARD_KEY_SECRET": "soak",
            "SPAMGUARD_RATE_LIMIT_KEY": "100000000/minute",
            "SPAMGUARD_MODEL_RELOAD_SECONDS": 0.5,
            "SPAMGUARD_LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        _site, key = sites.create_site(storage.get_session(), "https://blog.example", secret="soak")
    original = registry.current_version()

    counter = iter(range(10**9))
    lock = threading.Lock()

    def drive(n: int, seed: int) -> None:
        rng = random.Random(seed)
        client = app.test_client()
        for _ in range(n):
            body = make_body(key, rng)
            path = "/1.1/comment-check" if rng.random() < 0.85 else f"/1.1/{rng.choice(['submit-spam', 'submit-ham'])}"
            status = client.post(path, data=body, content_type="application/x-www-form-urlencoded").status_code
            if status >= 500:
                print("5xx", path, status, file=sys.stderr)
            with lock:
                next(counter)

    def batch(n: int) -> None:
        threads = [
            threading.Thread(target=drive, args=(n // args.threads, random.randrange(1 << 30)))
            for _ in range(args.threads)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    batch(args.warmup)
    gc.collect()
    if not args.no_trace:
        tracemalloc.start(8)
    step = args.requests // args.snapshots
    snapshots = []
    adapter = services(app).checks.adapter

    def cached_rows() -> int:  # site adaptation's scored-row cache (see spamguard/adaptation/service.py)
        return len(adapter._rows) if adapter is not None else 0

    print(f"{'requests':>9} {'RSS MB':>8} {'traced MB':>10} {'adapt rows':>10}")
    print(
        f"{0:>9} {rss_mb():8.1f} {tracemalloc.get_traced_memory()[0] / 2**20:10.1f} {cached_rows():10d}"
        f"   (after {args.warmup} warm-up)"
    )
    first = tracemalloc.take_snapshot() if not args.no_trace else None
    for i in range(args.snapshots):
        if args.promote and i == args.snapshots // 2:
            previous = weakref.ref(services(app).models.current())
            registry.promote(other[0], reason="soak_memory")
            print(f"          promoted {other[0]}")
        batch(step)
        gc.collect()
        if args.promote and i >= args.snapshots // 2:
            before = rss_mb()
            release_freed_memory()
            print(
                f"          previous model still referenced: {previous() is not None}; "
                f"RSS {before:.1f} MB, {rss_mb():.1f} MB after another gc + malloc_trim"
            )
        traced = tracemalloc.get_traced_memory()[0] / 2**20
        print(f"{(i + 1) * step:>9} {rss_mb():8.1f} {traced:10.1f} {cached_rows():10d}")
        if not args.no_trace:
            snapshots.append(tracemalloc.take_snapshot())
    if args.promote:
        registry.promote(original, reason="soak_memory restore")
    if first is not None:
        skip = [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        ]
        diff = snapshots[-1].filter_traces(skip).compare_to(first.filter_traces(skip), "traceback")
        print(f"\ntop {args.top} growth since the first snapshot (size diff, count diff, where):")
        for stat in diff[: args.top]:
            frames = [f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback]
            print(f"{stat.size_diff / 1024:+9.0f} KiB {stat.count_diff:+7d}  {' <- '.join(reversed(frames[-4:]))}")
    import redis

    client = redis.Redis.from_url(app.config["REDIS_URL"])
    keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    print(json.dumps({"rss_mb": round(rss_mb(), 1)}))


if __name__ == "__main__":
    main()

"""Soak: mixed traffic at 80 % of the measured maximum, with a retrain and a promotion in the middle.

    python bench/soak.py                          # 10 minutes (the issue's target run)
    python bench/soak.py --duration 90            # a short run
    python bench/soak.py --database-url postgresql+psycopg://postgres@127.0.0.1/test_soak

Starts gunicorn (2 workers, through the test suite's launcher tests/live_server.py) and
`spamguard worker` on a temporary database and a quickly trained model, creates a key and an admin, then:

0. trains a model and a spare version (registered, not promoted);
1. measures the maximum comment-check throughput for --calibrate seconds (closed loop);
2. drives an open-loop mix at --load x that rate for --duration seconds: 85 % checks,
   8 % submit-spam/ham, 7 % moderator decisions through the web UI (login + CSRF); at 1/3 a
   retrain from the admin UI (run by the worker), at 1/2 the spare version promoted in the admin UI;
3. prints, per --window (60 s), requests, 5xx, p50/p99; the RSS of every gunicorn worker every
   --rss-every seconds from the soak's start; then the totals: 5xx count, p99 over time and RSS
   growth per worker from the start and from the first sample after --warmup (target: 0 and < 10 %).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from check_latency import make_body  # noqa: E402  (the same realistic comment mix)
from live_server import LiveServer  # noqa: E402  (the test suite's one gunicorn launcher)

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CHECK_LINK = re.compile(r"/moderation/checks/(\d+)")
PASSWORD = "soak test admin password"


def rss_of_workers(master_pid: int) -> dict[int, int]:
    """RSS (bytes) of each gunicorn worker: the master's children."""
    out = {}
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != master_pid:
                continue
            rss = next(
                line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:")
            )
            out[pid] = int(rss.split()[1]) * 1024
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return out


class Recorder:
    def __init__(self, window: float) -> None:
        self.window = window
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.latencies: dict[int, list[float]] = defaultdict(list)
        self.errors: dict[int, int] = defaultdict(int)
        self.transport: dict[int, int] = defaultdict(int)  # no answer within the client's 10 s timeout
        self.kinds: dict[str, int] = defaultdict(int)

    def add(self, kind: str, seconds: float, status: int) -> None:
        slot = int((time.monotonic() - self.started) // self.window)
        with self.lock:
            self.latencies[slot].append(seconds)
            self.kinds[kind] += 1
            if status >= 500:
                self.errors[slot] += 1
            elif status == 0:
                self.transport[slot] += 1


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Moderator:
    """A logged-in admin session on the web UI."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=10)
        page = self.client.get("/login").text
        self.client.post(
            "/login", data={"username": "soak", "password": PASSWORD, "csrf_token": TOKEN.search(page).group(1)}
        )
        self.lock = threading.Lock()

    def token(self, path: str) -> str:
        return TOKEN.search(self.client.get(path).text).group(1)

    def decide(self) -> int:
        with self.lock:
            page = self.client.get("/moderation")
            ids = CHECK_LINK.findall(page.text)
            if not ids:
                return page.status_code
            token = TOKEN.search(page.text).group(1)
            return self.client.post(
                f"/moderation/checks/{ids[0]}/decide",
                data={"label": random.choice(["spam", "ham"]), "csrf_token": token},
            ).status_code

    def retrain(self) -> int:
        with self.lock:
            return self.client.post(
                "/admin/models/retrain", data={"from_db": "1", "csrf_token": self.token("/admin/models")}
            ).status_code

    def promote_previous(self, version: str) -> int:
        with self.lock:
            return self.client.post(
                "/admin/models/promote", data={"version": version, "csrf_token": self.token("/admin/models")}
            ).status_code


def calibrate(url: str, key: str, seconds: float, threads: int) -> float:
    done = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < stop:
                client.post(
                    f"{url}/1.1/comment-check",
                    content=make_body(key, rng),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                with lock:
                    done[0] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return done[0] / seconds


def soak(
    url: str,
    key: str,
    rate: float,
    duration: float,
    threads: int,
    moderator: Moderator,
    recorder: Recorder,
    events: list[str],
    spare_version: str,
) -> None:
    """Open loop: request i is due at start + i / rate, whatever earlier ones took."""
    start = time.monotonic()
    next_slot = [0]
    lock = threading.Lock()

    def take() -> float | None:
        with lock:
            i = next_slot[0]
            next_slot[0] += 1
        due = start + i / rate
        return None if due - start > duration else due

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=10) as client:
            while (due := take()) is not None:
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                roll = rng.random()
                began = time.monotonic()
                status = 0
                kind = "check"
                try:
                    if roll < 0.85:
                        status = client.post(
                            f"{url}/1.1/comment-check",
                            content=make_body(key, rng),
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                        ).status_code
                    elif roll < 0.93:
                        kind = "feedback"
                        endpoint = rng.choice(["submit-spam", "submit-ham"])
                        status = client.post(
                            f"{url}/1.1/{endpoint}",
                            content=make_body(key, rng),
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                        ).status_code
                    else:
                        kind = "decision"
                        status = moderator.decide()
                except httpx.HTTPError:
                    status = 0
                recorder.add(kind, time.monotonic() - began, status)

    finished = threading.Event()

    def readyz_version() -> str | None:
        try:
            return httpx.get(f"{url}/readyz", timeout=5).json()["checks"]["model"]["version"]
        except (httpx.HTTPError, ValueError, KeyError):
            return None

    def middle() -> None:
        """At 1/3 a retrain from the admin UI (the worker runs it); at 1/2 a promotion of the spare version."""
        if finished.wait(duration / 3):
            return
        before = readyz_version()
        events.append(f"{time.monotonic() - start:6.0f}s retrain queued (HTTP {moderator.retrain()}), serving {before}")
        if finished.wait(duration / 2 - duration / 3):
            return
        status = moderator.promote_previous(spare_version)
        events.append(f"{time.monotonic() - start:6.0f}s promoted {spare_version} in the admin UI (HTTP {status})")
        while not finished.wait(1):
            now = readyz_version()
            if now not in (before, spare_version, None):
                events.append(f"{time.monotonic() - start:6.0f}s retrained model {now} promoted and hot-loaded")
                return
            if now == spare_version and "serving spare" not in " ".join(events):
                events.append(f"{time.monotonic() - start:6.0f}s serving spare {now} (hot-reloaded)")

    helper = threading.Thread(target=middle, daemon=True)
    helper.start()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    finished.set()
    helper.join(timeout=10)
    if not any("retrained model" in e for e in events):
        events.append("retrain still running when the soak ended (a full retrain takes minutes on a busy box)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="soak seconds (default 600)")
    parser.add_argument("--calibrate", type=float, default=20.0, help="seconds to measure the maximum")
    parser.add_argument("--load", type=float, default=0.8, help="fraction of the maximum to drive")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per latency window")
    parser.add_argument("--rss-every", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds before the RSS baseline: first requests on every thread build lazy state "
        "(per-thread DB connections, compiled SQL, page templates, malloc arenas)",
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="spamguard-soak-"))
    prefix = f"soak{os.getpid()}:"
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url or f"sqlite:///{work / 'soak.db'}",
        "REDIS_URL": args.redis_url,
        "SPAMGUARD_REDIS_PREFIX": prefix,
        "SPAMGUARD_MODEL_DIR": str(work / "models"),
        "SPAMGUARD_VAR_DIR": str(work),
        "SECRET_KEY": "soak",
        "SPAMGUARD_LOG_LEVEL": "WARNING",
        "SPAMGUARD_ENV_FILE": os.devnull,
        # LiveServer gives gunicorn work/server-metrics; the worker and the CLI share it, as before.
        "PROMETHEUS_MULTIPROC_DIR": str(work / "server-metrics"),
        "SPAMGUARD_RATE_LIMIT_KEY": "1000000/minute",
    }
    (work / "server-metrics").mkdir()
    cli = [sys.executable, "-m", "spamguard.cli"]
    subprocess.run(cli + ["db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(cli + ["model", "train", "--quick"], env=env, check=True, capture_output=True)
    # A second, registered but not promoted version: what the mid-soak promotion switches to.
    spare = subprocess.run(
        cli + ["model", "train", "--quick", "--no-promote"], env=env, check=True, capture_output=True, text=True
    ).stdout
    spare_version = re.search(r"registered (\S+)", spare).group(1)
    key = subprocess.run(
        cli + ["keys", "create", "--site", "https://blog.example"], env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    subprocess.run(
        cli + ["users", "create", "--username", "soak", "--role", "admin", "--password-stdin"],
        env=env,
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    # LiveServer: the packaged gunicorn settings, gthread, its own session, the log in work/server.log.
    server = LiveServer(env, work, workers=2, name="server", access_log=False)
    url = server.url
    log = open(work / "worker.log", "wb")
    worker = subprocess.Popen(cli + ["worker"], env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        server.wait_ready()
        for _ in range(300):  # /healthz answers before the model is loaded; calibrate against a ready server
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        maximum = calibrate(url, key, args.calibrate, args.threads)
        rate = maximum * args.load
        print(
            f"maximum {maximum:.0f} checks/s over {args.calibrate:.0f}s; soaking at {rate:.0f} req/s "
            f"({args.load:.0%}) for {args.duration:.0f}s, {args.threads} client threads"
        )
        moderator = Moderator(url)
        recorder = Recorder(args.window)
        events: list[str] = []
        rss: dict[int, list[int]] = defaultdict(list)
        stop = threading.Event()

        def sample_rss() -> None:
            while True:
                for pid, value in rss_of_workers(server.process.pid).items():
                    rss[pid].append(value)
                if stop.wait(args.rss_every):
                    return

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        soak(url, key, rate, args.duration, args.threads, moderator, recorder, events, spare_version)
        stop.set()

        print(f"{'window':>8} {'requests':>9} {'5xx':>5} {'no answer':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for slot in sorted(recorder.latencies):
            values = recorder.latencies[slot]
            print(
                f"{slot * args.window:7.0f}s {len(values):9d} {recorder.errors[slot]:5d} {recorder.transport[slot]:9d} "
                f"{pct(values, 0.5) * 1000:8.1f} {pct(values, 0.99) * 1000:8.1f}"
            )
        for line in events:
            print("event", line)
        total = sum(len(v) for v in recorder.latencies.values())
        print(
            f"requests {total} ({dict(recorder.kinds)}), 5xx {sum(recorder.errors.values())}, "
            f"no answer within 10 s {sum(recorder.transport.values())}"
        )
        log.flush()
        problems = [
            line
            for line in (server.log() + (work / "worker.log").read_text(errors="replace")).splitlines()
            if '"ERROR"' in line or "CRITICAL" in line or "Traceback" in line or "WORKER TIMEOUT" in line
        ]
        for line in problems[:20]:
            print("server log:", line[:300])
        warm = int(args.warmup // args.rss_every)
        print(
            f"RSS per worker every {args.rss_every:.0f}s from the soak's start (after calibration); "
            f"growth from the start and from the first sample after {args.warmup:.0f}s of warm-up"
        )
        for pid, values in sorted(rss.items()):
            series = " ".join(f"{v / 2**20:.0f}" for v in values)
            if len(values) > warm + 1:
                from_start = (values[-1] - values[0]) / values[0]
                from_warm = (values[-1] - values[warm]) / values[warm]
                print(
                    f"worker {pid}: RSS {values[0] / 2**20:.0f} -> {values[-1] / 2**20:.0f} MiB, growth "
                    f"{from_start:+.1%} from start, {from_warm:+.1%} after warm-up "
                    f"({values[warm] / 2**20:.0f} MiB); samples: {series} MiB"
                )
            else:
                print(f"worker {pid}: RSS samples {series} MiB (worker restarted or run too short)")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        server.stop()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        log.close()
        import redis

        shutil.rmtree(work, ignore_errors=True)
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()

"""Soak: mixed traffic at 80 % of the measured maximum, with a retrain and a promotion in the middle.

    python bench/soak.py                          # 10 minutes (the issue's target run)
    python bench/soak.py --duration 90            # a short run
    python bench/soak.py --database-url postgresql+psycopg://postgres@127.0.0.1/test_soak

Starts gunicorn (2 workers, through the test suite's launcher tests/live_server.py) and
`spamguard worker` on a temporary database and a quickly trained model, creates a key and an admin, then:

0. trains a model and a spare version (registered, not promoted);
1. calibrates: queues a full retrain from the admin UI and, while the worker runs it on the same
   cores, measures the maximum throughput of the soak's own mix for --calibrate seconds (closed loop):
   85 % checks, 8 % submit-spam/ham, 7 % moderator decisions through the web UI (login + CSRF).
   The retrain is the heaviest thing the soak does, so 80 % of this maximum is sustainable throughout;
2. warms up at the soak rate until the workers' bounded caches are effectively full, so that growth
   afterwards measures leaks and not warm-up: at least --warmup seconds, the calibration retrain done
   and its model hot-loaded, 2 x SPAMGUARD_SITE_ADAPT_MAX_LABELS labels stored (site adaptation's
   scored-row cache at its working set) and, on SQLite, the database larger than a connection's page
   cache. The reason-name cache fills within seconds with this mix (nine distinct comments);
3. drives the open-loop mix at --load x the maximum for --duration seconds: at 1/3 a retrain from the
   admin UI (run by the worker), at 1/2 the spare version promoted in the admin UI;
4. prints, per --window (60 s), requests, 5xx, p50/p99; planned vs achieved rate and how late requests
   were sent (an open loop that falls behind says so); the RSS of every gunicorn worker every --rss-every
   seconds from the calibration on, and its growth from the start and from the end of the warm-up
   (target: 0 5xx and < 10 %).

Results and history: docs/measurements.md, "Soak".
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
        self.late: list[float] = []  # open loop: seconds each request was sent after it was due
        self.load: dict[int, float] = {}  # the box's 1-minute load average as each window began (shared box)

    def add(self, kind: str, seconds: float, status: int, late: float = 0.0) -> None:
        slot = int((time.monotonic() - self.started) // self.window)
        with self.lock:
            if slot not in self.load:
                self.load[slot] = os.getloadavg()[0]
            self.latencies[slot].append(seconds)
            self.kinds[kind] += 1
            self.late.append(late)
            if status >= 500:
                self.errors[slot] += 1
            elif status == 0:
                self.transport[slot] += 1

    def total(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def summary(self) -> str:
        every = [x for v in self.latencies.values() for x in v]
        return (
            f"{self.total()} requests ({dict(self.kinds)}), 5xx {sum(self.errors.values())}, "
            f"no answer within 10 s {sum(self.transport.values())}, p50 {pct(every, 0.5) * 1000:.0f} ms, "
            f"p99 {pct(every, 0.99) * 1000:.0f} ms"
        )


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


def one_request(client: httpx.Client, url: str, key: str, rng: random.Random, moderator: Moderator) -> tuple[str, int]:
    """One request of the soak's mix: (kind, HTTP status; 0 when no answer came)."""
    roll = rng.random()
    kind = "check" if roll < 0.85 else "feedback" if roll < 0.93 else "decision"
    try:
        if kind == "decision":
            return kind, moderator.decide()
        endpoint = "comment-check" if kind == "check" else rng.choice(["submit-spam", "submit-ham"])
        return kind, client.post(
            f"{url}/1.1/{endpoint}",
            content=make_body(key, rng),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status_code
    except httpx.HTTPError:
        return kind, 0


def calibrate(url: str, key: str, seconds: float, threads: int, moderator: Moderator, recorder: Recorder) -> float:
    """Closed loop, the soak's mix: requests answered per second."""
    stop = time.monotonic() + seconds

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < stop:
                began = time.monotonic()
                kind, status = one_request(client, url, key, rng, moderator)
                recorder.add(kind, time.monotonic() - began, status)

    workers = [threading.Thread(target=loop, args=(1000 + i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return recorder.total() / seconds


def open_loop(
    url: str,
    key: str,
    rate: float,
    threads: int,
    moderator: Moderator,
    recorder: Recorder,
    duration: float | None = None,
    stop: threading.Event | None = None,
) -> float:
    """Request i is due at start + i / rate, whatever earlier ones took, until `duration` or `stop`.

    Returns the wall time from the start to the last answer."""
    start = time.monotonic()
    next_slot = [0]
    lock = threading.Lock()

    def take() -> float | None:
        with lock:
            i = next_slot[0]
            next_slot[0] += 1
        due = start + i / rate
        if (duration is not None and due - start > duration) or (stop is not None and stop.is_set()):
            return None
        return due

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=10) as client:
            while (due := take()) is not None:
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                began = time.monotonic()
                kind, status = one_request(client, url, key, rng, moderator)
                recorder.add(kind, time.monotonic() - began, status, late=began - due)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.monotonic() - start


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
) -> float:
    """The open loop for `duration` with the retrain at 1/3 and the promotion at 1/2; returns the wall time."""
    start = time.monotonic()
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
    wall = open_loop(url, key, rate, threads, moderator, recorder, duration=duration)
    finished.set()
    helper.join(timeout=10)
    return wall


def queue_busy(queue) -> bool:
    """A retrain queued or running in `spamguard worker`."""
    from rq.registry import StartedJobRegistry

    return queue.count > 0 or StartedJobRegistry(queue=queue).count > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="soak seconds (default 600)")
    parser.add_argument("--calibrate", type=float, default=30.0, help="seconds to measure the maximum")
    parser.add_argument(
        "--retrain-wait", type=float, default=600.0, help="seconds to wait after the soak for the mid-soak retrain"
    )
    parser.add_argument("--load", type=float, default=0.8, help="fraction of the maximum to drive")
    parser.add_argument("--threads", type=int, default=8, help="client threads measuring the maximum (closed loop)")
    parser.add_argument(
        "--open-threads",
        type=int,
        default=32,
        help="client threads of the open loop: enough that a few slow answers do not hold the next requests back",
    )
    parser.add_argument("--window", type=float, default=60.0, help="seconds per latency window")
    parser.add_argument("--rss-every", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="least seconds of warm-up at the soak rate")
    parser.add_argument("--warmup-max", type=float, default=900.0, help="most seconds of warm-up")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    import redis
    import sqlalchemy
    from rq import Queue

    from spamguard.config import from_env
    from spamguard.jobs.queue import QUEUE_NAME
    from spamguard.scoring.registry import Registry

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
    labels_needed = 2 * from_env(env)["SPAMGUARD_SITE_ADAPT_MAX_LABELS"]  # the adaptation query's window
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
    database = sqlalchemy.create_engine(env["DATABASE_URL"])
    initial_version = Registry(work / "models").current_version()
    sqlite_file = work / "soak.db" if not args.database_url else None
    jobs = Queue(f"{prefix}{QUEUE_NAME}", connection=redis.Redis.from_url(args.redis_url))
    # LiveServer: the packaged gunicorn settings, gthread, its own session, the log in work/server.log.
    server = LiveServer(env, work, workers=2, name="server", access_log=False)
    url = server.url
    log = open(work / "worker.log", "wb")
    worker = subprocess.Popen(cli + ["worker"], env=env, stdout=log, stderr=log, start_new_session=True)
    rss: list[tuple[float, str, dict[int, int]]] = []  # (seconds from the calibration, phase, pid -> bytes)
    phase = ["calibration"]
    stop_sampling = threading.Event()
    try:
        server.wait_ready()
        for _ in range(300):  # /healthz answers before the model is loaded; calibrate against a ready server
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        moderator = Moderator(url)
        began = time.monotonic()

        def sample_rss() -> None:
            while True:
                rss.append((time.monotonic() - began, phase[0], rss_of_workers(server.process.pid)))
                if stop_sampling.wait(args.rss_every):
                    return

        threading.Thread(target=sample_rss, daemon=True).start()

        # 1. The maximum of the soak's mix while a full retrain runs on the same cores.
        print(f"retrain queued for the calibration (HTTP {moderator.retrain()})", flush=True)
        for _ in range(300):
            if queue_busy(jobs) and jobs.count == 0:  # picked up by the worker
                break
            time.sleep(0.1)
        calibration = Recorder(args.window)
        maximum = calibrate(url, key, args.calibrate, args.threads, moderator, calibration)
        overlap = "the retrain running throughout" if queue_busy(jobs) else "the retrain FINISHED before the end"
        rate = maximum * args.load
        print(
            f"calibration ({args.calibrate:.0f}s, closed loop, {overlap}, load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} cores): {calibration.summary()}"
        )
        print(
            f"maximum {maximum:.0f} req/s of the mix; soaking at {rate:.0f} req/s ({args.load:.0%}) "
            f"for {args.duration:.0f}s ({args.open_threads} client threads)",
            flush=True,
        )

        # 2. Warm-up at the soak rate until the bounded caches are full.
        phase[0] = "warm-up"
        warm = Recorder(args.window)
        done = threading.Event()
        reached: list[str] = []

        def caches_full() -> None:
            warm_began = time.monotonic()
            while not done.wait(2):
                with database.connect() as connection:
                    labels = connection.execute(sqlalchemy.text("select count(*) from feedback")).scalar_one()
                size = sqlite_file.stat().st_size if sqlite_file else 0
                waited = time.monotonic() - warm_began
                conditions = {
                    f"{args.warmup:.0f}s passed": waited >= args.warmup,
                    "calibration retrain done": not queue_busy(jobs),
                    f"{labels_needed} labels stored ({labels})": labels >= labels_needed,
                    # SQLite's default page cache is 2,000 KiB per connection.
                    f"database {size / 2**20:.1f} MiB > 2 MiB page cache": sqlite_file is None or size > 2000 * 1024,
                }
                if all(conditions.values()) or waited >= args.warmup_max:
                    reached.append(
                        f"after {waited:.0f}s: "
                        + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in conditions.items())
                    )
                    done.set()

        watcher = threading.Thread(target=caches_full, daemon=True)
        watcher.start()
        open_loop(url, key, rate, args.open_threads, moderator, warm, stop=done)
        rss.append((time.monotonic() - began, "warm-up end", rss_of_workers(server.process.pid)))
        print(f"warm-up {reached[0] if reached else ''}: {warm.summary()}", flush=True)
        versions = Registry(work / "models").list()
        retrained = [m["version"] for m in versions if m["version"] not in (initial_version, spare_version)]
        serving = httpx.get(f"{url}/readyz", timeout=5).json()["checks"]["model"]["version"]
        outcome = "failed" if not retrained else "promoted" if serving in retrained else "registered, not promoted"
        print(f"calibration retrain: {outcome} {' '.join(retrained)}; workers serving {serving}", flush=True)

        # 3. The soak.
        phase[0] = "soak"
        recorder = Recorder(args.window)
        events: list[str] = []
        wall = soak(url, key, rate, args.duration, args.open_threads, moderator, recorder, events, spare_version)
        rss.append((time.monotonic() - began, "soak end", rss_of_workers(server.process.pid)))
        stop_sampling.set()
        # The mid-soak retrain's real outcome, read from the queue and the registry (not guessed from
        # what is served: the spare's promotion replaces a retrained model that was promoted before it).
        waited_from = time.monotonic()
        while queue_busy(jobs) and time.monotonic() - waited_from < args.retrain_wait:
            time.sleep(1)
        late = time.monotonic() - waited_from
        known = {initial_version, spare_version, *retrained}
        registry = Registry(work / "models")
        fresh = [m["version"] for m in registry.list() if m["version"] not in known]
        ever_promoted = {entry.get("version") for entry in registry.history()} | {registry.current_version()}
        if queue_busy(jobs):
            events.append(f"mid-soak retrain still running {late:.0f}s after the soak ended (gave up waiting)")
        else:
            when = "during the soak" if late < 1 else f"{late:.0f}s after the soak ended (no traffic then)"
            result = (
                "failed (nothing registered)"
                if not fresh
                else " ".join(
                    f"{v} ({'promoted' if v in ever_promoted else 'registered, not promoted'})" for v in fresh
                )
            )
            events.append(f"mid-soak retrain finished {when}: {result}")

        print(f"{'window':>8} {'requests':>9} {'5xx':>5} {'no answer':>9} {'p50 ms':>8} {'p99 ms':>8} {'load':>5}")
        for slot in sorted(recorder.latencies):
            values = recorder.latencies[slot]
            print(
                f"{slot * args.window:7.0f}s {len(values):9d} {recorder.errors[slot]:5d} {recorder.transport[slot]:9d} "
                f"{pct(values, 0.5) * 1000:8.1f} {pct(values, 0.99) * 1000:8.1f} {recorder.load[slot]:5.1f}"
            )
        for line in events:
            print("event", line)
        total = recorder.total()
        kept_up = wall <= args.duration + 10 and total / wall >= 0.97 * rate
        print(f"soak: {recorder.summary()}")
        print(
            f"planned {rate:.1f} req/s for {args.duration:.0f}s; achieved {total / wall:.1f} req/s, last answer "
            f"after {wall:.0f}s; requests sent late by p50 {pct(recorder.late, 0.5) * 1000:.0f} ms, "
            f"p99 {pct(recorder.late, 0.99) * 1000:.0f} ms, max {max(recorder.late, default=0):.1f} s: "
            + ("kept up" if kept_up else "FELL BEHIND (the offered rate was more than the box served)")
        )
        log.flush()
        problems = [
            line
            for line in (server.log() + (work / "worker.log").read_text(errors="replace")).splitlines()
            if '"ERROR"' in line or "CRITICAL" in line or "Traceback" in line or "WORKER TIMEOUT" in line
        ]
        for line in problems[:20]:
            print("server log:", line[:300])
        report_rss(rss)
    finally:
        stop_sampling.set()
        os.killpg(worker.pid, signal.SIGTERM)
        server.stop()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        log.close()
        database.dispose()
        shutil.rmtree(work, ignore_errors=True)
        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


def report_rss(rss: list[tuple[float, str, dict[int, int]]]) -> None:
    """Per worker: the series with its phases, growth from the start and from the end of the warm-up."""
    mib = 2**20
    baseline = next((values for _t, name, values in rss if name == "warm-up end"), {})
    print("RSS per worker (MiB), sampled from the calibration on; growth to the soak's end")
    for pid in sorted({pid for _t, _name, values in rss for pid in values}):
        series = [(t, name, values[pid]) for t, name, values in rss if pid in values]
        first, last = series[0][2], series[-1][2]
        text = " ".join(f"{t:.0f}s:{v / mib:.0f}" + ("|" if name == "warm-up end" else "") for t, name, v in series)
        if pid not in baseline or series[-1][1] != "soak end":
            print(f"worker {pid}: not alive throughout (restarted?): {text}")
            continue
        warm = baseline[pid]
        print(
            f"worker {pid}: start {first / mib:.0f}, after warm-up {warm / mib:.0f}, max {max(v for *_, v in series) / mib:.0f}, "
            f"end {last / mib:.0f} MiB: growth {(last - warm) / warm:+.1%} after warm-up, {(last - first) / first:+.1%} from "
            f"the start\n  samples (| = end of warm-up): {text}"
        )


if __name__ == "__main__":
    main()

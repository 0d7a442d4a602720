"""comment-check against a trivial Flask endpoint, same gunicorn settings, same load generator, same run.

    python bench/fullstack.py                    # quick-trained model, temp SQLite, 2 rounds of 10 s each
    python bench/fullstack.py --seconds 20 --rounds 3 --model-dir var/models
    python bench/fullstack.py --model-dir var/models --seconds 4 --rounds 8 --compare /tmp/base   # before/after
    python bench/fullstack.py --model-dir var/models --rounds 1 --growth 8 [--compare /tmp/base]   # as the table grows

Starts two gunicorn servers with the suite's launcher (tests/live_server.py: the packaged gunicorn
settings, gthread; workers and threads from --workers/--threads): SpamGuard on a temporary SQLite database with a key whose rate limit is raised
so nothing is refused, and `bench/trivial_app.py`, which parses the same form and answers `false`.
Debian's `wrk` drives both with the same realistic comment bodies (bench/check_latency.py's mix),
alternating trivial → SpamGuard, at 16 connections (throughput) and at 2 connections (latency).
Each server first gets a 2 s warm-up burst (not counted).
Prints req/s, p50 and p99 per run, the median over rounds, the SpamGuard/trivial throughput ratio,
the number of non-200 or malformed answers, the workers' CPU milliseconds per answered request (from
/proc: comparable on a loaded box, where wall-clock numbers are not), the Redis server's CPU microseconds per
answered request (`INFO cpu` user + sys of the server at REDIS_URL, read around each run: the part of a check's
cost the workers' column leaves out; other users of a shared server add to it, the trivial endpoint's column
is that noise), each SpamGuard worker's RSS after the run, and how many rounds were lopsided (one worker did
90 % or more of the work, so the round measured one core: on one shared socket, SPAMGUARD_LISTEN_PER_WORKER=false,
the workers race to accept and all of wrk's kept-alive connections can land on one of them; with a socket per
worker, the default, a hash can still put both of 2 connections on one).

`--growth N` then drives each SpamGuard server (and the compared one, alternating) N more times at 16
connections, `--seconds` each, and prints every run's req/s and worker CPU per request beside the number of
rows in that server's checks table: whether a check costs more as the table grows (each run adds
≈ `--seconds` × 1,500 rows).

`--compare DIR` serves a second SpamGuard from another checkout's code (a clone of main: it runs with
this interpreter and imports that tree's `spamguard`, so nothing needs installing there; same model)
on a database of its own, and puts it in the same rotation (trivial → this tree → the other, reversed
every other round): both trees see the same box load, which on a shared box swings more between runs
a minute apart than a change does.  Short bursts and more rounds (e.g. 4 s × 8) suit it.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from check_latency import BLOG, make_body  # noqa: E402
from live_server import LiveServer  # noqa: E402  (the test suite's one gunicorn launcher)

KEY_SECRET = "bench-key-secret"  # the servers get it too, so the key made here is valid there

WRK_SCRIPT = r"""
local bodies = {%s}
counter = 0
errors = 0  -- globals: done() reads them with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counter = math.random(#bodies)
end

function request()
  counter = counter %% #bodies + 1
  return wrk.format("POST", "/1.1/comment-check",
    {["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"}, bodies[counter])
end

function response(status, headers, body)
  if status ~= 200 or (body ~= "true" and body ~= "false") then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("errors")
  end
  io.write(string.format("BAD %%d\n", bad))
end
"""


def lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b:03d}" if b < 32 or b > 126 or chr(b) in '"\\' else chr(b) for b in data) + '"'


def worker_rss_mb(master_pid: int) -> list[float]:
    """RSS of each gunicorn worker (the master's children), from /proc."""
    sizes = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", text, re.M)
        rss = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
        if ppid and rss and int(ppid.group(1)) == master_pid:
            sizes.append(int(rss.group(1)) / 1024)
    return sorted(sizes)


def workers_cpu_seconds(master_pid: int) -> dict[int, float]:
    """User + system CPU of each of the master's children (the workers), by pid, from /proc/<pid>/stat."""
    seconds = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:  # fields[1] is the ppid; utime and stime are fields 14 and 15 of stat
            seconds[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def redis_cpu_reader(url: str) -> Callable[[], float] | None:
    """User + system CPU seconds of the Redis server at `url` (`INFO cpu`); None for a cluster or memory://."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    client = redis.Redis.from_url(url)

    def read() -> float:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    return read


def checks_rows(database_url: str) -> int:
    """Rows in the checks table (the highest id: a count would scan the table); rows still buffered not included."""
    import sqlite3

    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        return int(connection.execute("SELECT coalesce(max(id), 0) FROM checks").fetchone()[0])


def ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(
    url: str, script: Path, connections: int, seconds: int, master_pid: int, redis_cpu: Callable[[], float] | None
) -> dict[str, float]:
    cpu_before = workers_cpu_seconds(master_pid)
    redis_before = redis_cpu() if redis_cpu else 0.0
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "bad": int(re.search(r"^BAD (\d+)", out, re.M).group(1)),
    }
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    cpu_after = workers_cpu_seconds(master_pid)
    used = [cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after]
    result["cpu_ms"] = sum(used) * 1000 / max(1, requests)
    # wrk keeps its connections for the whole run, so one worker can hold all of them (module docstring).
    result["lopsided"] = float(max(used, default=0.0) >= 0.9 * sum(used) > 0)
    result["redis_us"] = (redis_cpu() - redis_before) * 1e6 / max(1, requests) if redis_cpu else float("nan")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["bad"] += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", help="model registry (else a quick model is trained)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per connection count")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--bodies", type=int, default=200)
    parser.add_argument("--compare", type=Path, help="another checkout served in the same rotation (before/after)")
    parser.add_argument("--growth", type=int, default=0, help="16-connection runs after the rounds, as the table grows")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    from spamguard import sites, storage
    from spamguard.storage.models import Site

    work = Path(tempfile.mkdtemp(prefix="sg-fullstack-"))
    model_dir = str(Path(args.model_dir).resolve()) if args.model_dir else None  # the compared tree runs elsewhere
    if model_dir is None:
        from model_training.train import train_and_register

        model_dir = str(work / "models")
        print("training a quick model for the benchmark ...", flush=True)
        train_and_register(model_dir, quick=True, progress=False)
    rng = random.Random(7)

    def database_and_bodies(name: str) -> tuple[str, Path]:
        database_url = f"sqlite:///{work / (name + '.db')}"
        storage.upgrade(database_url)
        with storage.make_sessionmaker(database_url)() as session:
            site, key = sites.create_site(session, BLOG, secret=KEY_SECRET)
            session.get(Site, site.id).rate_limit = "10000000/second"  # measure the work, not the refusals
            session.commit()
        bodies = [make_body(key, rng) for _ in range(args.bodies)]
        script = work / f"{name}.lua"
        script.write_text(WRK_SCRIPT % ", ".join(lua_string(b) for b in bodies))
        return database_url, script

    database_url, script = database_and_bodies("bench")
    databases = {"spamguard": database_url}
    redis_cpu = redis_cpu_reader(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))  # the servers' default
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SPAMGUARD_MODEL_DIR": model_dir,
        "SPAMGUARD_VAR_DIR": str(work),
        "SECRET_KEY": "bench",
        "SPAMGUARD_KEY_SECRET": KEY_SECRET,
        "SPAMGUARD_LOG_LEVEL": "WARNING",
        "SPAMGUARD_REDIS_PREFIX": f"sgfull:{os.getpid()}:",
    }
    print(
        f"starting SpamGuard and the trivial endpoint ({args.workers} gthread workers x {args.threads} threads each)",
        flush=True,
    )
    service = LiveServer(
        env, work, args.workers, "service", threads=args.threads, cwd=ROOT, access_log=False
    ).wait_ready()
    trivial = LiveServer(
        env,
        work,
        args.workers,
        "trivial",
        app="bench.trivial_app:app",
        threads=args.threads,
        cwd=ROOT,
        access_log=False,
    ).wait_ready()
    servers = [("trivial", trivial, script), ("spamguard", service, script)]
    if args.compare is not None:
        other_url, other_script = database_and_bodies("compare")
        other_env = {
            **env,
            "DATABASE_URL": other_url,
            "SPAMGUARD_REDIS_PREFIX": env["SPAMGUARD_REDIS_PREFIX"] + "compare:",
        }
        other = LiveServer(
            other_env, work, args.workers, "compare", threads=args.threads, cwd=args.compare, access_log=False
        )
        servers.append(("compare", other.wait_ready(), other_script))
        databases["compare"] = other_url
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    try:
        for _name, server, bodies_script in servers:  # first-request work (threads, caches) out of the numbers
            run_wrk(server.url, bodies_script, 16, 2, server.process.pid, redis_cpu)
        for connections in (16, 2):
            for round_no in range(args.rounds):
                for name, server, bodies_script in servers if round_no % 2 == 0 or not args.compare else servers[::-1]:
                    print(
                        f"  wrk {connections} connections, {args.seconds} s, round {round_no + 1}: {name}", flush=True
                    )
                    results.setdefault((name, connections), []).append(
                        run_wrk(server.url, bodies_script, connections, args.seconds, server.process.pid, redis_cpu)
                    )
        for run_no in range(args.growth):
            for name, server, bodies_script in servers[1:] if run_no % 2 == 0 else servers[:0:-1]:
                run = run_wrk(server.url, bodies_script, 16, args.seconds, server.process.pid, redis_cpu)
                print(
                    f"  growth run {run_no + 1}: {name:<9} {run['rps']:>6.0f} req/s, {run['cpu_ms']:.2f} worker CPU ms a "
                    f"request, {checks_rows(databases[name]):>9,} rows in its checks table",
                    flush=True,
                )
        rss = {name: worker_rss_mb(server.process.pid) for name, server, _ in servers if name != "trivial"}
    finally:
        for _name, server, _script in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(
        f"{'endpoint':<10} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'bad':>5} {'CPU ms/req':>10} "
        f"{'redis µs/req':>12}   (median of {args.rounds} rounds)"
    )
    median: dict[tuple[str, int], dict[str, float]] = {}
    for (name, connections), runs in results.items():
        median[(name, connections)] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        m = median[(name, connections)]
        bad = sum(int(r["bad"]) for r in runs)
        print(
            f"{name:<10} {connections:>5} {m['rps']:>8.0f} {m['p50']:>8.2f} {m['p99']:>8.2f} {bad:>5} {m['cpu_ms']:>10.2f} "
            f"{m['redis_us']:>12.1f}"
        )
    for (name, connections), runs in results.items():
        lopsided = int(sum(r["lopsided"] for r in runs))
        if lopsided:
            print(
                f"{name} at {connections} connections: one worker did ≥ 90 % of the work in {lopsided} of {len(runs)} rounds"
            )
    for name in rss:
        for connections in (16, 2):
            ratio = median[(name, connections)]["rps"] / median[("trivial", connections)]["rps"]
            print(f"ratio {name}/trivial at {connections} connections: {ratio:.2f}")
    for name, sizes in rss.items():
        print(f"{name} worker RSS after the run (MB):", ", ".join(f"{v:.0f}" for v in sizes))


if __name__ == "__main__":
    main()

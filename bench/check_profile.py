"""Profile comment-check in-process and count its Redis work per check.

    python bench/check_profile.py [--checks 300] [--model-dir DIR] [--top 25]

Builds the app with create_app on a temporary SQLite file and the real Redis (own prefix),
creates a key with a raised rate limit, sends `--checks` comment-checks through the Flask
test client under cProfile, and prints the Redis commands and round trips per check
(counted by wrapping redis-py's connection send path, so pipelines count as one round trip)
the commands Redis itself ran per check (`INFO commandstats` deltas, which include the commands
inside Lua scripts; other users of the same server add noise), the CPU time per check of this
process without the profiler, the garbage collections during the checks (per generation, longest pause;
after the `gc.freeze()` a gunicorn worker does, unless --no-freeze), and the top functions by cumulative time.

    python bench/check_profile.py --gate-calls 20000 [--rounds 5] [--compare /tmp/base]

measures instead what the check gate's script costs the Redis server: `--gate-calls` direct
`CheckGate.enter` calls (no app, no model) with the same comment mix, one round trip each as in
serving, on a clock advancing 1/300 s per call (so the reputation strings grow to the shape a
300 req/s load gives them: an IP's string holds its hours, the blog and ~10 burst slots); the
server's CPU (`INFO cpu`, user + sys) and the EVALSHA time (`INFO commandstats`) per call, read
around each round.  Both are server-wide: other users of a shared server add to them.  `--compare
DIR` puts another checkout's `GATE_SCRIPT` text (same arguments) in the same rotation, alternating
rounds, each on fresh keys.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from check_latency import make_body  # noqa: E402

from spamguard.services import services  # noqa: E402


class RedisCounter:
    """Counts round trips (one per send) and commands, by patching redis.connection.Connection."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.commands: Counter[str] = Counter()

    def install(self) -> None:
        from redis.connection import Connection

        original_one, original_many = Connection.send_command, Connection.send_packed_command
        counter = self

        def send_command(conn, *args, **kwargs):
            counter.round_trips += 1
            counter.commands[str(args[0]).upper()] += 1
            return original_one(conn, *args, **kwargs)

        def pipeline_send(self_pipe, connection, commands, *rest):  # redis-py pipeline: one write, many commands
            counter.round_trips += 1
            for cmd in commands:
                counter.commands[str(cmd[0][0]).upper()] += 1
            return original_pipe(self_pipe, connection, commands, *rest)

        from redis.client import Pipeline

        original_pipe = Pipeline._execute_pipeline
        Connection.send_command = send_command
        Pipeline._execute_pipeline = pipeline_send
        del original_many


class GcPauses:
    """Garbage collections per generation and the longest pause of each (a `gc.callbacks` entry)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        generation = info["generation"]
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], pause)
        self.total += pause

    def report(self, checks: int) -> str:
        per_gen = ", ".join(f"gen{g} {self.count[g]} (longest {self.longest[g] * 1000:.1f} ms)" for g in range(3))
        return f"GC over {checks} checks: {per_gen}; {self.total * 1000 / checks:.3f} ms of pauses per check"


def gate_redis_cpu(calls: int, rounds: int, compare: Path | None) -> None:
    """Redis server CPU and EVALSHA time per `CheckGate.enter` call (see the module docstring)."""
    import random
    from types import SimpleNamespace

    from werkzeug.datastructures import MultiDict

    from spamguard.api.form import comment_from_fields
    from spamguard.backends import RedisState
    from spamguard.backends.direct import ThreadScript
    from spamguard.config import SETTINGS
    from spamguard.gate import GATE_SCRIPT, CheckGate
    from spamguard.quota import KeyRateLimiter, Quota, UsageCounter
    from spamguard.reputation import ReputationStore

    scripts = {"this tree": GATE_SCRIPT}
    if compare is not None:  # that tree's `spamguard` is the one imported from its directory
        read = "from spamguard.gate import GATE_SCRIPT; print(GATE_SCRIPT, end='')"
        scripts[str(compare)] = subprocess.run(
            [sys.executable, "-c", read], cwd=compare, capture_output=True, text=True, check=True
        ).stdout
    rng = random.Random(1)
    comments = []
    for _ in range(200):
        fields = MultiDict(parse_qsl(make_body("key", rng).decode(), keep_blank_values=True))
        comments.append(comment_from_fields(fields, 100_000))
    url = next(s.default for s in SETTINGS if s.name == "REDIS_URL")
    url = os.environ.get("REDIS_URL", url)
    site = SimpleNamespace(id=1, rate_limit="10000000/second", monthly_limit=None, share_reputation=True)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in scripts}
    for round_no in range(rounds):
        for name, text in scripts.items() if round_no % 2 == 0 else list(scripts.items())[::-1]:
            state = RedisState(url, f"sgprof:{uuid.uuid4().hex[:8]}:", timeout=2.0)
            quota = Quota(KeyRateLimiter(state, "10000000/second"), UsageCounter(state))
            gate = CheckGate(state, quota, ReputationStore(state))
            gate._script = ThreadScript(state.client, text)
            now = time.time()
            for i in range(2000):  # strings of the shape the measured calls meet
                gate.enter(site, comments[i % len(comments)], now=now)
                now += 1 / 300
            before = state.client.info("cpu"), state.client.info("commandstats")
            for i in range(calls):
                gate.enter(site, comments[i % len(comments)], now=now)
                now += 1 / 300
            after = state.client.info("cpu"), state.client.info("commandstats")
            state.delete_prefix()
            cpu = sum(after[0][k] - before[0][k] for k in ("used_cpu_user", "used_cpu_sys"))
            evalsha = after[1]["cmdstat_evalsha"]["usec"] - before[1].get("cmdstat_evalsha", {}).get("usec", 0)
            results[name].append((cpu * 1e6 / calls, evalsha / calls))
            print(f"  round {round_no + 1} {name}: {cpu * 1e6 / calls:.1f} us server CPU per call", flush=True)
    print(f"{'gate script':<30} {'server CPU us/call':>18} {'EVALSHA us/call':>16}   (median of {rounds} rounds)")
    for name, runs in results.items():
        cpu_us, evalsha_us = (statistics.median(r[k] for r in runs) for k in (0, 1))
        print(f"{name:<30} {cpu_us:>18.1f} {evalsha_us:>16.1f}")


def in_process_app(model_dir: str, prefix: str, work: Path) -> tuple[Any, str]:
    """create_app on a new SQLite file in ``work`` and the real Redis (its own key prefix, ``prefix``
    and a random part), and one key whose rate limit is out of the way: (app, key)."""
    from spamguard import sites
    from spamguard.app import create_app
    from spamguard.storage import get_session, upgrade

    url = f"sqlite:///{work / 'sg.db'}"
    upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SPAMGUARD_MODEL_DIR": model_dir,
            "TESTING": True,
            "SPAMGUARD_REDIS_PREFIX": f"{prefix}:{uuid.uuid4().hex[:8]}:",
            "SPAMGUARD_BACKGROUND_TASKS": False,
        }
    )
    with app.app_context():
        site, key = sites.create_site(get_session(), "https://blog.example", secret=app.config["SPAMGUARD_KEY_SECRET"])
        site.rate_limit = "1000000 per second"
        get_session().commit()
    return app, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--model-dir")
    parser.add_argument("--top", type=int, default=25, help="functions to list; 0 skips the profiled run")
    parser.add_argument(
        "--no-freeze", action="store_true", help="skip the gc.freeze() a gunicorn worker does after loading the app"
    )
    parser.add_argument("--gate-calls", type=int, default=0, help="measure the gate script's Redis CPU instead")
    parser.add_argument("--rounds", type=int, default=5, help="with --gate-calls: rounds per script")
    parser.add_argument("--compare", type=Path, help="with --gate-calls: another checkout's gate script")
    args = parser.parse_args()
    if args.gate_calls:
        gate_redis_cpu(args.gate_calls, args.rounds, args.compare)
        return

    work = Path(tempfile.mkdtemp(prefix="sg-profile-"))
    model_dir = args.model_dir
    if model_dir is None:
        from model_training.train import train_and_register

        model_dir = str(work / "models")
        train_and_register(model_dir, quick=True, progress=False)
    app, key = in_process_app(model_dir, "sgprof", work)
    client = app.test_client()
    import logging

    logging.getLogger("spamguard").setLevel(logging.WARNING)
    import random

    rng = random.Random(1)
    bodies = [make_body(key, rng) for _ in range(50)]
    for body in bodies[:5]:  # warm-up: model load, first connections
        client.post("/1.1/comment-check", data=body, content_type="application/x-www-form-urlencoded")

    if not args.no_freeze:  # what gunicorn's post_worker_init does in every worker (spamguard/gunicorn_conf.py)
        from spamguard.memory import freeze_loaded_objects

        freeze_loaded_objects()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    state = services(app).state
    stats_before = state.client.info("commandstats")
    cpu_started = time.process_time()
    for i in range(args.checks):
        answer = client.post(
            "/1.1/comment-check", data=bodies[i % len(bodies)], content_type="application/x-www-form-urlencoded"
        )
        assert answer.status_code == 200 and answer.text in ("true", "false"), answer.text
    cpu_per_check = (time.process_time() - cpu_started) / args.checks
    gc.callbacks.remove(pauses)
    stats_after = state.client.info("commandstats")
    server = {
        name: int(stats_after[name]["calls"]) - int(stats_before.get(name, {}).get("calls", 0)) for name in stats_after
    }
    print(pauses.report(args.checks))
    if args.top == 0:  # only the CPU time (e.g. under a sampling profiler such as py-spy)
        services(app).state.delete_prefix()
        print(f"CPU per check in this process, no profiler: {cpu_per_check * 1000:.2f} ms")
        return
    counter = RedisCounter()
    counter.install()
    profile = cProfile.Profile()
    profile.enable()
    for i in range(args.checks):
        answer = client.post(
            "/1.1/comment-check", data=bodies[i % len(bodies)], content_type="application/x-www-form-urlencoded"
        )
        assert answer.status_code == 200 and answer.text in ("true", "false"), answer.text
    profile.disable()
    services(app).state.delete_prefix()
    n = args.checks
    print(f"checks: {n}")
    print(f"redis round trips per check: {counter.round_trips / n:.2f}")
    print(f"redis commands per check: {sum(counter.commands.values()) / n:.2f}")
    for name, count in counter.commands.most_common():
        print(f"  {name:<12} {count / n:.2f}")
    print(
        f"commands redis ran per check (incl. inside scripts; INFO commandstats, shared server): "
        f"{sum(v for k, v in server.items() if k != 'cmdstat_info') / n:.2f}"
    )
    for name, count in sorted(server.items(), key=lambda kv: -kv[1])[:12]:
        if count:
            print(f"  {name.removeprefix('cmdstat_'):<16} {count / n:.2f}")
    print(f"CPU per check in this process, no profiler: {cpu_per_check * 1000:.2f} ms")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()

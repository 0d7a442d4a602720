"""Comment-check latency under load (spec §8 case 49: p99 well below the Python client's 1 s timeout).

    python bench/check_latency.py                      # start gunicorn on a temp DB, quick-trained model
    python bench/check_latency.py --model-dir var/models
    python bench/check_latency.py --url http://127.0.0.1:8000 --key 0123456789ab

Sends N comment-checks (a realistic mix: ordinary comments, link spam,
WordPress-sized bodies, test triggers) from a few threads over keep-alive
connections, then prints p50/p90/p99/max latency and throughput.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
BLOG = "https://blog.example"

HAM = [
    "Thanks for the detailed write-up! The section on the reverse proxy fixed my setup.",
    "Great photos. Where was the second one taken? It looks like the coast near Porto.",
    "I tried this recipe last night and it worked, although I needed ten more minutes in the oven.",
    "Could you share the config you used for the benchmark? I get different numbers on my laptop.",
    "Interesting point about caching, but doesn't that break when two workers write at once?",
]
SPAM = [
    "BUY CHEAP VIAGRA ONLINE!!! no prescription http://cheap-pills.example/buy best prices",
    "Make $5000 a week from home, click here http://easy-money.example/join http://bonus.example",
    "Best casino bonus 2024 >>> http://casino-bonus.example/win free spins, free money, click now",
    "Nice post. Visit my site for cheap replica watches http://replica-watch.example",
]
WORDPRESS_EXTRA = (
    "&".join(f"HTTP_X_HEADER_{i}=value-{i}" for i in range(40))
    + "&comment_context%5B0%5D=Tag+one&comment_context%5B1%5D=News&referrer&user_role&akismet_comment_nonce=passed"
)


def make_body(key: str, rng: random.Random) -> bytes:
    roll = rng.random()
    fields = {
        "api_key": key,
        "blog": BLOG,
        "user_ip": f"198.51.100.{rng.randint(1, 254)}",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
        "comment_type": "comment",
        "permalink": f"{BLOG}/2024/05/post-{rng.randint(1, 50)}/",
        "comment_author": rng.choice(["Maria", "Jan", "Kim", "Alex"]),
        "blog_lang": "en_US",
        "blog_charset": "UTF-8",
    }
    if roll < 0.65:
        fields["comment_content"] = rng.choice(HAM)
    elif roll < 0.88:
        fields["comment_content"] = rng.choice(SPAM)
        fields["comment_author_url"] = "http://cheap-pills.example"
    elif roll < 0.95:
        fields["comment_content"] = rng.choice(HAM) + " " + " ".join(rng.choice(HAM) for _ in range(20))
    else:
        fields["comment_author"] = "akismet-guaranteed-spam"
        fields["is_test"] = "true"
    body = urlencode(fields)
    if roll >= 0.88:
        body += "&" + WORDPRESS_EXTRA
    return body.encode()


def start_server(model_dir: str | None, workers: int) -> tuple[Any, str, str]:
    sys.path.insert(0, str(ROOT))
    from spamguard import sites, storage

    work = Path(tempfile.mkdtemp(prefix="sg-bench-"))
    if model_dir is None:
        from model_training.train import train_and_register

        model_dir = str(work / "models")
        print("training a quick model ...", file=sys.stderr)
        train_and_register(model_dir, quick=True, progress=False)
    database_url = f"sqlite:///{work / 'bench.db'}"
    storage.upgrade(database_url)
    with storage.make_sessionmaker(database_url)() as session:
        _site, key = sites.create_site(session, BLOG, secret="bench")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SPAMGUARD_MODEL_DIR": model_dir,
        "SPAMGUARD_VAR_DIR": str(work),
        "SECRET_KEY": "bench",
        "SPAMGUARD_KEY_SECRET": "bench",
        "SPAMGUARD_LOG_LEVEL": "WARNING",
        "SPAMGUARD_REDIS_PREFIX": f"sgbench:{os.getpid()}:",
    }
    sys.path.insert(0, str(ROOT / "tests"))
    from live_server import LiveServer  # the test suite's one gunicorn launcher

    server = LiveServer(env, work, workers, "gunicorn", cwd=ROOT, access_log=False).wait_ready(timeout=60)
    return server, server.url, key


def run(url: str, key: str, total: int, threads: int, seed: int) -> tuple[list[float], dict[str, int], float]:
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    lock = threading.Lock()
    per_thread = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]

    def worker(count: int, index: int) -> None:
        rng = random.Random(seed + index)
        bodies = [make_body(key, rng) for _ in range(count)]
        mine, seen = [], {}
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
        with httpx.Client(base_url=url, timeout=10, headers=headers) as http:  # one keep-alive connection
            http.post("/1.1/verify-key", data={"key": key, "blog": BLOG})  # warm the connection
            for body in bodies:
                started = time.perf_counter()
                response = http.post("/1.1/comment-check", content=body)
                mine.append(time.perf_counter() - started)
                label = f"{response.status_code} {response.text}"
                seen[label] = seen.get(label, 0) + 1
        with lock:
            latencies.extend(mine)
            for label, n in seen.items():
                outcomes[label] = outcomes.get(label, 0) + n

    pool = [threading.Thread(target=worker, args=(n, i)) for i, n in enumerate(per_thread)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies, outcomes, time.perf_counter() - started


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (else gunicorn is started here)")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--model-dir", help="model registry for the started server (else a quick model is trained)")
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for the started server")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.url and not args.key:
        parser.error("--url needs --key")

    server = None
    url, key = args.url, args.key
    if not url:
        server, url, key = start_server(args.model_dir, args.workers)
    try:
        latencies, outcomes, elapsed = run(url, key, args.requests, args.threads, args.seed)
    finally:
        if server is not None:
            server.stop()
    ms = sorted(v * 1000 for v in latencies)
    print(f"{len(ms)} comment-checks, {args.threads} threads, keep-alive, {elapsed:.2f} s")
    print(
        f"latency ms: p50 {percentile(ms, 50):.1f}  p90 {percentile(ms, 90):.1f}  "
        f"p99 {percentile(ms, 99):.1f}  max {ms[-1]:.1f}  mean {statistics.fmean(ms):.1f}"
    )
    print(f"throughput: {len(ms) / elapsed:.0f} req/s")
    print("answers:", ", ".join(f"{label!r}: {n}" for label, n in sorted(outcomes.items())))
    bad = sum(n for label, n in outcomes.items() if not label.startswith("200 "))
    if bad:
        raise SystemExit(f"{bad} non-200 answers")


if __name__ == "__main__":
    main()

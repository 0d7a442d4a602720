"""How much argon2 work a login flood buys: password verifications and CPU seconds per scenario.

    .venv/bin/python bench/login_flood.py [--posts 40]

Scenarios (each on a fresh SQLite database, CSRF off, wrong passwords):
  one-ip-many-users   N POSTs from one IP, each at a different (mostly unknown) username
  one-account-16      16 concurrent guesses at one account from one IP
  many-ips            N POSTs from N different IPs at one username
Prints one line per scenario: verifications, 429 answers, process CPU seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_app(work: Path):
    from spamguard import storage
    from spamguard.app import create_app
    from spamguard.moderation import passwords
    from spamguard.storage.models import User

    url = f"sqlite:///{work / f'{uuid.uuid4().hex[:6]}.db'}"
    storage.upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "SPAMGUARD_KEY_SECRET": "bench",
            "SPAMGUARD_MODEL_DIR": str(work / "models"),
            "SPAMGUARD_BACKGROUND_TASKS": False,
            "SPAMGUARD_REDIS_PREFIX": f"sgbench:{uuid.uuid4().hex[:8]}:",
            "WTF_CSRF_ENABLED": False,
            "SPAMGUARD_LOG_LEVEL": "ERROR",
        }
    )
    with app.extensions["spamguard.db"]() as db:
        db.add(User(username="alice", password_hash=passwords.hash_password("correct horse battery"), role="moderator"))
        db.commit()
    return app


def run(app, jobs: list[tuple[str, str]], threads: int = 1) -> tuple[int, int, float]:
    from spamguard.moderation import passwords

    original, count, lock = passwords.verify_password, [0], threading.Lock()

    def counted(stored, password):
        with lock:
            count[0] += 1
        return original(stored, password)

    passwords.verify_password = counted
    cpu = time.process_time()

    def post(job):
        username, ip = job
        return (
            app.test_client()
            .post(
                "/login", data={"username": username, "password": "wrong password!"}, environ_base={"REMOTE_ADDR": ip}
            )
            .status_code
        )

    try:
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(post, jobs))
    finally:
        passwords.verify_password = original
    return count[0], statuses.count(429), time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=40)
    n = parser.parse_args().posts
    work = Path(tempfile.mkdtemp(prefix="sg-login-"))
    scenarios = {
        "one-ip-many-users": ([(f"user{i}", "192.0.2.1") for i in range(n)], 1),
        "one-account-16": ([("alice", "192.0.2.2")] * 16, 16),
        "many-ips": ([("alice", f"10.{i // 250}.{i % 250}.1") for i in range(n)], 1),
    }
    for name, (jobs, threads) in scenarios.items():
        verified, refused, cpu = run(make_app(work), jobs, threads)
        print(
            f"{name:<20} posts={len(jobs):>4} argon2_verifications={verified:>4} refused_429={refused:>4} "
            f"cpu_seconds={cpu:6.2f}"
        )


if __name__ == "__main__":
    main()

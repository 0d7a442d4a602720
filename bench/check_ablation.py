"""Where a comment-check's CPU goes, by ablation: the whole check in process with one part replaced at a time.

    python bench/check_ablation.py [--model-dir DIR] [--checks 4000]

Builds the app with create_app on a temporary SQLite file and the real Redis (own prefix), and calls
its WSGI entry point directly (no test client, no HTTP server) with bench/check_latency.py's body mix,
measuring CPU time per check in this process for:

* the whole check, and a trivial Flask app that parses the same form and answers ``false``;
* the scorer answering a constant (what scoring costs in place: its tables compete for the CPU cache
  with the rest of the request, so it costs more than bench/scoring_latency.py's loop says), and
  scoring each comment twice (the second call, on a fresh copy, runs with warm tables);
* no gate (no Redis round trip, no reputation lookup); the row handed to a no-op instead of the
  write-behind buffer; no per-site adapter.

Each row is a difference from the whole check, so together they say how much of the gap to the trivial
endpoint any one part could close.  CPU times, alternated in one process; other load on the machine
still moves them by a few percent.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from check_latency import make_body  # noqa: E402
from check_profile import in_process_app  # noqa: E402
from flask import Flask, request  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from spamguard.comment import Comment  # noqa: E402
from spamguard.services import services  # noqa: E402


class _NoRows:
    """Stands in for the write-behind buffer: takes the row and drops it."""

    interval = 0.1

    def add(self, row: dict[str, Any]) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=os.environ.get("SPAMGUARD_MODEL_DIR", str(ROOT / "var" / "models")))
    parser.add_argument("--checks", type=int, default=4000)
    args = parser.parse_args()
    app, key = in_process_app(args.model_dir, "sgablation", Path(tempfile.mkdtemp(prefix="sg-ablation-")))
    logging.getLogger("spamguard").setLevel(logging.WARNING)
    rng = random.Random(1)
    bodies = [make_body(key, rng) for _ in range(200)]
    environs = [
        EnvironBuilder(
            path="/1.1/comment-check", method="POST", data=b, content_type="application/x-www-form-urlencoded"
        ).get_environ()
        for b in bodies
    ]
    trivial = Flask("trivial")

    @trivial.post("/1.1/comment-check")
    def answer() -> str:
        request.form  # noqa: B018 - parse the form, as the check does
        return "false"

    def driver(wsgi_app: Any) -> Callable[[int], None]:
        def call(i: int) -> None:
            environ = dict(environs[i % len(bodies)])
            environ["wsgi.input"] = io.BytesIO(bodies[i % len(bodies)])
            for _ in wsgi_app(environ, lambda status, headers, exc_info=None: None):
                pass

        return call

    def cpu_per_call(call: Callable[[int], None]) -> float:
        for i in range(100):
            call(i)
        started = time.process_time()
        for i in range(args.checks):
            call(i)
        return (time.process_time() - started) / args.checks * 1e6

    svc = services(app).checks
    scorer = svc.models.current()
    real_score = scorer.score
    constant = real_score(Comment(comment_content="hello there"))

    def twice(comment: Comment, top: int = 3) -> Any:
        real_score(dataclasses.replace(comment), top)
        return real_score(comment, top)

    check = driver(app.wsgi_app)
    rows: list[tuple[str, float]] = [("whole check", cpu_per_call(check))]
    rows.append(("trivial Flask endpoint", cpu_per_call(driver(trivial.wsgi_app))))
    for label, replacement in (
        ("scorer answers a constant", lambda comment, top=3: constant),
        ("scoring each comment twice", twice),
    ):
        scorer.score = replacement
        try:
            rows.append((label, cpu_per_call(check)))
        finally:
            scorer.score = real_score
    for label, field, value in (
        ("no gate (Redis, reputation)", "gate", None),
        ("rows dropped, not buffered", "rows", _NoRows()),
        ("no per-site adapter", "adapter", None),
    ):
        saved = getattr(svc, field)
        object.__setattr__(svc, field, value)  # CheckService is frozen: swapped for the measurement only
        try:
            rows.append((label, cpu_per_call(check)))
        finally:
            object.__setattr__(svc, field, saved)
    rows.append(("whole check, again", cpu_per_call(check)))
    services(app).state.delete_prefix()
    whole = (rows[0][1] + rows[-1][1]) / 2
    print(f"{args.checks} calls each, CPU µs per call in this process (load average {os.getloadavg()[0]:.1f})")
    for label, value in rows:
        print(f"  {label:<32} {value:8.1f}   {value - whole:+8.1f} vs the whole check")


if __name__ == "__main__":
    main()

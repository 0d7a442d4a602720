"""Start real gunicorn masters for the end-to-end tests (each in its own session, killed by pid).

The one launcher of the suite: the session's `live_server` fixture (tests/conftest.py), the tests that
need servers of their own (scale-out, live logs) and the benchmarks under bench/ use it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(fetch: Callable[[], T], ready: Callable[[T], bool] = bool, timeout: float = 10.0) -> T:
    """`fetch()` again until `ready` says yes (or `timeout` passes): the servers write check rows behind their
    answers (SPAMGUARD_CHECK_WRITE_BEHIND_MS), so a reader in another process sees a row a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


class LiveServer:
    def __init__(
        self,
        env: dict[str, str],
        work: Path,
        workers: int = 2,
        name: str = "server",
        *,
        app: str = "spamguard.wsgi:app",
        threads: int | None = None,
        cwd: Path | None = None,
        access_log: bool = True,
    ) -> None:
        """`app` and `cwd` let a benchmark serve its own WSGI app (bench.trivial_app) under the same settings."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / f"{name}.log"
        metrics_dir = work / f"{name}-metrics"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SPAMGUARD_ENV_FILE": os.devnull, **env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "python:spamguard.gunicorn_conf",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(workers),
                    *(["--threads", str(threads)] if threads else []),
                    *([] if access_log else ["--access-logfile", "/dev/null"]),
                    app,
                ],
                cwd=cwd or work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90) -> LiveServer:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.log()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz:\n{self.log()[-4000:]}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # our own session: this master and its workers only
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

"""The built wheel, installed in a clean virtualenv outside the checkout, migrates, trains and serves.

Slow (a venv with scikit-learn and friends, from pip's cache), but it is the only test that proves
pyproject.toml declares every dependency and the wheel carries its data (migrations, gunicorn config,
corpora, templates); CI runs it with the rest of the suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest
from live_server import ROOT, free_port

pytestmark = pytest.mark.slow


def run(args, **kwargs):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path, redis_url, redis_prefix):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)])
    wheel = next(dist.glob("spamguard-*.whl"))

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    # Constrain to the lock (pip constraints take no extras), but install only what the wheel declares.
    lock = (ROOT / "requirements.txt").read_text()
    lock = re.sub(r"^psycopg\[binary\]==(\S+)$", r"psycopg==\1\npsycopg-binary==\1", lock, flags=re.M)
    (tmp_path / "constraints.txt").write_text(lock)
    run([str(venv / "bin/pip"), "install", "-q", "-c", str(tmp_path / "constraints.txt"), str(wheel)])
    run([str(venv / "bin/pip"), "check"])
    assert subprocess.run([str(venv / "bin/python"), "-c", "import matplotlib"], capture_output=True).returncode != 0

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(work),
        "SPAMGUARD_ENV_FILE": os.devnull,
        "DATABASE_URL": f"sqlite:///{work / 'sg.db'}",
        "SPAMGUARD_VAR_DIR": str(work / "var"),
        "REDIS_URL": redis_url,
        "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}wheel:",
        "SECRET_KEY": "wheel-test",
    }
    where = run(
        [
            str(venv / "bin/python"),
            "-c",
            "import spamguard, model_training.data as d;print(spamguard.__file__); print(d.DATA_DIR)",
        ],
        cwd=work,
        env=env,
    ).stdout.split()
    assert all(str(venv) in path for path in where)  # code and corpora from the install, not the checkout

    spamguard = str(venv / "bin/spamguard")
    assert run([spamguard, "--version"], cwd=work, env=env).stdout.startswith("spamguard, version")
    run([spamguard, "db", "upgrade"], cwd=work, env=env)
    run([spamguard, "model", "train", "--quick", "--jobs", "1"], cwd=work, env=env)
    report = next((work / "var/models").glob("*/report.md")).read_text()
    assert "install the `plots` extra" in report  # degrades without matplotlib
    key = run([spamguard, "keys", "create", "--site", "https://blog.example"], cwd=work, env=env).stdout.split()[-1]

    port = free_port()
    (tmp_path / "metrics").mkdir()
    server = subprocess.Popen(
        [spamguard, "serve", "--no-train", "--port", str(port), "--workers", "1"],
        cwd=work,
        env={**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "wb"),
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        import time

        for _ in range(600):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert httpx.get(f"{url}/readyz").json()["checks"]["model"]["ok"]
        answer = httpx.post(
            f"{url}/1.1/comment-check",
            data={
                "api_key": key,
                "blog": "https://blog.example",
                "user_ip": "203.0.113.5",
                "comment_content": "Nice post",
            },
        )
        assert answer.status_code == 200 and answer.text in ("true", "false")
        # Signed out, the moderation UI sends you to the login page, which renders (templates shipped).
        moderation = httpx.get(f"{url}/moderation")
        assert moderation.status_code == 302 and moderation.headers["Location"].startswith("/login")
        login = httpx.get(f"{url}/login")
        assert login.status_code == 200 and 'name="password"' in login.text
    finally:
        import signal

        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_pyproject_declares_every_pinned_runtime_requirement():
    """Fast companion of the wheel test: the lock (requirements.txt) and the package's ranges name the same set."""
    import tomllib

    def name(requirement: str) -> str:
        return re.split(r"[\[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")

    pinned = {
        name(line)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    }
    declared = {name(dep) for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert pinned == declared

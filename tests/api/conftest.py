"""API test helpers: one app (and one migrated SQLite file) per test module, the spec's fixed key K."""
from __future__ import annotations

import uuid

import pytest
from akismet_wire import B, K, add_site


@pytest.fixture(scope="module")
def api_app(model_dir, redis_url, redis_prefix, tmp_path_factory):
    from spamguard import storage
    from spamguard.app import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('api') / f'api-{uuid.uuid4().hex[:6]}.db'}"
    storage.upgrade(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": redis_url,
                      "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:", "SPAMGUARD_MODEL_DIR": str(model_dir),
                      "SECRET_KEY": "test-secret", "SPAMGUARD_KEY_SECRET": "test-key-secret",
                      "SPAMGUARD_BACKGROUND_TASKS": False})
    add_site(app, K)
    return app


@pytest.fixture
def api(api_app):
    return api_app.test_client()


@pytest.fixture
def db(api_app):
    """A database session on the module's app (for storage assertions)."""
    from spamguard import storage

    with api_app.app_context():
        yield storage.get_session()


# -- a real gunicorn server (end-to-end tests) -------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(model_dir, redis_url, redis_prefix, tmp_path_factory):
    """gunicorn (2 workers) on a fresh migrated SQLite file, with a key made by the real CLI.

    Yields a dict: url, key, database_url, log (path of the server's output).
    """
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    from spamguard import storage

    root = Path(__file__).resolve().parents[2]
    work = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{work / 'spamguard.db'}"
    storage.upgrade(database_url)
    metrics_dir = work / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "DATABASE_URL": database_url, "SPAMGUARD_MODEL_DIR": str(model_dir),
           "REDIS_URL": redis_url, "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:", "SPAMGUARD_VAR_DIR": str(work),
           "SECRET_KEY": "live-test-secret", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
           "SPAMGUARD_LOG_LEVEL": "WARNING"}
    created = subprocess.run([sys.executable, "-m", "spamguard.cli", "keys", "create", "--site", B], cwd=root,
                             env=env, capture_output=True, text=True, timeout=120)
    if created.returncode != 0:
        pytest.fail(f"`spamguard keys create` failed:\n{created.stderr[-3000:]}")
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    log_path = work / "gunicorn.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "spamguard.wsgi:app"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"gunicorn exited ({server.returncode}):\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer /healthz:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.2)
        yield {"url": url, "key": key, "database_url": database_url, "log": log_path, "process": server}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # our own session: the master and its workers only
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

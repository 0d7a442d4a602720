"""A gunicorn worker stopped right after answering writes the check rows it was still holding."""

from __future__ import annotations

import uuid

import httpx
import pytest
from live_server import LiveServer
from sqlalchemy import func, select

pytestmark = pytest.mark.slow

SECRET = "shutdown-key-secret"


def test_stopping_the_server_writes_every_answered_check(tmp_path, model_dir, redis_url, redis_prefix):
    from spamguard import sites, storage
    from spamguard.storage.models import Check

    url = f"sqlite:///{tmp_path / 'shutdown.db'}"
    storage.upgrade(url)
    with storage.make_sessionmaker(url)() as session:
        _site, key = sites.create_site(session, "https://blog.example", secret=SECRET)
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "SPAMGUARD_MODEL_DIR": str(model_dir),
        "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
        "SPAMGUARD_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "shutdown-secret",
        "SPAMGUARD_KEY_SECRET": SECRET,
        "SPAMGUARD_LOG_LEVEL": "WARNING",
        # Longer than the test: only the shutdown can have written the rows.
        "SPAMGUARD_CHECK_WRITE_BEHIND_MS": "600000",
    }
    server = LiveServer(env, tmp_path, workers=2, name="shutdown").wait_ready()
    try:
        guids = set()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for n in range(20):
                answer = client.post(
                    "/1.1/comment-check",
                    data={"api_key": key, "blog": "https://blog.example", "user_ip": f"192.0.2.{n}"},
                )
                assert answer.text in ("true", "false")
                guids.add(answer.headers["X-akismet-guid"])
        with storage.make_sessionmaker(url)() as session:
            assert session.scalar(select(func.count()).select_from(Check)) == 0  # all still in the workers
    finally:
        server.stop()
    assert server.process.returncode == 0
    with storage.make_sessionmaker(url)() as session:
        assert set(session.scalars(select(Check.guid))) == guids

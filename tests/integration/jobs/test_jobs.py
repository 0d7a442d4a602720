from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spamguard.jobs.queue import JobQueue

REDIS_URL = os.environ.get("SPAMGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def queue(prefix, state, tmp_path):
    q = JobQueue(REDIS_URL, prefix, str(tmp_path / "models"), f"sqlite:///{tmp_path / 'sg.db'}")
    yield q
    q.queue.delete(delete_jobs=True)


def test_unknown_job(queue):
    assert queue.job_status("nope")["status"] == "unknown"


@pytest.mark.slow
def test_worker_command_runs_a_retrain(queue, prefix, tmp_path):
    from spamguard import storage

    storage.upgrade(queue.database_url)
    job_id = queue.enqueue_retrain(from_db=True, quick=True)
    assert queue.job_status(job_id)["status"] == "queued"
    env = dict(
        os.environ,
        REDIS_URL=REDIS_URL,
        SPAMGUARD_REDIS_PREFIX=prefix,
        DATABASE_URL=queue.database_url,
        SPAMGUARD_MODEL_DIR=queue.model_dir,
        SPAMGUARD_VAR_DIR=str(tmp_path),
    )
    done = subprocess.run(
        [sys.executable, "-c", "from spamguard.jobs.queue import worker; worker(['--burst'])"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status = queue.job_status(job_id)
    assert status["status"] == "finished", status
    assert isinstance(status["result"], dict)
    assert os.listdir(queue.model_dir)

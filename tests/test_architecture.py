"""Package boundaries that CI enforces: the import-linter contracts in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), "import-linter is missing: make install-dev (requirements-dev.txt)"
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout and "3 kept" in done.stdout


def test_web_process_and_retrain_queue_never_import_training_code(make_app, tmp_path):
    """Serving imports nothing from model_training, even when it queues a retrain (enqueued by name)."""
    import json

    script = """
import json, sys
from spamguard.app import create_app
from spamguard.services import services
from spamguard import cli  # the console script resolves `spamguard model` lazily
app = create_app(json.loads(sys.argv[1]))
job_id = services(app).jobs.enqueue_retrain(from_db=False, quick=True)
from rq.job import Job
job = Job.fetch(job_id, connection=services(app).jobs.connection)
job.delete()
print(json.dumps({"func": job.func_name, "training": sorted(m for m in sys.modules if m.startswith("model_training"))}))
"""
    app = make_app()
    config = {
        k: app.config[k]
        for k in ("DATABASE_URL", "REDIS_URL", "SPAMGUARD_REDIS_PREFIX", "SPAMGUARD_MODEL_DIR", "SECRET_KEY")
    }
    config["SPAMGUARD_BACKGROUND_TASKS"] = False
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(config)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"func": "model_training.jobs.retrain", "training": []}


def test_every_test_module_sits_in_a_tier_directory():
    """tests/conftest.py marks a test by its directory, so a module elsewhere would belong to no tier."""
    tests = Path(__file__).resolve().parent
    tiers = {"unit", "integration", "e2e"}
    modules = [
        path.relative_to(tests)
        for pattern in ("test_*.py", "*_test.py")
        for path in tests.rglob(pattern)
        if "node_modules" not in path.parts
    ]
    assert {m.parts[0] for m in modules} >= tiers  # the walk found the suite
    stray = sorted(str(m) for m in modules if m != Path("test_architecture.py") and m.parts[0] not in tiers)
    assert stray == [], f"move these under tests/unit, tests/integration or tests/e2e: {stray}"

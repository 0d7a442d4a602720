"""A worker serving a model with a serving artifact never imports sklearn or scipy (≈ 70 MB per worker).

In a fresh interpreter (this test process has imported both long ago): build the app as a gunicorn
worker does, check one comment, then look at ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

WORKER = textwrap.dedent(
    """
    import json, sys
    from spamguard import sites, storage
    from spamguard.app import create_app

    config = json.loads(sys.argv[1])
    storage.upgrade(config["DATABASE_URL"])
    app = create_app(config)
    with app.app_context():
        _site, key = sites.create_site(storage.get_session(), "https://blog.example", secret="test-key-secret")
    response = app.test_client().post(
        "/1.1/comment-check",
        data={
            "api_key": key,
            "blog": "https://blog.example",
            "user_ip": "203.0.113.7",
            "comment_type": "comment",
            "comment_content": "Check out my channel http://bit.ly/2xFreeCash subscribe now!!! free iPhone",
        },
    )
    print(json.dumps({
        "status": response.status_code,
        "body": response.get_data(as_text=True),
        "debug": response.headers.get("X-akismet-pro-tip", ""),
        "loaded": sorted(m for m in ("sklearn", "scipy", "joblib") if m in sys.modules),
    }))
    """
)


def worker_modules(model_dir, redis_url: str, prefix: str, tmp_path) -> list[str]:
    """Which of sklearn, scipy and joblib a fresh worker imported to check one comment (which it marks spam)."""
    config = {
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "REDIS_URL": redis_url,
        "SPAMGUARD_REDIS_PREFIX": prefix,
        "SPAMGUARD_MODEL_DIR": str(model_dir),
        "SECRET_KEY": "test-secret",
        "SPAMGUARD_KEY_SECRET": "test-key-secret",
        "SPAMGUARD_BACKGROUND_TASKS": False,
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(config)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and result["body"] == "true", result
    return result["loaded"]


def test_a_worker_checks_comments_without_sklearn_or_joblib(model_dir, redis_url, redis_prefix, tmp_path):
    loaded = worker_modules(model_dir, redis_url, f"{redis_prefix}imports1:", tmp_path)
    assert "sklearn" not in loaded and "joblib" not in loaded, loaded


def test_a_worker_checks_comments_without_scipy(model_dir, redis_url, redis_prefix, tmp_path):
    loaded = worker_modules(model_dir, redis_url, f"{redis_prefix}imports2:", tmp_path)
    assert "scipy" not in loaded, loaded

"""The real npm `akismet-api` 6.0.0 client against the real gunicorn server (spec §8, npm list).

Needs `npm ci` in tests/e2e/node (package-lock.json pins the client).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow
NODE_DIR = Path(__file__).resolve().parents[1] / "node"
THANKS = "Thanks for making the web a better place."


def test_npm_client(live_server):
    if shutil.which("node") is None:
        pytest.fail("node is required for the npm client test")
    if not (NODE_DIR / "node_modules" / "akismet-api").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300, capture_output=True
        )
    port = str(urlsplit(live_server["url"]).port)
    run = subprocess.run(
        ["node", "check.js", port, live_server["key"]], cwd=NODE_DIR, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert results["verify"] == {"value": True}
    assert results["spam"] == {"value": True}
    assert results["admin"] == {"value": False}
    assert results["ham"] == {"value": False}
    assert results["honeypot"] == {"value": True}
    assert results["upperKey"] == {"value": True}  # Node lower-cases the Host; keys compare case-insensitively
    assert results["submitSpam"] == {"value": THANKS}
    assert results["submitHam"] == {"value": THANKS}
    assert results["badVerify"] == {"value": False}
    assert results["badCheck"] == {"error": "Invalid API key"}

    from sqlalchemy import select

    from spamguard import storage
    from spamguard.storage.models import Feedback

    with storage.make_sessionmaker(live_server["database_url"])() as db:
        labels = [
            row.label
            for row in db.scalars(select(Feedback).order_by(Feedback.id))
            if row.fields.get("comment_content") == "npm feedback 6060"
        ]
    assert labels == ["spam", "ham"]

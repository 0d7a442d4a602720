"""A global model that never saw technical discussion ham, as on a real technical blog, and apps serving it."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def blog_model_dir(tmp_path_factory) -> Path:
    """A registry whose promoted model is the quick recipe trained without the Stack Exchange comments.

    It scores long technical comments with links and code as spam (issue 11: "blog ham looks like
    spam to this model"), which is the situation per-site adaptation is for.
    """
    from model_training import data as data_mod
    from model_training.train import fit_quick
    from spamguard.scoring.registry import Registry

    train, _gate = data_mod.gate_split(data_mod.load_corpora())
    result = fit_quick([e for e in train if e.source != "stackexchange"])
    path = tmp_path_factory.mktemp("blog-models")
    registry = Registry(path)
    version = registry.register(result.model, {"kind": "quick", "thresholds": result.thresholds, "metrics": {}})
    registry.promote(version, reason="test: no Stack Exchange ham")
    return path


@pytest.fixture
def blog_app(blog_model_dir, redis_url, redis_prefix, tmp_path):
    """Build an app serving that model on a fresh migrated SQLite file; keyword arguments are settings."""
    from spamguard import storage
    from spamguard.app import create_app

    def factory(database_url: str | None = None, **overrides):
        url = database_url or f"sqlite:///{tmp_path / f'adapt-{uuid.uuid4().hex[:6]}.db'}"
        storage.upgrade(url)
        config = {
            "TESTING": True,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
            "SPAMGUARD_MODEL_DIR": str(blog_model_dir),
            "SECRET_KEY": "test-secret",
            "SPAMGUARD_KEY_SECRET": "test-key-secret",
            "SPAMGUARD_BACKGROUND_TASKS": False,
        }
        config.update(overrides)
        return create_app(config)

    return factory

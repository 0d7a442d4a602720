"""API test helpers: one app (and one migrated SQLite file) per test module, the spec's fixed key K."""

from __future__ import annotations

import uuid

import pytest
from akismet_wire import K, add_site


@pytest.fixture(scope="module")
def api_app(model_dir, redis_url, redis_prefix, tmp_path_factory):
    from spamguard import storage
    from spamguard.app import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('api') / f'api-{uuid.uuid4().hex[:6]}.db'}"
    storage.upgrade(url)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
            "SPAMGUARD_MODEL_DIR": str(model_dir),
            "SECRET_KEY": "test-secret",
            "SPAMGUARD_KEY_SECRET": "test-key-secret",
            "SPAMGUARD_BACKGROUND_TASKS": False,
        }
    )
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


# The real gunicorn server (`live_server`) is the session-wide fixture in tests/conftest.py.

"""The site cache: no database read for a known key, and revocation/rotation seen within its TTL.

Counted events (SQL statements) and an injected clock, never wall time.
"""

from __future__ import annotations

import uuid

import pytest
from akismet_wire import CASE8
from sqlalchemy import event, update

from spamguard.services import override, services


@pytest.fixture
def fresh(model_dir, redis_url, redis_prefix, tmp_path):
    from spamguard import sites, storage
    from spamguard.app import create_app

    url = f"sqlite:///{tmp_path / 'cache.db'}"
    storage.upgrade(url)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
            "SPAMGUARD_MODEL_DIR": str(model_dir),
            "SECRET_KEY": "s",
            "SPAMGUARD_KEY_SECRET": "ks",
            "SPAMGUARD_BACKGROUND_TASKS": False,
        }
    )
    with app.app_context():
        site, key = sites.create_site(storage.get_session(), "https://blog.example", secret="ks")
    yield app, key, site.id
    services(app).state.delete_prefix()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def site_selects(app):
    """Count SELECTs on the sites table made through the app's engine."""
    engine = app.extensions["spamguard.db"].kw["bind"]
    seen = []

    def before(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM sites" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return seen


def install_clock(app) -> Clock:
    from spamguard.api.site_cache import SiteCache

    clock = Clock()
    override(app, site_cache=SiteCache(app.config["SPAMGUARD_KEY_SECRET"], clock=clock))
    return clock


def check(app, key):
    return app.test_client().post("/1.1/comment-check", data={**CASE8, "api_key": key})


def test_known_key_reads_no_site_row_after_the_first_call(fresh):
    app, key, _ = fresh
    install_clock(app)
    selects = site_selects(app)
    for _ in range(5):
        assert check(app, key).text in ("true", "false")
    assert len(selects) == 1


def test_change_from_another_process_is_seen_after_the_ttl(fresh):
    """A Core UPDATE fires no ORM event: it stands for the CLI or another worker revoking the key."""
    from spamguard import storage
    from spamguard.storage.models import Site, utcnow

    app, key, site_id = fresh
    clock = install_clock(app)
    assert check(app, key).text in ("true", "false")
    with app.app_context():
        session = storage.get_session()
        session.execute(update(Site).where(Site.id == site_id).values(revoked_at=utcnow()))
        session.commit()
    clock.now += 1.0
    assert check(app, key).text in ("true", "false")  # still within the TTL: cached
    clock.now += 1.5
    assert check(app, key).text == "invalid"


def test_revoke_in_this_process_is_seen_at_once(fresh):
    from spamguard import sites, storage

    app, key, _ = fresh
    install_clock(app)
    assert check(app, key).text in ("true", "false")
    with app.app_context():
        assert sites.revoke_key(storage.get_session(), key, secret="ks")
    assert check(app, key).text == "invalid"


def test_rotated_key_old_fails_new_works_at_once(fresh):
    from spamguard import sites, storage

    app, key, _ = fresh
    install_clock(app)
    assert check(app, key).text in ("true", "false")
    with app.app_context():
        _site, new_key = sites.rotate_key(storage.get_session(), key, secret="ks")
    assert check(app, key).text == "invalid"
    assert check(app, new_key).text in ("true", "false")


def test_settings_change_reaches_the_check(fresh):
    """A per-site threshold set in this process applies to the very next check."""
    from spamguard import storage
    from spamguard.storage.models import Site

    app, key, site_id = fresh
    install_clock(app)
    assert check(app, key).text in ("true", "false")
    with app.app_context():
        session = storage.get_session()
        session.get(Site, site_id).thresholds = {"unsure": 0.0, "spam": 0.0}
        session.commit()
    assert check(app, key).text == "true"

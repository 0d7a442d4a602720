"""API keys at rest: HMAC under a server-side secret, random hints, legacy SHA-256 rows upgraded on first use."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from sqlalchemy import event, select, text

from spamguard import sites, storage
from spamguard.storage.models import Site

BLOG = "https://blog.example"


def test_a_leaked_row_says_nothing_without_the_secret(make_app):
    app = make_app(SPAMGUARD_KEY_SECRET="server-side secret")
    with app.app_context():
        db = storage.get_session()
        made = [sites.create_site(db, BLOG, secret="server-side secret") for _ in range(3)]
        for site, key in made:
            row = db.get(Site, site.id)
            assert row.key_hash == hmac.new(b"server-side secret", key.encode(), hashlib.sha256).hexdigest()
            assert row.key_hash != hashlib.sha256(key.encode()).hexdigest() and row.key_scheme == "hmac"
        # Hints are random labels, not the key's first characters.
        assert any(site.key_hint != key[:4] for site, key in made)
        assert len({site.key_hint for site, _ in made}) >= 2
        # The same key under another secret matches nothing.
        assert sites.find_site(db, made[0][1], secret="another secret") is None
    client = app.test_client()
    assert client.post("/1.1/verify-key", data={"key": made[0][1], "blog": BLOG}).data == b"valid"


def _legacy_database(url: str, key: str) -> None:
    """A database as the previous release left it: revision 0001, the key's plain SHA-256 and prefix hint."""
    storage.upgrade(url, "0001")
    engine = storage.make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sites (url, key_hash, key_hint, created_at) VALUES (:u, :h, :k, :t)"),
            {"u": BLOG, "h": hashlib.sha256(key.encode()).hexdigest(), "k": key[:4], "t": "2026-01-01 00:00:00+00:00"},
        )
    engine.dispose()
    storage.upgrade(url)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_existing_keys_keep_working_and_are_rehashed_on_first_use(make_app, tmp_path, database, request):
    key = uuid.uuid4().hex[:12]
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'legacy.db'}"
    else:  # a fresh PostgreSQL database next to the run's, since the migration must start at 0001
        import psycopg

        base = request.getfixturevalue("pg_url")
        name = f"{base.rsplit('/', 1)[1]}_legacy"
        admin = psycopg.connect(base.replace("+psycopg", ""), autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        request.addfinalizer(lambda: (admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'), admin.close()))
        url = f"{base.rsplit('/', 1)[0]}/{name}"
    _legacy_database(url, key)
    app = make_app(url, SPAMGUARD_KEY_SECRET="new secret")
    with app.app_context():
        row = storage.get_session().scalar(select(Site))
        # Marked legacy; the hint that was the key's prefix is now random (equal by chance: 1 in 65536).
        assert row.key_scheme == "sha256" and row.key_hint != key[:4]
    client = app.test_client()
    for _ in range(2):  # first use upgrades the row, the second finds it by HMAC
        assert client.post("/1.1/verify-key", data={"key": key, "blog": BLOG}).data == b"valid"
        checked = client.post(
            "/1.1/comment-check",
            data={"api_key": key.upper(), "blog": BLOG, "user_ip": "192.0.2.1", "comment_content": "hello"},
        )
        assert checked.data in (b"true", b"false")
        with app.app_context():
            row = storage.get_session().scalar(select(Site))
            assert row.key_scheme == "hmac"
            assert row.key_hash == hmac.new(b"new secret", key.encode(), hashlib.sha256).hexdigest()
    assert client.post("/1.1/verify-key", data={"key": "0" * 12, "blog": BLOG}).data == b"invalid"


def test_key_lookup_is_one_indexed_query(make_app):
    app = make_app()
    secret = app.config["SPAMGUARD_KEY_SECRET"]
    with app.app_context():
        db = storage.get_session()
        _site, key = sites.create_site(db, BLOG, secret=secret)
        statements = []
        engine = db.get_bind()
        listener = lambda conn, cursor, stmt, params, context, many: statements.append((stmt, params))  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert sites.find_site(db, key, secret=secret) is not None
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert len(statements) == 1
        stmt, params = statements[0]
        plan = " ".join(str(row[-1]) for row in db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params))
        assert "USING INDEX" in plan and "SCAN" not in plan, plan

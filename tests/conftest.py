"""Shared fixtures: real Redis, real PostgreSQL, a real (quickly trained) model.

Each test run gets its own Redis key prefix and its own PostgreSQL database and
removes them afterwards; SQLite databases live in pytest's tmp_path.
Missing services are a failure, not a skip: CI must not pass without them.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from live_server import ROOT, LiveServer
from registry_helpers import clone_registry  # noqa: F401  (fixtures below and test modules use it)

REDIS_URL = os.environ.get("SPAMGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("SPAMGUARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
RUN_ID = uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:  # a failure, never a skip
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture(scope="session")
def redis_prefix(redis_url):
    """A key prefix private to this test run; every key under it is deleted at the end."""
    prefix = f"sgtest:{RUN_ID}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    # RQ and Flask-Limiter add their own namespaces below our prefix; catch those too.
    keys += list(client.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        client.delete(*set(keys))


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database private to this test run, dropped afterwards."""
    name = f"sg_test_{RUN_ID}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL}: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A registry holding one real model, trained quickly (fixed hyper-parameters) on the bundled corpora."""
    from model_training.train import train_and_register

    path = tmp_path_factory.mktemp("models")
    train_and_register(str(path), quick=True)
    return path


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'spamguard.db'}"


@pytest.fixture
def make_app(model_dir, redis_url, redis_prefix, tmp_path):
    """Build an app on a migrated database (SQLite unless a URL is given)."""
    from spamguard import storage
    from spamguard.app import create_app

    def factory(database_url: str | None = None, **overrides):
        url = database_url or f"sqlite:///{tmp_path / f'app-{uuid.uuid4().hex[:6]}.db'}"
        storage.upgrade(url)
        config = {
            "TESTING": True,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            # Own namespace per app: site ids restart at 1 in every fresh database.
            "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
            "SPAMGUARD_MODEL_DIR": str(model_dir),
            "SECRET_KEY": "test-secret",
            "SPAMGUARD_KEY_SECRET": "test-key-secret",
            # The periodic flush thread would outlive the test's database; tests/integration/quota covers it.
            "SPAMGUARD_BACKGROUND_TASKS": False,
            # A loaded CI box stalls past the 50 ms production default and Redis would be treated as
            # down (fail-open) mid-test; the tests of that path point at a dead port or set it themselves.
            "SPAMGUARD_REDIS_TIMEOUT": 1.0,
        }
        config.update(overrides)
        built.append(create_app(config))
        return built[-1]

    built: list = []
    yield factory
    from spamguard.services import services

    for app in built:  # write their pending check rows while the test's database still exists
        rows = getattr(services(app).checks, "rows", None)
        if rows is not None:
            try:
                rows.close()
            except Exception:  # a test that broke its own database on purpose
                pass


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def new_key(app):
    """Create a site on the app's database; returns a function giving its plaintext key."""
    from spamguard import sites, storage

    def factory(url: str = "https://blog.example") -> str:
        with app.app_context():
            _site, key = sites.create_site(storage.get_session(), url, secret=app.config["SPAMGUARD_KEY_SECRET"])
        return key

    return factory


@pytest.fixture
def key(new_key) -> str:
    return new_key()


@pytest.fixture
def registry_dir(model_dir, tmp_path) -> Path:
    """A private, writable copy of the session's registry (one promoted quick model)."""
    return clone_registry(Path(model_dir), tmp_path / "models")


@pytest.fixture
def current_version(registry_dir) -> str:
    return json.loads((registry_dir / "current.json").read_text())["version"]


LIVE_SITE = "https://blog.example"


@pytest.fixture(scope="session")
def live_server(model_dir, redis_url, redis_prefix, tmp_path_factory):
    """gunicorn (2 workers) on a fresh migrated SQLite file, with a key for LIVE_SITE made by the real CLI.

    Shared by the session's end-to-end tests (API clients, hostile input, WordPress). Yields a dict: url, key,
    database_url, log (path of the server's output), process.
    """
    import subprocess
    import sys

    from spamguard import storage

    work = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{work / 'spamguard.db'}"
    storage.upgrade(database_url)
    env = {
        "DATABASE_URL": database_url,
        "SPAMGUARD_MODEL_DIR": str(model_dir),
        "REDIS_URL": redis_url,
        "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
        "SPAMGUARD_VAR_DIR": str(work),
        "SECRET_KEY": "live-test-secret",
        "SPAMGUARD_KEY_SECRET": "live-test-key-secret",
        "SPAMGUARD_LOG_LEVEL": "WARNING",
        "SPAMGUARD_REDIS_TIMEOUT": "1.0",  # see make_app
    }
    created = subprocess.run(
        [sys.executable, "-m", "spamguard.cli", "keys", "create", "--site", LIVE_SITE],
        cwd=ROOT,
        env={**os.environ, "SPAMGUARD_ENV_FILE": os.devnull, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if created.returncode != 0:
        pytest.fail(f"`spamguard keys create` failed:\n{created.stderr[-3000:]}")
    server = LiveServer(env, work, workers=2, name="gunicorn")
    try:
        server.wait_ready()
        yield {
            "url": server.url,
            "key": created.stdout.strip().splitlines()[-1],
            "database_url": database_url,
            "log": server.log_path,
            "process": server.process,
        }
    finally:
        server.stop()


# -- test tiers ------------------------------------------------------------------------------------------
# The directory is the tier: tests/unit (no Redis, PostgreSQL, server or trained model; enforced below),
# tests/integration (the real Redis and PostgreSQL), tests/e2e (gunicorn, Chromium, Node, WordPress).
# Each test gets that one marker, so `-m unit|integration|e2e` and the directories select the same tests.
# tests/test_architecture.py, the suite's own checks (including that every other module sits in a tier),
# is the one module at the top; it needs Redis, so it counts as integration.
TESTS_DIR = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "e2e")
TOP_LEVEL_TIER = "integration"


def tier_of(path: Path) -> str | None:
    """The tier of a test module by its place under tests/; None outside the tiers (test_architecture fails)."""
    try:
        parts = Path(path).resolve().relative_to(TESTS_DIR).parts
    except ValueError:
        return None
    if parts == ("test_architecture.py",):
        return TOP_LEVEL_TIER
    return parts[0] if parts[0] in TIERS else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = tier_of(item.path)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))


def _service_ports() -> set[int]:
    from urllib.parse import urlsplit

    ports = {6379, 5432}
    for url in (REDIS_URL, PG_ADMIN_URL):
        try:
            ports.add(urlsplit(url).port or 0)
        except ValueError:
            pass
    return ports


@pytest.fixture(autouse=True)
def _unit_tier_has_no_services(request, monkeypatch):
    """Fail a `unit` test that reaches Redis or PostgreSQL, even when the code under test swallows the error.

    This guards the tier, it does not stand in for anything: the connection is refused (as if the service
    were down) and recorded, and the test fails at teardown. Redis goes through Python sockets; psycopg
    connects inside libpq, so its entry point is guarded instead.
    """
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    import socket

    ports, attempts = _service_ports(), []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refused(address) -> bool:
        if isinstance(address, tuple) and len(address) >= 2 and address[1] in ports:
            attempts.append(f"socket connect to {address[0]}:{address[1]}")
            return True
        return False

    def connect(sock, address):
        if refused(address):
            raise ConnectionRefusedError(f"unit tests may not connect to {address} (Redis/PostgreSQL)")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if refused(address):
            raise ConnectionRefusedError(f"unit tests may not connect to {address} (Redis/PostgreSQL)")
        return real_connect_ex(sock, address)

    real_pg_connect = psycopg.Connection.connect

    def pg_connect(conninfo: str = "", **kwargs):
        # A dead address (a test of "database unreachable") is fine; the PostgreSQL server's port is not.
        own = {"autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory"}  # not conninfo
        params = psycopg.conninfo.conninfo_to_dict(
            psycopg.conninfo.make_conninfo(
                conninfo, **{name: value for name, value in kwargs.items() if name not in own}
            )
        )
        pg_ports = str(params.get("port") or os.environ.get("PGPORT") or 5432).split(",")
        if any(int(port) in ports for port in pg_ports if port.strip().isdigit()):
            attempts.append(f"psycopg.connect to port {params.get('port') or 5432}")
            raise psycopg.OperationalError("unit tests may not connect to PostgreSQL")
        return real_pg_connect(conninfo, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(psycopg.Connection, "connect", pg_connect)
    monkeypatch.setattr(psycopg, "connect", pg_connect)  # an alias bound at import, used by SQLAlchemy
    yield
    if attempts:
        pytest.fail(
            f"a unit test reached Redis/PostgreSQL ({'; '.join(sorted(set(attempts)))}): "
            "move it out of the unit tier or give it an in-memory backend",
            pytrace=False,
        )

"""Shared by the integration tests of quota, reputation and jobs: real Redis and PostgreSQL, private key prefix /
schema per run."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from spamguard.backends import RedisState
from spamguard.quota.usage import UsageCounter
from spamguard.reputation.store import ReputationStore

REDIS_URL = os.environ.get("SPAMGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("SPAMGUARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def prefix() -> str:
    return f"sgtest:{uuid.uuid4().hex}:"


@pytest.fixture
def state(prefix):
    # A longer timeout than production: the shared 2-core box can stall for a few ms.
    st = RedisState(REDIS_URL, prefix, timeout=1.0)
    yield st
    st.reset_breaker()
    st.delete_prefix()


@pytest.fixture(scope="session")
def pg_schema():
    """A private PostgreSQL schema with the models' tables, dropped at the end."""
    from spamguard.storage.models import Base

    schema = f"sgtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    Base.metadata.create_all(engine)
    yield engine, schema
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def session_factory(pg_schema):
    engine, _ = pg_schema
    return sessionmaker(bind=engine, expire_on_commit=False)


@pytest.fixture
def session(session_factory):
    with session_factory() as s:
        yield s


@pytest.fixture
def make_site(session):
    from spamguard.storage.models import Site

    def make(url="https://blog.example", monthly_limit=None, rate_limit=None):
        site = Site(
            url=url,
            key_hash=uuid.uuid4().hex + uuid.uuid4().hex,
            key_hint="abcd",
            monthly_limit=monthly_limit,
            rate_limit=rate_limit,
        )
        session.add(site)
        session.commit()
        return site

    return make


@pytest.fixture
def usage(state, session_factory):
    return UsageCounter(state, default_limit=0, session_factory=session_factory)


@pytest.fixture
def reputation(state):
    return ReputationStore(state, "5/minute")

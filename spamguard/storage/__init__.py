"""Database access: one engine per app, one session per request, Alembic migrations.

Every engine has timeouts (`Timeouts`, from the SPAMGUARD_DB_* settings): an
unreachable or locked database must cost a request a few seconds and an error
answer, never a hung gunicorn worker.  `UNAVAILABLE` is what callers catch to say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from spamguard import config as settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Connection refused or timed out, statement timeout, "database is locked", no pooled connection free.
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
UNAVAILABLE_RETRY_AFTER = 30  # seconds, for the Retry-After of those answers


@dataclass(frozen=True)
class Timeouts:
    """Seconds; ``statement = 0`` means no limit (batch jobs such as training)."""

    connect: float = 2.0
    statement: float = 5.0
    pool: float = 2.0
    sqlite_busy: float = 3.0

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> Timeouts:
        config = settings.from_env() if config is None else config
        return cls(
            connect=config["SPAMGUARD_DB_CONNECT_TIMEOUT"],
            statement=config["SPAMGUARD_DB_STATEMENT_TIMEOUT"],
            pool=config["SPAMGUARD_DB_POOL_TIMEOUT"],
            sqlite_busy=config["SPAMGUARD_SQLITE_BUSY_TIMEOUT"],
        )


def connect_args(url: str, timeouts: Timeouts) -> dict[str, Any]:
    """The DBAPI's own timeout arguments for `url` (also used by the migrations' engine)."""
    if url.startswith("sqlite"):
        return {"timeout": timeouts.sqlite_busy, "check_same_thread": False}
    # libpq counts connect_timeout in whole seconds, at least 2.
    args: dict[str, Any] = {"connect_timeout": max(2, round(timeouts.connect))}
    if timeouts.statement > 0:
        args["options"] = f"-c statement_timeout={int(timeouts.statement * 1000)}"
    return args


def make_engine(url: str, timeouts: Timeouts | None = None) -> Engine:
    """Create an engine with `timeouts` (default: from the environment's settings).

    SQLite gets WAL and a busy timeout so gunicorn workers can share the file; the busy
    timeout stays well below gunicorn's 30 s worker timeout.
    """
    timeouts = timeouts or Timeouts.from_config()
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_engine(url, pool_timeout=timeouts.pool, connect_args=connect_args(url, timeouts))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - driver hook
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=timeouts.pool,
        connect_args=connect_args(url, timeouts),
    )


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file URL, so a fresh checkout needs no set-up."""
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_sessionmaker(url: str, timeouts: Timeouts | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=make_engine(url, timeouts), expire_on_commit=False)


def upgrade(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations to the database at `url`."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, revision)


def schema_problem(url: str) -> str | None:
    """None when the database at `url` is migrated to this code's head revision, else what to run.

    Raises sqlalchemy's OperationalError when the database cannot be reached at all.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    if not current:
        return "the database has no SpamGuard tables yet: run `spamguard db upgrade`"
    if current != heads:
        return (
            f"the database is at revision {', '.join(sorted(current))}, this SpamGuard needs "
            f"{', '.join(sorted(heads))}: run `spamguard db upgrade`"
        )
    return None


def init_app(app: Flask) -> None:
    app.extensions["spamguard.db"] = make_sessionmaker(app.config["DATABASE_URL"], Timeouts.from_config(app.config))
    app.teardown_appcontext(_end_session)


def get_session() -> Session:
    """The session of the current app context, created on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["spamguard.db"]()
    return g.db_session


def _end_session(exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        if not untouched(session):  # an untouched one holds nothing to release (most API calls: cached site)
            session.close()


def untouched(session: Session) -> bool:
    """No transaction begun and no object held: `close()` would release nothing."""
    return not session.in_transaction() and not session.identity_map and not session.new and not session.deleted

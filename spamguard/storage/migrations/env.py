"""Alembic environment: the URL comes from the caller (spamguard.storage.upgrade) or DATABASE_URL."""

from dataclasses import replace

from alembic import context
from sqlalchemy import create_engine, pool

import spamguard.delivery.models  # noqa: E402,F401  (its tables join Base.metadata)
from spamguard.config import from_env
from spamguard.storage import Timeouts, connect_args, ensure_sqlite_dir
from spamguard.storage.models import Base

config = context.config
url = config.attributes.get("database_url") or from_env()["DATABASE_URL"]


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    ensure_sqlite_dir(url)
    # Connect and lock timeouts, but no statement timeout: a migration may rightly take long.
    timeouts = replace(Timeouts.from_config(), statement=0)
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args(url, timeouts))
    with engine.connect() as connection:
        # render_as_batch lets later migrations ALTER tables on SQLite too.
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

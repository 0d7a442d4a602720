"""Where deliveries run: an RQ job (queued when a decision is made) and a periodic sweep.

Both run inside `spamguard worker`.  The job is enqueued by dotted name with no
arguments, so nothing secret ever sits in Redis: the worker reads the database
URL and SECRET_KEY from its own environment.  The sweep catches what the job
missed (Redis down when the decision was made), retries due back-offs, and
applies the timeout policy.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from .outbox import process_due
from .settings import DeliverySettings

log = logging.getLogger("spamguard.delivery")


def _worker_context() -> tuple[sessionmaker[Session], DeliverySettings]:
    from spamguard import config as settings
    from spamguard import storage

    config = settings.from_env()
    config["SECRET_KEY"] = settings.ensure_secret_key(config)
    return storage.make_sessionmaker(config["DATABASE_URL"]), DeliverySettings.from_config(config)


def run_due() -> dict[str, int]:
    """The RQ job: send everything that is due now."""
    factory, delivery_settings = _worker_context()
    with factory() as session:
        return process_due(session, delivery_settings)


class Sweeper:
    """A daemon thread in `spamguard worker` running `process_due` every `interval` seconds."""

    def __init__(
        self, session_factory: sessionmaker[Session], delivery_settings: DeliverySettings, interval: float
    ) -> None:
        self.session_factory, self.settings, self.interval = session_factory, delivery_settings, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spamguard-delivery-sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.session_factory() as session:
                    process_due(session, self.settings)
            except Exception as exc:  # never let one bad pass end the loop
                log.warning(
                    "delivery sweep failed",
                    extra={"event": "delivery_sweep_error", "error": type(exc).__name__, "detail": str(exc)[:200]},
                )


def start_sweeper(interval: float) -> Sweeper:
    factory, delivery_settings = _worker_context()
    sweeper = Sweeper(factory, delivery_settings, interval)
    sweeper.start()
    return sweeper

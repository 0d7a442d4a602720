"""Decisions flow back to the site: Akismet callbacks, signed per-site webhooks and a pull feed.

models.py    tables (site_webhooks, callbacks, decisions, deliveries)
urls.py      which URLs may be called (SSRF guard)
signing.py   webhook secrets and signatures, sealed callback keys
outbox.py    decisions → outbox rows → attempts with back-off; timeout policy
sender.py    one HTTP POST to a checked address
jobs.py      the RQ job and the worker's periodic sweep
queries.py   what the admin deliveries page reads, and "retry now"
feed.py      GET /api/v1/decisions
webhooks.py  per-site webhook configuration (CLI)
"""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.orm import Session

from spamguard.services import services
from spamguard.storage.models import Check

from .outbox import record_decision, register_callback, wake_worker, withdraw_decisions
from .settings import DeliverySettings

__all__ = ["init_app", "moderator_decided", "decision_saved", "decision_undone", "register_callback"]


def init_app(app: Flask) -> None:
    from .feed import bp

    app.extensions["spamguard.delivery"] = DeliverySettings.from_config(app.config)  # bad settings fail at start
    app.register_blueprint(bp)


def settings() -> DeliverySettings:
    delivery_settings: DeliverySettings = current_app.extensions["spamguard.delivery"]
    return delivery_settings


def moderator_decided(session: Session, check: Check, label: str) -> None:
    """Queue the moderator's decision in the caller's transaction (it commits)."""
    record_decision(session, check, label, "moderator")


def decision_saved() -> None:
    """After the commit: wake the worker (never waits for the receiver)."""
    wake_worker(services().jobs.queue)


def decision_undone(session: Session, check: Check) -> None:
    withdraw_decisions(session, check)

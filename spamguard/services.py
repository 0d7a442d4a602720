"""The app's services, built once by `create_app` and reached through one typed accessor.

Views and helpers call `services()` instead of looking objects up in
`app.extensions` by string, so a missing or renamed service is a type error,
not a KeyError at request time.  This module imports the service types for the
type checker only: every layer may import it without creating a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from spamguard.api.site_cache import SiteCache
    from spamguard.backends import RedisState
    from spamguard.checking import CheckService
    from spamguard.jobs import JobQueue, Maintenance
    from spamguard.jobs.heartbeat import WorkerHeartbeat
    from spamguard.quota import Quota
    from spamguard.reputation import ReputationStore
    from spamguard.scoring.model import ModelHolder

EXTENSION = "spamguard.services"


@dataclass(frozen=True)
class Services:
    db: sessionmaker[Session]
    models: ModelHolder
    state: RedisState  # the request path's Redis (or memory) backend behind the fail-open policy
    quota: Quota  # rate limits, monthly usage and its alerts
    reputation: ReputationStore
    jobs: JobQueue
    checks: CheckService  # the one comment-check pipeline
    site_cache: SiteCache
    heartbeat: WorkerHeartbeat  # reads the workers' beats (readyz, /metrics, admin page)
    maintenance: Maintenance | None = None


def install(app: Flask, built: Services) -> None:
    app.extensions[EXTENSION] = built


def services(app: Flask | None = None) -> Services:
    """The services of `app` (default: the current app)."""
    target: Any = app if app is not None else current_app
    return target.extensions[EXTENSION]


def override(app: Flask, **changes: Any) -> Services:
    """Swap services (tests: a model holder on an injected clock, a fake job queue); the check
    pipeline is rebuilt on the new parts so it never keeps a stale reference."""
    current = services(app)
    updated = replace(current, **changes)
    updated = replace(
        updated,
        checks=updated.checks.rewired(models=updated.models, quota=updated.quota, reputation=updated.reputation),
    )
    install(app, updated)
    return updated

"""Redis-backed limits: per-key rate limits, usage counters, reputation, background jobs.

`init_app(app)` builds the services and stores them in `app.extensions`:

  spamguard.redis        RedisState   (client + fail-open guard)
  spamguard.limiter      flask_limiter.Limiter
  spamguard.ratelimit    KeyRateLimiter  .check(site) -> LimitResult
  spamguard.usage        UsageCounter    .record_call / usage_report / flush_usage
  spamguard.reputation   ReputationStore .lookup / adjust / record_check / record_feedback / catch_up
  spamguard.jobs         JobQueue        .enqueue_retrain / job_status
  spamguard.maintenance  Maintenance     background usage flush + feedback catch-up
"""
from __future__ import annotations

from flask import Flask, current_app

from .jobs import JobQueue, queue_url
from .maintenance import Maintenance, build_services
from .ratelimit import KeyRateLimiter, LimitResult, init_limiter

__all__ = ["init_app", "check_key_limit", "LimitResult"]


def init_app(app: Flask) -> None:
    config = app.config
    session_factory = app.extensions.get("spamguard.db")
    services = build_services(config, session_factory)
    limiter = init_limiter(app, services.state)
    ratelimit = KeyRateLimiter(limiter, services.state, config["SPAMGUARD_RATE_LIMIT_KEY"],
                               services.usage.monthly_policy)
    app.extensions.update({
        "spamguard.redis": services.state,
        "spamguard.limiter": limiter,
        "spamguard.ratelimit": ratelimit,
        "spamguard.usage": services.usage,
        "spamguard.reputation": services.reputation,
        "spamguard.jobs": JobQueue(queue_url(config), config["SPAMGUARD_REDIS_PREFIX"],
                                   config["SPAMGUARD_MODEL_DIR"], config["DATABASE_URL"]),
    })
    if session_factory is not None and config.get("SPAMGUARD_BACKGROUND_TASKS", True):
        maintenance = Maintenance(services.usage, services.reputation, session_factory,
                                  config["SPAMGUARD_FLUSH_SECONDS"])
        app.extensions["spamguard.maintenance"] = maintenance
        # Started on the first request, not here: gunicorn may fork after create_app.
        app.before_request(maintenance.ensure_started)


def check_key_limit(site, monthly: bool = True) -> LimitResult:
    """Count one API call against `site`'s rate limit (and monthly throttle)."""
    return current_app.extensions["spamguard.ratelimit"].check(site, monthly)

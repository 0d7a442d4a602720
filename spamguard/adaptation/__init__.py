"""Per-site adaptation: each site's own labels correct the global model for that site only.

A site whose ham the global model finds spammy (long technical comments with
links and code, say) teaches SpamGuard so with its own `submit-ham` reports and
moderator decisions, without a global retrain: each label queues a refit in the
background of the process that received it, which other workers see within 2 s.
See `service.py` for the trust boundary and `fit.py` for the model.

The two entry points below are what checking calls: `adjust` when a comment is
scored, `feedback_recorded` after a label is stored.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from spamguard import storage
from spamguard.comment import Comment
from spamguard.storage.models import Site

from .service import Settings, SiteAdapter, SiteModel

__all__ = ["Settings", "SiteAdapter", "SiteModel", "adapter", "adjust", "feedback_recorded"]


def adapter(app: Flask) -> SiteAdapter:
    """The app's adapter, created on first use."""
    found = app.extensions.get("spamguard.adaptation")
    if found is None:
        found = app.extensions.setdefault("spamguard.adaptation", SiteAdapter(
            Settings.from_config(app.config), app.extensions.get("spamguard.db")))
    return found


def adjust(site: Site, scorer: Any, comment: Comment, probability: float, reasons: list[str],
           global_logit: float) -> tuple[float, list[str]]:
    """The probability and reasons after `site`'s own correction (unchanged when it has none)."""
    return adapter(current_app).apply(storage.get_session(), site.id, scorer, comment, probability, reasons,
                                      global_logit)


def feedback_recorded(site: Site, comment: Comment) -> None:
    """Queue a refit of `site`'s correction now that it sent a label (test calls never train)."""
    if not comment.is_test:
        adapter(current_app).refit_later(site.id, current_app.extensions["spamguard.models"].current())

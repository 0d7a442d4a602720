"""The moderation web UI: login, review queue, decisions, stats and admin pages.

One blueprint (`bp`) carries every UI view; CSRF protection and the security
headers are attached to this blueprint only, so the Akismet form endpoints
(`/1.1/*`, `/1.2/*`) and the JSON API (`/api/*`) are untouched.
"""
from __future__ import annotations

from spamguard.delivery import admin_views  # noqa: F401,E402  (the admin deliveries page, on bp too)
from spamguard.moderation import admin, auth, detail, errors, models_page, queue, stats  # noqa: F401  (routes on bp)
from spamguard.moderation.blueprint import bp

__all__ = ["bp"]

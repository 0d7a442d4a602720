"""The moderation web UI: login, review queue, decisions, stats and admin pages.

One blueprint (`bp`, built in `blueprint`) carries every UI view; CSRF protection
and the security headers are attached to this blueprint only, so the Akismet form
endpoints (`/1.1/*`, `/1.2/*`) and the JSON API (`/api/*`) are untouched.
"""

from __future__ import annotations

from spamguard.moderation.blueprint import bp

__all__ = ["bp"]

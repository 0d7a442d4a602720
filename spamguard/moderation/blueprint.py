"""The moderation blueprint object, shared by the view modules."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("moderation", __name__, template_folder="templates", static_folder="static",
               static_url_path="/ui-static")

from spamguard.moderation import security  # noqa: E402,F401  (installs CSRF + headers on bp)

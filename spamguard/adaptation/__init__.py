"""Per-site adaptation: each site's own labels correct the global model for that site only.

A site whose ham the global model finds spammy (long technical comments with
links and code, say) teaches SpamGuard so with its own `submit-ham` reports and
moderator decisions, without a global retrain: each label queues a refit in the
background of the process that received it, which other workers see within 2 s.
See `service.py` for the trust boundary and `fit.py` for the model.

`create_app` builds one `SiteAdapter` and hands it to the check pipeline, which
calls `apply` when a comment is scored and `refit_later` after a label is stored.
"""

from __future__ import annotations

from .service import Settings, SiteAdapter, SiteModel

__all__ = ["Settings", "SiteAdapter", "SiteModel"]

"""The moderation blueprint: every UI route, registered here from the view modules.

Dependencies run one way: the view modules define plain functions (and import
`security` for their decorators); this module imports them and the blueprint
is built from the table below, so no module registers anything by being imported.
"""

from __future__ import annotations

from flask import Blueprint

from spamguard.moderation import admin, auth, deliveries, detail, models_page, queue, security, stats

GET, POST = ["GET"], ["POST"]
ROUTES = (
    ("/", queue.home, GET),
    ("/moderation", queue.queue, GET),
    ("/moderation/checks/<int:check_id>", detail.detail, GET),
    ("/moderation/checks/<int:check_id>/decide", queue.decide_one, POST),
    ("/moderation/checks/<int:check_id>/decide-all", queue.decide_all_from, POST),
    ("/moderation/bulk", queue.decide_bulk, POST),
    ("/moderation/undo", queue.undo, POST),
    ("/stats", stats.stats, GET),
    ("/login", auth.login, ["GET", "POST"]),
    ("/logout", auth.logout, POST),
    ("/admin", admin.admin_index, GET),
    ("/admin/models", admin.admin_models, GET),
    ("/admin/models/promote", admin.admin_promote, POST),
    ("/admin/models/rollback", admin.admin_rollback, POST),
    ("/admin/models/retrain", admin.admin_retrain, POST),
    ("/admin/models/<version>/report", models_page.model_report, GET),
    ("/admin/models/<version>/files/<name>", models_page.model_file, GET),
    ("/admin/sites", admin.admin_sites, GET),
    ("/admin/sites", admin.admin_sites_create, POST),
    ("/admin/sites/<int:site_id>/revoke", admin.admin_sites_revoke, POST),
    ("/admin/audit", admin.admin_audit, GET),
    ("/admin/deliveries", deliveries.admin_deliveries, GET),
    ("/admin/deliveries/<int:delivery_id>/retry", deliveries.admin_delivery_retry, POST),
)

bp = Blueprint(
    "moderation", __name__, template_folder="templates", static_folder="static", static_url_path="/ui-static"
)
security.install(bp)  # CSRF + security headers on these routes only (not the API blueprints)
for rule, view, methods in ROUTES:
    bp.add_url_rule(rule, view_func=view, methods=methods)

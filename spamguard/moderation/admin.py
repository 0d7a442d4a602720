"""Admin pages: model registry (promote, rollback, background retrain), sites/keys, audit log."""

from __future__ import annotations

import logging

from flask import current_app, flash, redirect, render_template, request, url_for

from spamguard import sites as site_service
from spamguard import storage
from spamguard.moderation import models_page
from spamguard.moderation.lookup import get_or_404
from spamguard.moderation.security import admin_required, audit
from spamguard.scoring.registry import Registry, RegistryError
from spamguard.services import services
from spamguard.storage.models import Site
from spamguard.storage.queries import audit as audit_log
from spamguard.storage.queries.sites import all_sites

log = logging.getLogger(__name__)
AUDIT_PAGE = 100


def _registry() -> Registry:
    return Registry(current_app.config["SPAMGUARD_MODEL_DIR"])


def _jobs():
    return services().jobs


def _metrics(manifest: dict) -> list[tuple[str, str]]:
    metrics = manifest.get("metrics") or {}
    out = []
    for name, value in metrics.items() if isinstance(metrics, dict) else []:
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif isinstance(value, (dict, list)):
            continue
        out.append((str(name), str(value)))
    return out


@admin_required
def admin_index():
    return redirect(url_for("moderation.admin_models"))


@admin_required
def admin_models():
    registry = _registry()
    try:
        models = list(reversed(registry.list()))
        history = list(reversed(registry.history()))[:10]
    except Exception:  # a broken registry must not hide the page that fixes it
        log.exception("model registry unreadable")
        models, history = [], []
        flash("The model registry could not be read.", "error")
    current = next((m for m in models if m.get("promoted")), None)
    rows = [
        {
            "version": m.get("version", ""),
            "created": m.get("created", ""),
            "promoted": m.get("promoted"),
            "metrics": _metrics(m),
            "thresholds": m.get("thresholds") or {},
            **models_page.describe(m, current),
        }
        for m in models
    ]
    db = storage.get_session()
    recent = audit_log.latest(db, "retrain", 5)
    jobs = []
    for row in recent:
        job_id = (row.details or {}).get("job_id", "")
        try:
            status = _jobs().job_status(job_id) if job_id else {"status": "unknown"}
        except Exception:
            status = {"status": "unknown (Redis unavailable)"}
        jobs.append(
            {
                "id": job_id,
                "at": row.created_at,
                "status": status.get("status"),
                "error": status.get("error"),
                "from_db": (row.details or {}).get("from_db"),
                "api_feedback": (row.details or {}).get("api_feedback"),
            }
        )
    from spamguard.health import worker_status

    worker = worker_status(current_app._get_current_object())  # type: ignore[attr-defined]  # werkzeug's proxy is untyped
    return render_template("moderation/admin_models.html", models=rows, history=history, jobs=jobs, worker=worker)


@admin_required
def admin_promote():
    version = request.form.get("version", "").strip()
    registry = _registry()
    try:
        previous = registry.current_version()
        registry.promote(version, reason="promoted in admin UI")  # verifies the artifact first
    except (RegistryError, OSError) as exc:
        flash(f"Could not promote: {exc}", "error")
        return redirect(url_for("moderation.admin_models"))
    audit("model_promote", version, previous=previous)
    flash(f"Promoted {version}; workers pick it up within seconds.", "info")
    return redirect(url_for("moderation.admin_models"))


@admin_required
def admin_rollback():
    registry = _registry()
    current = registry.current_version()
    try:
        previous = registry.rollback()
    except Exception as exc:
        flash(f"Could not roll back: {exc}", "error")
        return redirect(url_for("moderation.admin_models"))
    audit("model_rollback", previous or "", rolled_back=current)
    flash(f"Rolled back to {previous}.", "info")
    return redirect(url_for("moderation.admin_models"))


@admin_required
def admin_retrain():
    from_db = request.form.get("from_db") == "1"
    api_feedback = from_db and request.form.get("api_feedback") == "1"  # untrusted reports: opt-in
    try:
        job_id = _jobs().enqueue_retrain(from_db=from_db, api_feedback=api_feedback)
    except Exception:
        log.exception("could not queue retrain")
        flash("Could not queue the retrain (job queue unavailable); try again later.", "error")
        return redirect(url_for("moderation.admin_models"))
    audit("retrain", job_id, job_id=job_id, from_db=from_db, api_feedback=api_feedback)
    flash(f"Retrain queued as job {job_id}; `spamguard worker` runs it.", "info")
    return redirect(url_for("moderation.admin_models"))


@admin_required
def admin_sites():
    db = storage.get_session()
    return render_template("moderation/admin_sites.html", sites=all_sites(db), new_key=None, new_site=None)


@admin_required
def admin_sites_create():
    url = request.form.get("url", "").strip()
    if not url.startswith(("http://", "https://")) or len(url) > 2048:
        flash("Enter the site's URL (http:// or https://).", "error")
        return redirect(url_for("moderation.admin_sites"))
    db = storage.get_session()
    site, key = site_service.create_site(db, url, secret=current_app.config["SPAMGUARD_KEY_SECRET"])
    audit("site_create", f"site:{site.id}", url=site.url, key_hint=site.key_hint)
    # Rendered directly (no redirect) so the key is shown exactly once and never stored.
    return render_template("moderation/admin_sites.html", sites=all_sites(db), new_key=key, new_site=site)


@admin_required
def admin_sites_revoke(site_id: int):
    db = storage.get_session()
    get_or_404(db, Site, site_id)
    if site_service.revoke_site(db, site_id):
        audit("site_revoke", f"site:{site_id}")
        flash(f"Site {site_id}'s key is revoked.", "info")
    else:
        flash(f"Site {site_id} was already revoked.", "error")
    return redirect(url_for("moderation.admin_sites"))


@admin_required
def admin_audit():
    db = storage.get_session()
    action = request.args.get("action", "").strip()[:64]
    rows, next_before = audit_log.page(db, before=request.args.get("before", type=int), action=action, size=AUDIT_PAGE)
    return render_template("moderation/admin_audit.html", rows=rows, next_before=next_before, action=action)

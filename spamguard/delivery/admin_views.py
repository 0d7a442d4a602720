"""Admin page: deliveries that are still pending or have failed, with a "retry now" button."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from spamguard import storage
from spamguard.moderation.blueprint import bp
from spamguard.moderation.security import admin_required, audit
from spamguard.storage.models import Site, utcnow

from .models import Decision, Delivery
from .outbox import wake_worker

PAGE = 100
SHOWN = ("pending", "failed")


@bp.get("/admin/deliveries")
@admin_required
def admin_deliveries() -> str:
    db = storage.get_session()
    status = request.args.get("status", "")
    statuses = (status,) if status in SHOWN + ("delivered", "cancelled") else SHOWN
    rows = db.execute(
        select(Delivery, Decision, Site.url).join(Decision, Decision.id == Delivery.decision_id)
        .join(Site, Site.id == Delivery.site_id).where(Delivery.status.in_(statuses))
        .order_by(Delivery.id.desc()).limit(PAGE)).all()
    counts = dict(db.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    return render_template("moderation/admin_deliveries.html", rows=rows, counts=counts, status=status)


@bp.post("/admin/deliveries/<int:delivery_id>/retry")
@admin_required
def admin_delivery_retry(delivery_id: int) -> Response:
    db = storage.get_session()
    delivery = db.get(Delivery, delivery_id)
    if delivery is None:
        abort(404)
    if delivery.status not in SHOWN:
        flash("That delivery has already gone out.", "error")
        return redirect(url_for("moderation.admin_deliveries"))
    delivery.status, delivery.next_attempt_at, delivery.claimed_until = "pending", utcnow(), None
    audit("delivery_retry", f"delivery:{delivery.id}", commit=False, url=delivery.url, attempts=delivery.attempts)
    db.commit()
    from flask import current_app

    jobs = current_app.extensions.get("spamguard.jobs")
    wake_worker(jobs.queue if jobs is not None else None)
    flash("Queued for another try; the worker sends it shortly.", "info")
    return redirect(url_for("moderation.admin_deliveries"))

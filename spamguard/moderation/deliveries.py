"""Admin page: deliveries that are still pending or have failed, with a "retry now" button."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from spamguard import storage
from spamguard.delivery import queries
from spamguard.delivery.models import Delivery
from spamguard.delivery.outbox import wake_worker
from spamguard.moderation.lookup import get_or_404
from spamguard.moderation.security import admin_required, audit
from spamguard.services import services

PAGE = 100
SHOWN = queries.RETRYABLE


@admin_required
def admin_deliveries():
    db = storage.get_session()
    status = request.args.get("status", "")
    statuses = (status,) if status in SHOWN + ("delivered", "cancelled") else SHOWN
    return render_template(
        "moderation/admin_deliveries.html",
        rows=queries.newest(db, statuses, PAGE),
        counts=queries.status_counts(db),
        status=status,
    )


@admin_required
def admin_delivery_retry(delivery_id: int):
    db = storage.get_session()
    delivery = get_or_404(db, Delivery, delivery_id)
    if not queries.retry_now(delivery):
        flash("That delivery has already gone out.", "error")
        return redirect(url_for("moderation.admin_deliveries"))
    audit("delivery_retry", f"delivery:{delivery.id}", commit=False, url=delivery.url, attempts=delivery.attempts)
    db.commit()
    wake_worker(services().jobs.queue)
    flash("Queued for another try; the worker sends it shortly.", "info")
    return redirect(url_for("moderation.admin_deliveries"))

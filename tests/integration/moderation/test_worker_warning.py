"""A retrain queued while no `spamguard worker` is alive says so on the admin page."""

from __future__ import annotations

import redis

from spamguard.jobs.heartbeat import WorkerHeartbeat


def test_queued_retrain_without_worker_is_flagged(ui, admin, app):
    token = ui.token(admin, "/admin/models")
    assert admin.post("/admin/models/retrain", data={"from_db": "1", "csrf_token": token}).status_code == 302
    html = admin.get("/admin/models").get_data(as_text=True)
    assert 'id="worker-down"' in html and "No background worker is running" in html
    assert "queued <strong" in html and "(no worker running)" in html

    WorkerHeartbeat(redis.Redis.from_url(app.config["REDIS_URL"]), app.config["SPAMGUARD_REDIS_PREFIX"]).beat()
    html = admin.get("/admin/models").get_data(as_text=True)
    assert 'id="worker-down"' not in html and "(no worker running)" not in html
    assert "queued" in html

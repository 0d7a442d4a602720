"""Admin pages for the trust settings: sharing shown per site."""

from __future__ import annotations

from spamguard.services import services
from spamguard.storage.models import Site


def test_sites_page_shows_who_shares_reputation(ui, admin):
    shared = ui.site("https://shared.example")
    private = ui.site("https://private.example")
    with ui.db() as db:
        db.get(Site, private).share_reputation = False
        db.commit()
    html = admin.get("/admin/sites").get_data(as_text=True)
    rows = {site_id: html[html.index(f"<td>{site_id}</td>") :].split("</tr>", 1)[0] for site_id in (shared, private)}
    assert ">shared<" in rows[shared]
    assert "private (opted out)" in rows[private]


def test_retrain_form_leaves_api_feedback_out_unless_asked(ui, admin, app):
    from rq.job import Job

    html = admin.get("/admin/models").get_data(as_text=True)
    assert 'name="api_feedback" value="1">' in html  # offered, not checked
    assert 'name="from_db" value="1" checked>' in html
    jobs = services(app).jobs

    def queue(**form) -> list:
        token = ui.token(admin, "/admin/models")
        assert admin.post("/admin/models/retrain", data={**form, "csrf_token": token}).status_code == 302
        with ui.db() as db:
            from sqlalchemy import select

            from spamguard.storage.models import AuditLog

            row = db.scalars(select(AuditLog).where(AuditLog.action == "retrain").order_by(AuditLog.id.desc())).first()
        job = Job.fetch(row.details["job_id"], connection=jobs.connection)
        return job.args

    default = queue(from_db="1")  # what the form sends untouched
    assert default[1] == app.config["DATABASE_URL"] and default[3] is False
    opted_in = queue(from_db="1", api_feedback="1")
    assert opted_in[3] is True
    assert "moderator + API" in admin.get("/admin/models").get_data(as_text=True)
    jobs.queue.empty()

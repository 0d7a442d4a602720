"""Stats page numbers, admin pages (models, sites, audit), the users CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from spamguard.moderation import stats as stats_module
from spamguard.services import override
from spamguard.storage.models import AuditLog, Feedback, Site, User
from spamguard.storage.queries import stats as stats_queries


def test_stats_counts_and_overturn_rates(ui, app, moderator):
    a, b = ui.site("https://a.example"), ui.site("https://b.example")
    now = datetime.now(UTC)
    flagged = [ui.add_check(a, verdict="spam") for _ in range(4)]
    ham = [ui.add_check(a, verdict="ham", score=0.1) for _ in range(5)]
    ui.add_check(b, verdict="unsure", created_at=now - timedelta(days=2))
    ui.add_check(b, verdict="ham", created_at=now - timedelta(days=40))  # outside the window
    token = ui.token(moderator)
    moderator.post(f"/moderation/checks/{flagged[0]}/decide", data={"label": "ham", "csrf_token": token})
    moderator.post(f"/moderation/checks/{flagged[1]}/decide", data={"label": "spam", "csrf_token": token})
    with ui.db() as db:
        db.add(Feedback(site_id=a, check_id=ham[0], label="spam", source="api", fields={}))
        db.commit()
    with app.app_context():
        from spamguard import storage

        db = storage.get_session()
        since = now - timedelta(days=30)
        rates = {r["site_id"]: r for r in stats_module.overturn_rates(db, since)}
        counts = stats_queries.daily_counts(db, since)
    assert (rates[a]["flagged"], rates[a]["flagged_ham"], rates[a]["fp_pct"]) == (4, 1, 25.0)
    assert (rates[a]["ham"], rates[a]["ham_spam"], rates[a]["fn_pct"]) == (5, 1, 20.0)
    assert (rates[b]["flagged"], rates[b]["ham"]) == (1, 0)
    assert rates[None]["flagged"] == 5 and rates[None]["fp_pct"] == 20.0
    assert counts[now.date().isoformat()] == {"ham": 5, "unsure": 0, "spam": 4, "discard": 0}
    html = moderator.get("/stats").get_data(as_text=True)
    assert "<svg" in html and 'class="bar-spam"' in html and "https://a.example" in html
    assert "25.0%" in html and "20.0%" in html
    assert re.search(rf'/moderation/checks/{flagged[0]}"', html)  # recently overturned


def test_admin_sites_create_shows_key_once_and_revoke(ui, admin, app):
    token = ui.token(admin, "/admin/sites")
    response = admin.post("/admin/sites", data={"url": "https://new.example", "csrf_token": token})
    html = response.get_data(as_text=True)
    key = re.search(r'<code id="new-key">([0-9a-f]{12})</code>', html).group(1)
    assert response.headers["Cache-Control"] == "no-store"
    assert key not in admin.get("/admin/sites").get_data(as_text=True)
    verify = app.test_client().post("/1.1/verify-key", data={"key": key, "blog": "https://new.example"})
    assert verify.get_data(as_text=True) == "valid"
    with ui.db() as db:
        site = db.scalar(select(Site).where(Site.url == "https://new.example"))
    assert admin.post(f"/admin/sites/{site.id}/revoke", data={"csrf_token": token}).status_code == 302
    verify = app.test_client().post("/1.1/verify-key", data={"key": key, "blog": "https://new.example"})
    assert verify.get_data(as_text=True) == "invalid"
    assert admin.post("/admin/sites", data={"url": "javascript:alert(1)", "csrf_token": token}).status_code == 302
    with ui.db() as db:
        actions = [r.action for r in db.scalars(select(AuditLog).order_by(AuditLog.id)).all()]
    assert actions[-2:] == ["site_create", "site_revoke"]


def test_admin_models_list_promote_rollback(ui, admin, app, tmp_path):
    import shutil

    from spamguard.scoring.registry import Registry

    model_dir = tmp_path / "models"
    shutil.copytree(app.config["SPAMGUARD_MODEL_DIR"], model_dir)
    app.config["SPAMGUARD_MODEL_DIR"] = str(model_dir)
    registry = Registry(model_dir)
    current = registry.current_version()
    model, manifest = registry.load(current)
    other = registry.register(
        model,
        {k: v for k, v in manifest.items() if k not in ("version", "artifact_sha256", "artifact_bytes", "promoted")},
    )
    html = admin.get("/admin/models").get_data(as_text=True)
    assert current in html and other in html and "current" in html
    token = ui.token(admin, "/admin/models")
    admin.post("/admin/models/promote", data={"version": other, "csrf_token": token})
    assert registry.current_version() == other
    admin.post("/admin/models/promote", data={"version": "../../etc", "csrf_token": token})
    assert registry.current_version() == other
    admin.post("/admin/models/rollback", data={"csrf_token": token})
    assert registry.current_version() == current
    with ui.db() as db:
        actions = [r.action for r in db.scalars(select(AuditLog).order_by(AuditLog.id)).all()]
    assert actions[-2:] == ["model_promote", "model_rollback"]


def test_admin_promote_refuses_a_corrupted_artifact(ui, admin, app, tmp_path):
    """The admin UI promotes through the same verified Registry.promote() as the CLI."""
    import shutil

    from spamguard.scoring.registry import Registry

    model_dir = tmp_path / "models"
    shutil.copytree(app.config["SPAMGUARD_MODEL_DIR"], model_dir)
    app.config["SPAMGUARD_MODEL_DIR"] = str(model_dir)
    registry = Registry(model_dir)
    current = registry.current_version()
    model, manifest = registry.load(current)
    bad = registry.register(
        model,
        {k: v for k, v in manifest.items() if k not in ("version", "artifact_sha256", "artifact_bytes", "promoted")},
    )
    artifact = model_dir / bad / "model.joblib"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    token = ui.token(admin, "/admin/models")
    response = admin.post("/admin/models/promote", data={"version": bad, "csrf_token": token}, follow_redirects=True)
    assert "Could not promote" in response.get_data(as_text=True)
    assert "does not match manifest" in response.get_data(as_text=True)
    assert registry.current_version() == current
    with ui.db() as db:
        actions = [r.action for r in db.scalars(select(AuditLog).order_by(AuditLog.id)).all()]
    assert "model_promote" not in actions


def test_admin_retrain_is_queued_not_run(ui, admin, app):
    calls = []

    class FakeJobs:
        def enqueue_retrain(self, from_db=True, api_feedback=False):
            calls.append(from_db)
            return "job-123"

        def job_status(self, job_id):
            return {"id": job_id, "status": "queued"}

    override(app, jobs=FakeJobs())
    token = ui.token(admin, "/admin/models")
    assert admin.post("/admin/models/retrain", data={"from_db": "1", "csrf_token": token}).status_code == 302
    assert calls == [True]
    html = admin.get("/admin/models").get_data(as_text=True)
    assert "job-123" in html and "queued" in html


def test_audit_page_lists_actions_for_admins(ui, admin):
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert "login" in html and "root" in html
    assert admin.get("/admin/audit?action=login").status_code == 200


def test_users_cli(app, monkeypatch):
    from spamguard.moderation.cli import users

    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    runner = CliRunner()
    result = runner.invoke(
        users,
        ["create", "--username", "carol", "--role", "admin", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(users, ["create", "--username", "dave"], input="short\nshort\n")
    assert result.exit_code != 0 and "at least" in result.output
    result = runner.invoke(users, ["create", "--username", "dave"], input="dave's password 1\ndave's password 1\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(users, ["create", "--username", "dave", "--password-stdin"], input="another password\n")
    assert result.exit_code != 0 and "exists" in result.output
    assert "carol" in runner.invoke(users, ["list"]).output
    assert runner.invoke(users, ["disable", "dave"]).exit_code == 0
    with app.extensions["spamguard.db"]() as db:
        rows = {u.username: u for u in db.scalars(select(User)).all()}
    assert rows["carol"].role == "admin" and rows["carol"].password_hash.startswith("$argon2id$")
    assert rows["dave"].role == "moderator" and rows["dave"].disabled
    assert "disabled" in runner.invoke(users, ["list"]).output

"""Queue actions as JSON, decide-all by IP/e-mail, tab count cache, error pages, `/`,
the Models page and its files (no path traversal), reasons people can act on, test requests in stats."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from spamguard.moderation.model_files import file_path, listed_files
from spamguard.scoring.explain import display_reasons, useful_reason
from spamguard.storage.models import AuditLog, Check, Feedback
from spamguard.storage.queries import queue as listing

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_decisions_answer_json_for_the_script(ui, moderator):
    site = ui.site()
    a, b = ui.add_check(site, author="Ann", verdict="unsure"), ui.add_check(site, author="Bob", verdict="unsure")
    token = ui.token(moderator)
    res = moderator.post(f"/moderation/checks/{a}/decide", data={"label": "spam", "csrf_token": token}, headers=JSON)
    assert res.status_code == 200
    body = res.get_json()
    assert body["message"] == "Marked the comment by Ann as spam."
    assert body["checks"] == [a] and len(body["feedback_ids"]) == 1
    assert body["counts"]["review"] == 1 and body["counts"]["all"] == 1  # fresh after the decision
    res = moderator.post(
        "/moderation/undo", data={"feedback_ids": body["feedback_ids"], "csrf_token": token}, headers=JSON
    ).get_json()
    assert res["message"] == "Undone: 1 comment is back in the queue." and res["checks"] == [a]
    assert res["counts"]["review"] == 2
    again = moderator.post(
        f"/moderation/checks/{b}/decide", data={"label": "ham", "csrf_token": token}, headers=JSON
    ).get_json()
    twice = moderator.post(
        f"/moderation/checks/{b}/decide", data={"label": "ham", "csrf_token": token}, headers=JSON
    ).get_json()
    assert again["message"] == "Marked the comment by Bob as not spam."
    assert twice["category"] == "error" and twice["checks"] == [] and "already reviewed" in twice["message"]
    # Without the JSON Accept header the same post redirects and flashes the sentence (no-script path).
    c = ui.add_check(site, author="Cy")
    res = moderator.post(f"/moderation/checks/{c}/decide", data={"label": "spam", "csrf_token": token})
    assert res.status_code == 302
    assert "Marked the comment by Cy as spam." in moderator.get("/moderation").get_data(as_text=True)


def test_decide_all_from_an_email_is_one_audited_action(ui, moderator):
    site = ui.site()
    mine = [ui.add_check(site, email="bot@spam.example", ip=f"192.0.2.{i}") for i in range(3)]
    done = ui.add_check(site, email="bot@spam.example", reviewed=True)
    test = ui.add_check(site, email="bot@spam.example", is_test=True)
    other = ui.add_check(site, email="someone@else.example")
    token = ui.token(moderator)
    res = moderator.post(
        f"/moderation/checks/{mine[0]}/decide-all",
        data={"label": "spam", "by": "email", "csrf_token": token, "value": "someone@else.example"},
    )  # a value in the form is ignored
    assert res.status_code == 302
    with ui.db() as db:
        assert sorted(f.check_id for f in db.scalars(select(Feedback)).all()) == mine
        assert all(db.get(Check, i).reviewed_at is None for i in (test, other))
        assert db.get(Check, done).review_label == "spam"
        row = db.scalars(select(AuditLog).where(AuditLog.action == "bulk_decide_by")).one()
        assert row.target == "email:bot@spam.example" and row.details["check_ids"] == mine
    assert (
        moderator.post(
            f"/moderation/checks/{mine[0]}/decide-all", data={"label": "spam", "by": "name", "csrf_token": token}
        ).status_code
        == 400
    )


def test_tab_counts_are_cached_for_a_few_seconds():
    calls = []

    class FakeClock:
        t = 0.0

        def __call__(self):
            return self.t

    clock = FakeClock()
    cache = listing.CountCache(ttl=10, now=clock)
    original = listing.count_unreviewed
    listing.count_unreviewed = lambda db, site, tests: calls.append((site, tests)) or {"unsure": len(calls)}
    try:

        class DB:
            def get_bind(self):
                return "engine"

        assert cache.get(DB(), None, False) == {"unsure": 1}
        clock.t = 9.9
        assert cache.get(DB(), None, False) == {"unsure": 1}
        assert cache.get(DB(), 3, False) == {"unsure": 2}  # per site
        clock.t = 10.1
        assert cache.get(DB(), None, False) == {"unsure": 3}
        cache.clear()
        assert cache.get(DB(), None, False) == {"unsure": 4}
    finally:
        listing.count_unreviewed = original


def test_home_goes_to_the_queue_or_login(app, moderator):
    assert app.test_client().get("/").headers["Location"].startswith("/login")
    assert moderator.get("/").headers["Location"] == "/moderation"


def test_error_pages_are_friendly_html_for_people_only(app, ui, moderator, key):
    res = moderator.get("/no/such/page", headers=HTML)
    html = res.get_data(as_text=True)
    assert res.status_code == 404 and res.mimetype == "text/html"
    assert "Page not found" in html and 'href="/moderation"' in html
    assert res.headers["Content-Security-Policy"].startswith("default-src 'none'")
    res = moderator.get("/admin/models")
    assert res.status_code == 403 and "You can&#39;t open this page" in res.get_data(as_text=True)
    # Machines keep their forms: JSON under /api, Akismet's plain text under /1.1.
    res = app.test_client().get("/api/v1/nope", headers=HTML)
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"
    res = app.test_client().post("/1.1/nope", data={"api_key": key}, headers=HTML)
    assert res.status_code == 404 and res.mimetype == "text/plain"


def test_internal_error_page_for_the_ui(app, ui, moderator, monkeypatch):
    from spamguard.storage.queries import queue as listing_module

    def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(listing_module, "load_page", broken)
    res = moderator.get("/moderation", headers=HTML)
    assert res.status_code == 500 and "Something went wrong" in res.get_data(as_text=True)
    assert "boom" not in res.get_data(as_text=True)


@pytest.fixture
def admin_app(make_app, registry_dir):
    return make_app(SPAMGUARD_MODEL_DIR=str(registry_dir))


def test_models_page_shows_gate_figures_thresholds_and_links(admin_app, registry_dir, current_version):
    from moderation_helpers import UI

    ui = UI(admin_app)
    ui.add_user("root", "admin")
    client = admin_app.test_client()
    ui.login(client, "root")
    manifest = json.loads((registry_dir / current_version / "manifest.json").read_text())
    # A per-corpus figure set the page has never heard of is still shown.
    manifest["metrics"]["leave_one_corpus_out"] = {"youtube": {"roc_auc": 0.9123, "recall_at_1pct_fpr": 0.4567}}
    (registry_dir / current_version / "manifest.json").write_text(json.dumps(manifest))
    html = client.get("/admin/models").get_data(as_text=True)
    gate = manifest["metrics"]["gate"]
    assert f"{gate['roc_auc']:.3f}" in html and f"{gate['recall_at_1pct_fpr']:.3f}" in html
    assert f"{manifest['thresholds']['spam']:.3f}" in html
    assert "leave one corpus out" in html and "0.912" in html and "0.457" in html
    assert f"/admin/models/{current_version}/report" in html
    report = client.get(f"/admin/models/{current_version}/report")
    assert report.status_code == 200 and "# Model report" in report.get_data(as_text=True)
    for name in listed_files(registry_dir, current_version):
        assert client.get(f"/admin/models/{current_version}/files/{name}").status_code == 200


def test_model_files_refuse_traversal(admin_app, registry_dir, current_version, tmp_path):
    from moderation_helpers import UI

    secret = tmp_path / "secret.md"
    secret.write_text("secret")
    os.symlink(secret, registry_dir / current_version / "link.md")
    (registry_dir / current_version / ".hidden.md").write_text("hidden")
    assert file_path(registry_dir, current_version, "link.md") is None
    assert file_path(registry_dir, current_version, "../current.json") is None
    assert file_path(registry_dir, "..", "current.json") is None
    assert file_path(registry_dir, current_version, "model.joblib") is None
    assert file_path(registry_dir, current_version, ".hidden.md") is None
    ui = UI(admin_app)
    ui.add_user("root", "admin")
    client = admin_app.test_client()
    ui.login(client, "root")
    for url in (
        f"/admin/models/{current_version}/files/link.md",
        f"/admin/models/{current_version}/files/..%2Fcurrent.json",
        f"/admin/models/{current_version}/files/model.joblib",
        f"/admin/models/{current_version}/files/manifest.json",
        "/admin/models/../files/current.json",
        "/admin/models/%2E%2E/report",
    ):
        assert client.get(url).status_code == 404, url


def test_reasons_people_can_act_on():
    assert not useful_reason('spam signal: word "the"')
    assert not useful_reason('ham signal: phrase "for the"')
    assert not useful_reason('spam signal: text fragment "lx"')
    assert not useful_reason('ham signal: punctuation ","')
    assert useful_reason('spam signal: word "casino"')
    assert useful_reason('spam signal: phrase "click <link>"')
    assert useful_reason('spam signal: phrase "of casino"')
    assert useful_reason("IP reported as spam by 3 sites in 24 h")
    assert display_reasons(['spam signal: word "the"', "spam signal: contains 2 links", "honeypot field filled"]) == [
        ("spam", "contains 2 links"),
        ("", "honeypot field filled"),
    ]


def test_test_requests_stay_out_of_stats_unless_asked(ui, moderator):
    site = ui.site()
    real = ui.add_check(site, verdict="spam", author="Real overturned")
    test = ui.add_check(site, verdict="spam", author="Test overturned", is_test=True)
    now = datetime.now(UTC)
    with ui.db() as db:
        for i in (real, test):
            row = db.get(Check, i)
            row.reviewed_at, row.review_label = now, "ham"
        db.commit()
    html = moderator.get("/stats").get_data(as_text=True)
    assert "Real overturned" in html and "Test overturned" not in html
    assert "Test overturned" in moderator.get("/stats?tests=1").get_data(as_text=True)


def test_ui_script_writes_text_only():
    from pathlib import Path

    import spamguard.moderation as moderation

    script = (Path(moderation.__file__).parent / "static" / "ui.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


def test_models_page_compares_a_candidate_with_the_current_model(admin_app, registry_dir, current_version):
    import shutil

    from moderation_helpers import UI

    candidate = "20990101T000000Z-cand01"
    shutil.copytree(registry_dir / current_version, registry_dir / candidate)
    manifest = json.loads((registry_dir / candidate / "manifest.json").read_text())
    manifest["version"] = candidate
    manifest["metrics"]["gate"].update(roc_auc=0.5, recall_at_1pct_fpr=0.25)
    manifest["gate_decision"] = {
        "passed": False,
        "reason": "recall dropped",
        "current_gate_metrics": {"roc_auc": 0.75, "recall_at_1pct_fpr": 0.5},
    }
    (registry_dir / candidate / "manifest.json").write_text(json.dumps(manifest))
    ui = UI(admin_app)
    ui.add_user("root", "admin")
    client = admin_app.test_client()
    ui.login(client, "root")
    html = client.get("/admin/models").get_data(as_text=True)
    card = html.split(f'id="model-{candidate}"', 1)[1].split("</article>", 1)[0]
    assert "Compared with the current model (same gate set, at training time)" in card
    assert "-0.250" in card and "0.750" in card and "recall dropped" in card

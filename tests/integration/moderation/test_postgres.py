"""The queue, detail, decisions, undo and stats also work on PostgreSQL (the production database)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from moderation_helpers import UI
from sqlalchemy import select

from spamguard.storage.models import Feedback


def test_moderation_on_postgresql(make_app, pg_url):
    app = make_app(pg_url, SPAMGUARD_BACKGROUND_TASKS=False)  # no maintenance thread outliving the test DB
    ui = UI(app)
    ui.add_user("pgmod")
    client = app.test_client()
    assert ui.login(client, "pgmod").status_code == 302
    site = ui.site(f"https://pg-{datetime.now().timestamp()}.example")
    now = datetime.now(UTC)
    ids = [
        ui.add_check(site, verdict=v, created_at=now - timedelta(minutes=i), content=f"pg comment {i}")
        for i, v in enumerate(("spam", "unsure", "discard", "spam"))
    ]
    on = lambda url: [int(i) for i in re.findall(r'<tr id="check-(\d+)"', client.get(url).get_data(as_text=True))]  # noqa: E731
    assert on(f"/moderation?site={site}") == [ids[1], ids[0], ids[3], ids[2]]  # needs review first
    assert on(f"/moderation?site={site}&sort=newest") == ids
    assert on(f"/moderation?site={site}&tab=spam&sort=score_asc") == [ids[0], ids[3]]  # equal scores: by id
    assert "data-count-tab" in client.get(f"/moderation?site={site}").get_data(as_text=True)
    assert client.get(f"/moderation?site={site}&q=comment+2").status_code == 200
    assert client.get(f"/moderation/checks/{ids[0]}").status_code == 200
    token = ui.token(client)
    client.post("/moderation/bulk", data={"label": "ham", "ids": ids[:2], "csrf_token": token})
    assert on(f"/moderation?site={site}") == [ids[3], ids[2]]
    with ui.db() as db:
        fids = [f.id for f in db.scalars(select(Feedback).where(Feedback.site_id == site)).all()]
    client.post("/moderation/undo", data={"feedback_ids": fids, "csrf_token": token})
    html = client.get(f"/moderation?site={site}").get_data(as_text=True)
    assert len(re.findall(r'<tr id="check-(\d+)"', html)) == 4
    stats = client.get("/stats")
    assert stats.status_code == 200 and "<svg" in stats.get_data(as_text=True)

"""Hostile comment fields render as text on the queue, detail and stats pages (no browser)."""

from __future__ import annotations

import re

from markupsafe import escape
from moderation_helpers import XSS_AGENT, XSS_EMAIL, XSS_PAYLOADS, flag_everything, xss_comment_fields
from sqlalchemy import select

from spamguard.storage.models import Check

DANGEROUS = re.compile(
    r"<(script|img|svg|iframe|body|math|object|details|meta|base|style|animate)\b|"
    r"href=\"?\s*javascript",
    re.I,
)  # "onerror=" as text is harmless once "<" is escaped


def _main(page: str) -> str:
    """The <main> part of a page (where data is shown), without our own <svg>s and filter <details>."""
    main = page.split("<main>", 1)[1].split("</main>", 1)[0]
    main = main.replace('<details class="filters-box"', "")
    return re.sub(r'<svg class="(chart|rate|scale-bar)".*?</svg>', "", main, flags=re.S)


def test_payloads_render_as_text_everywhere(app, key, ui, moderator):
    flag_everything(app, key)
    api = app.test_client()
    for i in range(len(XSS_PAYLOADS)):
        response = api.post("/1.1/comment-check", data=xss_comment_fields(i, key))
        assert response.status_code == 200
    with ui.db() as db:
        checks = db.scalars(select(Check).order_by(Check.id)).all()
    assert len(checks) == len(XSS_PAYLOADS) and all(c.verdict != "ham" for c in checks)

    queue = moderator.get("/moderation").get_data(as_text=True)
    for payload in XSS_PAYLOADS:
        assert payload not in queue
        assert str(escape(payload)) in queue
    assert not DANGEROUS.search(_main(queue)), DANGEROUS.search(_main(queue))
    assert "49" not in re.sub(r"\d{2,}[\d.:\-]*", "", queue.replace("{{7*7}}", ""))  # {{7*7}} never evaluated
    assert "{{7*7}}" in queue

    for check in checks:
        detail = moderator.get(f"/moderation/checks/{check.id}").get_data(as_text=True)
        assert not DANGEROUS.search(_main(detail)), DANGEROUS.search(_main(detail))
        for raw in (check.comment_content, XSS_EMAIL, XSS_AGENT):
            assert raw not in detail
            assert str(escape(raw)) in detail
        assert "extra.custom_extra" in detail

    token = ui.token(moderator)
    moderator.post("/moderation/bulk", data={"label": "ham", "ids": [c.id for c in checks], "csrf_token": token})
    stats = moderator.get("/stats").get_data(as_text=True)
    assert not DANGEROUS.search(_main(stats)), DANGEROUS.search(_main(stats))
    assert "&lt;" in _main(stats)  # the overturned comments are listed, escaped

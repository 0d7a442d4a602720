"""The queue, detail, models and error pages in real Chromium: tabs and counts, select-all,
in-place decisions with inline undo, keyboard-only moderation, a 390 px phone, no-script forms.

Screenshots go to $SPAMGUARD_SCREENSHOTS when set (to look at the design), else to tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_helpers import browser, live, login, page  # noqa: F401  (fixtures)
from sqlalchemy import select

from spamguard.storage.models import AuditLog, Check, Feedback

pytestmark = pytest.mark.slow

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def shot(page, tmp_path, name: str) -> None:
    folder = Path(os.environ.get("SPAMGUARD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def visible_ids(page) -> list[int]:
    return [
        int(i)
        for i in page.eval_on_selector_all(
            "tr[data-check-id]", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.checkId)"
        )
    ]


def seed_mix(live) -> list[int]:
    texts = [
        "Great write-up, the second example finally made closures click for me.",
        "buy cheap pills now http://pills.example http://pills.example/buy",
        "Could you share the config you used for the benchmark?",
        "casino bonus free spins click here http://casino.example",
        "I disagree with the conclusion: the sample is far too small.",
    ]
    return [live.comment(i, t) for i, t in enumerate(texts)]


def test_tabs_counts_select_all_in_place_and_inline_undo(page, live, tmp_path):
    live.ui.add_user("mod")
    ids = seed_mix(live)
    with live.ui.db() as db:
        verdicts = {c.id: c.verdict for c in db.scalars(select(Check)).all()}
    login(page, live, "mod")
    count = lambda tab: int(page.locator(f"[data-count-tab={tab}]").text_content())  # noqa: E731
    assert count("all") == len(ids)
    assert count("review") == sum(v == "unsure" for v in verdicts.values())
    # Needs review first.
    order = visible_ids(page)
    rank = {"unsure": 0, "spam": 1, "discard": 2, "ham": 3}
    assert [rank[verdicts[i]] for i in order] == sorted(rank[verdicts[i]] for i in order)
    shot(page, tmp_path, "queue-desktop")

    page.evaluate("window.__same_page = 1")
    page.check("#select-all")
    assert page.locator("input[name=ids]:checked").count() == len(ids)
    assert page.locator("#selected-count").text_content() == f"{len(ids)} selected:"
    page.uncheck(f"#check-{order[0]} input[name=ids]")
    page.click(".bulk-actions button.spam")
    page.wait_for_selector(f"text=Marked {len(ids) - 1} comments as spam.")
    assert visible_ids(page) == [order[0]]
    assert page.evaluate("window.__same_page") == 1  # no reload
    assert count("all") == 1
    with live.ui.db() as db:
        assert sorted(f.check_id for f in db.scalars(select(Feedback)).all()) == sorted(order[1:])
    page.click("#undo-inline")
    page.wait_for_selector(f"text=Undone: {len(ids) - 1} comments are back in the queue.")
    assert sorted(visible_ids(page)) == sorted(ids)
    assert count("all") == len(ids)
    with live.ui.db() as db:
        assert all(f.undone_at is not None for f in db.scalars(select(Feedback)).all())
    # Tabs are links to the same list narrowed to one verdict.
    page.click("nav.tabs a:has-text('Let through')")
    assert page.url.endswith("tab=ham")
    assert all(verdicts[i] == "ham" for i in visible_ids(page))
    assert page.problems == []


def test_keyboard_only_moderation_of_three_comments(page, live):
    live.ui.add_user("mod")
    ids = [live.comment(i, f"keyboard comment number {i} about gardening") for i in range(3)]
    login(page, live, "mod")
    order = visible_ids(page)
    assert sorted(order) == sorted(ids)
    page.keyboard.press("?")
    assert page.locator("#kbd-help").is_visible()
    page.keyboard.press("?")
    assert page.locator("#kbd-help").is_hidden()
    page.keyboard.press("j")  # first comment
    assert page.locator("tr.current").get_attribute("data-check-id") == str(order[0])
    page.keyboard.press("s")
    page.wait_for_selector(f"#check-{order[0]}", state="hidden")
    assert page.locator("tr.current").get_attribute("data-check-id") == str(order[1])  # moved on by itself
    page.keyboard.press("h")
    page.wait_for_selector(f"#check-{order[1]}", state="hidden")
    page.keyboard.press("s")
    page.wait_for_selector(f"#check-{order[2]}", state="hidden")
    with live.ui.db() as db:
        labels = {f.check_id: f.label for f in db.scalars(select(Feedback)).all()}
    assert labels == {order[0]: "spam", order[1]: "ham", order[2]: "spam"}
    page.keyboard.press("u")  # undo the last one
    page.wait_for_selector(f"#check-{order[2]}", state="visible")
    with live.ui.db() as db:
        undone = {f.check_id for f in db.scalars(select(Feedback)).all() if f.undone_at is not None}
        assert undone == {order[2]} and db.get(Check, order[2]).reviewed_at is None
    page.keyboard.press("k")
    assert page.locator("tr.current").get_attribute("data-check-id") == str(order[2])
    assert page.problems == []


def test_phone_390px_has_no_sideways_scroll(browser, live, tmp_path):  # noqa: F811
    live.ui.add_user("root", role="admin")
    ids = seed_mix(live)
    live.comment(9, "x" * 300 + " averyveryverylongwordwithoutanybreakopportunity" * 5)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        login(page, live, "root")
        assert page.evaluate(NO_SIDEWAYS_SCROLL), page.evaluate("document.documentElement.scrollWidth")
        # The header (menu included) stays within two rows.
        assert page.eval_on_selector("header.top", "e => e.getBoundingClientRect().height") < 100
        # Rows are cards: the comment takes the card's full width.
        width = page.eval_on_selector(f"#check-{ids[0]} .comment-text", "e => e.getBoundingClientRect().width")
        assert width > 300
        shot(page, tmp_path, "queue-390")
        page.click(f"#check-{ids[0]} button.spam")
        page.wait_for_selector("text=as spam")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        for path in (
            f"/moderation/checks/{ids[1]}",
            "/stats",
            "/admin/models",
            "/admin/sites",
            "/admin/audit",
            "/nope",
        ):
            page.goto(live.url + path)
            assert page.evaluate(NO_SIDEWAYS_SCROLL), (path, page.evaluate("document.documentElement.scrollWidth"))
        page.goto(f"{live.url}/moderation/checks/{ids[1]}")
        shot(page, tmp_path, "detail-390")
    finally:
        context.close()


def test_detail_page_reasons_reputation_prev_next_and_decide_all(page, live, tmp_path):
    live.ui.add_user("mod")
    ip_ids = [
        live.seed(
            {
                "api_key": live.key,
                "blog": "https://blog.example",
                "user_ip": "203.0.113.9",
                "comment_author": f"bot {i}",
                "comment_author_email": "bot@spam.example",
                "comment_content": f"cheap pills number {i} http://pills.example/{i}",
            }
        )
        for i in range(4)
    ]
    other = live.comment(1, "A thoughtful comment from someone else entirely.")
    login(page, live, "mod")
    page.goto(f"{live.url}/moderation/checks/{ip_ids[1]}")
    assert page.locator("#comment-body .comment-text").text_content() == "cheap pills number 1 http://pills.example/1"
    # Only fields that carry something; the empty ones (referrer, permalink, ...) are not listed.
    names = page.eval_on_selector_all("pre[data-field]", "els => els.map(e => e.dataset.field)")
    assert "user_ip" in names and "comment_author_email" in names
    assert "referrer" not in names and "permalink" not in names and "comment_content" not in names
    values = page.eval_on_selector_all("pre[data-field]", "els => els.map(e => e.textContent)")
    assert all(v.strip() for v in values)
    # Score against the site's thresholds; no function-word or fragment reasons.
    assert "needs review ≥ 0.000" in page.locator(".score-line").text_content()
    reasons = page.locator("#reasons li").all_text_contents()
    assert reasons and not any('fragment "' in r or 'punctuation "' in r or 'word "the"' in r for r in reasons)
    # Reputation figures for the IP and e-mail (real Redis).
    rep = page.locator("#reputation").text_content()
    assert "203.0.113.9" in rep and "bot@spam.example" in rep
    # Previous/next walk the same list.
    assert page.locator("a[rel=prev]").count() == 1 and page.locator("a[rel=next]").count() == 1
    shot(page, tmp_path, "detail-desktop")
    # Every pending comment from this IP, in one audited action.
    page.click("form.decide-all:has(input[value=ip]) button.spam")
    page.wait_for_selector("text=Marked 4 comments from this IP address as spam.")
    with live.ui.db() as db:
        assert {f.check_id for f in db.scalars(select(Feedback)).all()} == set(ip_ids)
        assert db.get(Check, other).reviewed_at is None
        row = db.scalars(select(AuditLog).where(AuditLog.action == "bulk_decide_by")).one()
        assert row.target == "ip:203.0.113.9" and sorted(row.details["check_ids"]) == sorted(ip_ids)
    assert page.problems == []


def test_without_javascript_the_forms_still_work(browser, live):  # noqa: F811
    live.ui.add_user("mod")
    ids = [live.comment(i, f"plain form comment {i}") for i in range(2)]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        login(page, live, "mod")
        assert page.locator("#select-all-label").is_hidden()  # it would do nothing without script
        with page.expect_navigation():
            page.click(f"#check-{ids[0]} button.spam")
        assert page.locator(".flash").text_content().startswith("Marked the comment by author 0 as spam")
        assert page.locator(f"#check-{ids[0]}").count() == 0
        with page.expect_navigation():
            page.click("#undo-last")
        assert page.locator(f"#check-{ids[0]}").count() == 1
    finally:
        context.close()


def test_friendly_error_pages_and_home(page, live):
    live.ui.add_user("mod")
    response = page.goto(live.url + "/")
    assert page.url.startswith(f"{live.url}/login")
    login(page, live, "mod")
    page.goto(live.url + "/")
    assert page.url == f"{live.url}/moderation"
    for path, status, title in (
        ("/no/such/page", 404, "Page not found"),
        ("/moderation/checks/999999", 404, "Page not found"),
        ("/admin/models", 403, "You can't open this page"),
    ):
        response = page.goto(live.url + path)
        assert response.status == status
        assert page.locator("h1").text_content() == title
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        page.click("text=Back to the queue")
        assert page.url == f"{live.url}/moderation"
    # The browser logs the 404/403 statuses themselves; nothing else (no CSP violation, no script error).
    assert [p for p in page.problems if "status of 40" not in p] == []


def test_models_page_figures_report_and_plots(page, live, tmp_path):
    live.ui.add_user("root", role="admin")
    login(page, live, "root")
    page.goto(live.url + "/admin/models")
    card = page.locator("article.model.current")
    auc = float(card.locator(".gate-auc").text_content())
    recall = float(card.locator(".gate-recall").text_content())
    assert 0.5 < auc <= 1 and 0 <= recall <= 1
    assert float(card.locator(".threshold-spam").text_content()) > 0
    shot(page, tmp_path, "models-desktop")
    card.locator("a:has-text('Report')").click()
    assert page.locator("#report").text_content().startswith("# Model report")
    images = page.locator("figure.plot img")
    if images.count():
        images.first.wait_for()
        page.wait_for_load_state("load")
        assert page.eval_on_selector("figure.plot img", "i => i.naturalWidth") > 0
    assert page.problems == []

"""End to end in real headless Chromium against a real HTTP server.

The app runs under werkzeug's threaded server on a free port; comments are
seeded through the real Akismet comment-check endpoint; the browser logs in,
reviews, decides (single and bulk), and is refused admin pages as a moderator.
Hostile comments must show as text, run no script and inject no element.
"""

from __future__ import annotations

import pytest
from browser_helpers import browser, live, login, page  # noqa: F401  (fixtures)
from moderation_helpers import XSS_AGENT, XSS_EMAIL, XSS_PAYLOADS, XSS_URLS, xss_comment_fields
from sqlalchemy import select

from spamguard.storage.models import Check, Feedback

pytestmark = pytest.mark.slow


def test_review_one_comment(page, live):
    live.ui.add_user("mod")
    keep = live.comment(1, "buy cheap pills now")
    target = live.comment(2, "Thanks, this post helped me a lot!")
    login(page, live, "mod")
    row = page.locator(f"#check-{target}")
    assert row.locator(".comment-text").text_content() == "Thanks, this post helped me a lot!"
    # The stylesheet loads under the CSP (style-src 'self').
    assert page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor") == "rgb(32, 38, 45)"
    page.evaluate("window.__same_page = 1")
    row.locator("button.ham").click()
    page.wait_for_selector("text=Marked the comment by author 2 as not spam.")
    assert page.locator(f"#check-{target}").is_hidden()  # in place: no reload
    assert page.locator(f"#check-{keep}").is_visible()
    assert page.evaluate("window.__same_page") == 1
    with live.ui.db() as db:
        fb = db.scalars(select(Feedback)).one()
        assert (fb.check_id, fb.label, fb.source, fb.reporter) == (target, "ham", "moderator", "mod")
        assert db.get(Check, target).review_label == "ham"
    # The inline undo brings it back, in place.
    page.click("#undo-inline")
    page.wait_for_selector(f"#check-{target}", state="visible")
    page.wait_for_selector("text=back in the queue")
    with live.ui.db() as db:
        assert db.scalars(select(Feedback)).one().undone_at is not None
    assert page.problems == []


def test_bulk_decision_over_50(page, live):
    live.ui.add_user("mod")
    ids = [live.comment(i, f"bulk comment number {i}") for i in range(50)]
    login(page, live, "mod")
    boxes = page.locator("input[name=ids]")
    assert boxes.count() == 50
    for i in range(50):
        boxes.nth(i).check()
    page.click(".bulk-actions button.spam")
    page.wait_for_selector("text=Marked 50 comments as spam.")
    assert page.locator("tr[data-check-id]:visible").count() == 0
    with live.ui.db() as db:
        rows = db.scalars(select(Feedback)).all()
        assert sorted(f.check_id for f in rows) == sorted(ids)
        assert {(f.label, f.source) for f in rows} == {("spam", "moderator")}
    assert page.problems == []


def test_moderator_cannot_reach_admin_pages(page, live):
    live.ui.add_user("mod")
    login(page, live, "mod")
    assert page.locator("nav a:has-text('Models')").count() == 0
    for path in ("/admin/models", "/admin/sites", "/admin/audit"):
        response = page.goto(live.url + path)
        assert response.status == 403, path
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_admin_reaches_admin_pages(page, live):
    live.ui.add_user("root", role="admin")
    login(page, live, "root")
    for link in ("Models", "Sites", "Audit log"):
        page.click(f"nav a:has-text('{link}')")
        assert page.locator("h1").count() == 1
    assert page.locator("table.audit td:has-text('login')").count() >= 1
    assert page.problems == []


INJECTED = (
    "main script, main iframe, main img, main object, main embed, main math, main base, main meta, "
    "main details:not(.filters-box), main style, main body, main form[action^='http'], "
    "main a[href^='javascript'], .comment-text *, .cell-author *, .cell-email *, .field-value *"
)


def assert_nothing_ran(page):
    assert page.evaluate("window.__xss") is None
    assert page.locator(INJECTED).count() == 0
    # Our own links only: every anchor in the content is a relative path.
    hrefs = page.eval_on_selector_all("main a", "els => els.map(e => e.getAttribute('href'))")
    assert all(h.startswith("/") and not h.startswith("//") for h in hrefs), hrefs


def test_xss_payloads_are_text_in_the_browser(page, live):
    live.ui.add_user("mod")
    ids = [live.seed(xss_comment_fields(i, live.key)) for i in range(len(XSS_PAYLOADS))]
    login(page, live, "mod")
    assert_nothing_ran(page)
    assert page.locator("tr[data-check-id]").count() == len(ids)
    for i, check_id in enumerate(ids):
        row = page.locator(f"#check-{check_id}")
        assert row.locator(".comment-text").text_content() == XSS_PAYLOADS[i]
        assert row.locator(".cell-author").text_content() == XSS_PAYLOADS[i]
        assert row.locator(".cell-email").text_content() == XSS_EMAIL

    for i, check_id in enumerate(ids):
        page.goto(f"{live.url}/moderation/checks/{check_id}")
        assert_nothing_ran(page)
        field = lambda name: page.locator(f"pre[data-field='{name}']").text_content()  # noqa: E731
        assert page.locator("#comment-body .comment-text").text_content() == XSS_PAYLOADS[i]
        assert field("comment_author") == XSS_PAYLOADS[i]
        assert field("comment_author_url") == XSS_URLS[i % len(XSS_URLS)]
        assert field("comment_author_email") == XSS_EMAIL
        assert field("user_agent") == XSS_AGENT
        assert field("extra.custom_extra") == XSS_PAYLOADS[i]

    # Overturn them all: the stats page lists recently overturned comments.
    page.goto(f"{live.url}/moderation")
    boxes = page.locator("input[name=ids]")
    for n in range(boxes.count()):
        boxes.nth(n).check()
    page.click(".bulk-actions button.ham")
    page.wait_for_selector("text=comments as not spam")
    page.goto(f"{live.url}/stats")
    assert_nothing_ran(page)
    shown = page.locator("table.overturned .comment-text").all_text_contents()
    assert len(shown) == 10 and set(shown) <= set(XSS_PAYLOADS)
    assert page.locator("svg.chart rect").count() >= 1
    assert page.problems == []

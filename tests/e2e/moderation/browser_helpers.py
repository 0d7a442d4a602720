"""Real Chromium (Debian's, driven by Playwright) against the app served on a free port.

Fixtures `browser`, `live` and `page`, and `login`, shared by the browser test modules.
"""

from __future__ import annotations

import threading

import pytest
from moderation_helpers import PASSWORD, UI, flag_everything
from sqlalchemy import func, select
from werkzeug.serving import make_server

from spamguard.storage.models import Check

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Live:
    def __init__(self, app, key):
        self.app, self.key, self.ui = app, key, UI(app)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        flag_everything(app, key)

    def seed(self, fields: dict) -> int:
        """One comment through the real /1.1/comment-check path; returns its check id."""
        response = self.app.test_client().post("/1.1/comment-check", data=fields)
        assert response.status_code == 200, response.get_data(as_text=True)
        with self.ui.db() as db:
            return db.scalar(select(func.max(Check.id)))

    def comment(self, i: int, text: str) -> int:
        return self.seed(
            {
                "api_key": self.key,
                "blog": "https://blog.example",
                "user_ip": f"198.51.100.{i % 250}",
                "comment_author": f"author {i}",
                "comment_content": text,
            }
        )

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live(app, key):
    server = Live(app, key)
    yield server
    server.stop()


@pytest.fixture
def page(browser, live):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    page.problems = []  # dialogs, page errors, CSP violations
    page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
    page.on(
        "console",
        lambda m: (
            page.problems.append(f"console: {m.text}")
            if "Content Security Policy" in m.text or m.type == "error"
            else None
        ),
    )
    yield page
    context.close()


def login(page, live, username: str):
    page.goto(f"{live.url}/moderation")
    assert page.url.startswith(f"{live.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{live.url}/moderation")

"""End to end: Debian's WordPress 6.1 + Akismet 5.0.2, through the README's must-use plugin, against gunicorn.

Everything WordPress does here is its own code path: the Akismet settings screen saves the key, visitors
post through wp-comments-post.php, an administrator's Spam / Not Spam goes through wp_spam_comment /
wp_unspam_comment (with the POST flag admin-ajax.php sets, which is how Akismet tells a moderator's act
from a plugin's), and the decisions plugin applies SpamGuard moderators' decisions with
wp_set_comment_status.
"""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import closing

import httpx
import pytest
from live_server import eventually
from sqlalchemy import select
from wordpress_site import ADMIN_PASSWORD, form_fields

from spamguard import storage
from spamguard.storage.models import Check, Feedback

# Typed by a visitor: an apostrophe, double quotes and a backslash, all of which wp_slash() escapes.
SLASHED_TEXT = "We'd tried the \"spring\" pruning schedule — it didn't work for us; the C:\\garden\\notes say why."
HAM_TEXT = (
    "Thanks for the detailed write-up on pruning roses. My grandmother always cut hers back in "
    "March, and your photos of the new growth match what we saw last year."
)


def posted(response: httpx.Response) -> bool:
    """wp-comments-post.php redirects after saving (or dropping) a comment; wp_die() pages are 200/4xx."""
    assert response.status_code == 302, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))[-800:]
    return True


def db(live_server):
    return storage.make_sessionmaker(live_server["database_url"])()


def checks_by_author(live_server, wordpress, author: str, content: str | None = None) -> list[Check]:
    """This WordPress's checks by `author` (the live server is shared with the other end-to-end tests), once
    there is one (with `content`, when given): the server writes check rows just behind its answers."""

    def fetch() -> list[Check]:
        with db(live_server) as session:
            query = select(Check).where(Check.comment_author == author, Check.blog.startswith(wordpress.url))
            return list(session.scalars(query.order_by(Check.id)).all())

    return eventually(fetch, lambda rows: any(content in (None, c.comment_content) for c in rows))


def wp_admin(wordpress) -> httpx.Client:
    """A browser session logged in to wp-admin as the site's administrator."""
    browser = httpx.Client(base_url=wordpress.url, timeout=60, follow_redirects=False)
    browser.get("/wp-login.php")  # sets WordPress's test cookie
    login = browser.post(
        "/wp-login.php",
        data={
            "log": "admin",
            "pwd": ADMIN_PASSWORD,
            "wp-submit": "Log In",
            "testcookie": "1",
            "redirect_to": f"{wordpress.url}/wp-admin/",
        },
    )
    assert login.status_code == 302 and "/wp-admin/" in login.headers["location"], login.text[-1500:]
    return browser


@pytest.fixture(scope="module")
def activated(wordpress, live_server):
    """The key is entered on Akismet's own settings screen, as a site owner would."""
    with closing(wp_admin(wordpress)) as browser:
        screen = "/wp-admin/options-general.php?page=akismet-key-config"
        start = browser.get(screen)
        assert start.status_code == 200
        entered = form_fields(start.text, 'value="enter-key"')  # "Manually enter an API key"
        saved = browser.post(screen, data={**entered, "key": live_server["key"]}, follow_redirects=True)
        assert saved.status_code == 200
        assert wordpress.php("options", names=["wordpress_api_key"])["wordpress_api_key"] == live_server["key"], (
            saved.text[-3000:]
        )
        config = browser.get(screen + "&view=config").text
        # The configuration view (not the "enter your key" start page) is shown for an accepted key;
        # there the owner turns on "silently discard the worst spam" and saves.
        assert 'name="akismet_strictness"' in config and 'name="key"' in config
        settings = form_fields(config, 'name="akismet_strictness"')
        assert settings["key"] == live_server["key"]
        browser.post(screen, data={**settings, "akismet_strictness": "1"}, follow_redirects=True)
        options = wordpress.php("options", names=["wordpress_api_key", "akismet_strictness"])
        assert options == {"wordpress_api_key": live_server["key"], "akismet_strictness": "1"}
    return wordpress


def test_the_settings_screen_accepts_a_spamguard_key(activated, wordpress):
    assert wordpress.versions["akismet"] == "5.0.2" and wordpress.versions["wordpress"].startswith("6.1")


def test_comments_are_published_or_spammed_by_spamguards_answer(activated, live_server, wordpress):
    wp = activated
    assert posted(wp.post_comment("Margaret Chen", "margaret@example.org", HAM_TEXT, "198.51.100.21"))
    assert posted(
        wp.post_comment("akismet-guaranteed-spam", "x@example.com", "Cheap watches, visit now", "203.0.113.77")
    )
    discarded = wp.post_comment("akismet-guaranteed-discard", "d@example.com", "blatant junk", "203.0.113.78")
    assert posted(discarded)

    ham = wp.comment_by_author("Margaret Chen")
    [ham_check] = checks_by_author(live_server, wordpress, "Margaret Chen")
    assert ham_check.verdict in ("ham", "unsure")  # answered `false`...
    assert ham["approved"] == "1" and ham["akismet_result"] == "false"  # ...so WordPress published it
    spam = wp.comment_by_author("akismet-guaranteed-spam")
    assert spam["approved"] == "spam" and spam["akismet_result"] == "true"
    # `discard` with Akismet's strictness on: WordPress never saves the comment.
    assert wp.comment_by_author("akismet-guaranteed-discard") is None
    assert [c.verdict for c in checks_by_author(live_server, wordpress, "akismet-guaranteed-discard")] == ["discard"]
    # The decisions plugin kept the GUID each comment was checked with.
    assert ham["spamguard_guid"] == ham_check.guid


def test_the_model_sees_what_the_visitor_wrote_and_reports_match_without_a_guid(activated, live_server, wordpress):
    wp = activated
    assert posted(wp.post_comment("Dana O'Neill", "dana@example.org", SLASHED_TEXT, "198.51.100.22"))
    [check] = checks_by_author(live_server, wordpress, "Dana O'Neill")  # not `Dana O\'Neill`
    assert check.comment_content == SLASHED_TEXT
    fields = check.fields
    # What Akismet 5.0.2 really sends, kept in the check record for the model.
    extra = fields["extra"]
    for name in (
        "POST_ak_js",
        "akismet_comment_nonce",
        "HTTP_USER_AGENT",
        "REMOTE_ADDR",
        "comment_post_ID",
        "HTTP_ACCEPT_LANGUAGE",
    ):
        assert name in extra, (name, sorted(extra))
    # The plugin's honeypot, sent without honeypot_field_name, is kept as the honeypot (left empty by people).
    assert (fields["honeypot_field_name"], fields["honeypot_value"]) == ("POST_ak_hp_textarea", "")
    assert extra["POST_comment"] == SLASHED_TEXT
    assert fields["comment_post_modified_gmt"] and fields["user_agent"].startswith("Mozilla/5.0")
    print(
        "\ncomment-check fields from WordPress:",
        sorted(k for k, v in fields.items() if v not in ("", None, [], {})),
        "\nextra:",
        sorted(extra),
    )

    comment = wp.comment_by_author("Dana O'Neill")
    assert comment["content"] == SLASHED_TEXT
    assert wp.php("spam", id=comment["id"])["comment"]["approved"] == "spam"
    spam = wp.comment_by_author("akismet-guaranteed-spam")
    # "Not Spam" restores the status from before it was spam: pending, for a comment caught on arrival.
    assert wp.php("unspam", id=spam["id"])["comment"]["approved"] == "0"

    with db(live_server) as session:
        reports = session.scalars(select(Feedback).where(Feedback.source == "api").order_by(Feedback.id)).all()
        by_check = {r.check_id: r for r in reports}
        [spam_check] = checks_by_author(live_server, wordpress, "akismet-guaranteed-spam")
        assert by_check[check.id].label == "spam" and by_check[check.id].reporter == "admin"
        assert by_check[spam_check.id].label == "ham"
        print("submit-spam fields from WordPress:", sorted(by_check[check.id].fields["extra"]))


def moderator(live_server) -> httpx.Client:
    """A SpamGuard moderator, logged in to the real server's UI."""
    env = {"DATABASE_URL": live_server["database_url"], "PATH": "/usr/bin:/bin"}
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "spamguard.cli",
            "users",
            "create",
            "--username",
            "wpmod",
            "--role",
            "moderator",
            "--password-stdin",
        ],
        input="moderator password 1\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert created.returncode == 0 or "exists" in created.stderr, created.stderr
    ui = httpx.Client(base_url=live_server["url"], timeout=30)
    token = lambda html: re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # noqa: E731
    login = ui.post(
        "/login",
        data={"username": "wpmod", "password": "moderator password 1", "csrf_token": token(ui.get("/login").text)},
    )
    assert login.status_code == 302
    ui.token = lambda: token(ui.get("/moderation").text)
    return ui


def test_decisions_plugin_applies_spamguard_moderators_decisions(activated, live_server, wordpress):
    wp = activated
    assert posted(
        wp.post_comment(
            "Priya Raman",
            "priya@example.org",
            "Lovely photos of the allotment — which tomato variety is the striped one in the third picture?",
            "198.51.100.23",
        )
    )
    assert posted(wp.post_comment("akismet-guaranteed-spam", "y@example.com", "Replica bags cheap", "203.0.113.79"))
    published = wp.comment_by_author("Priya Raman")
    assert published["approved"] == "1"
    spammed = [c for c in wp.comments() if c["content"] == "Replica bags cheap"][0]
    assert spammed["approved"] == "spam"
    [published_check] = checks_by_author(live_server, wordpress, "Priya Raman")
    spammed_check = [
        c
        for c in checks_by_author(live_server, wordpress, "akismet-guaranteed-spam", "Replica bags cheap")
        if c.comment_content == "Replica bags cheap"
    ][0]

    with closing(moderator(live_server)) as ui:
        for check, label in ((published_check, "spam"), (spammed_check, "ham")):
            answer = ui.post(f"/moderation/checks/{check.id}/decide", data={"label": label, "csrf_token": ui.token()})
            assert answer.status_code == 302

    first = wp.php("poll")
    assert first["result"] == 2, first
    assert wp.comment_by_author("Priya Raman")["approved"] == "spam"
    assert [c for c in wp.comments() if c["content"] == "Replica bags cheap"][0]["approved"] == "1"
    again = wp.php("poll")  # the cursor moved on: nothing is applied twice
    assert again["result"] == 0 and again["cursor"] == first["cursor"]
    # Applying a decision is not a moderator's act on the WordPress side: no report comes back.
    with db(live_server) as session:
        assert (
            session.scalars(
                select(Feedback).where(Feedback.check_id == published_check.id, Feedback.source == "api")
            ).all()
            == []
        )

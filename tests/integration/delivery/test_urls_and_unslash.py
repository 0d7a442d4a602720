"""A bad delivery allow-list stops the app, and WordPress's wp_slash() is undone on stored checks.

The pure URL and stripslashes tests are in tests/unit/delivery/test_urls.py and tests/unit/api/test_wordpress.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from spamguard.storage.models import Check


def test_a_bad_allow_list_stops_the_app(make_app):
    with pytest.raises(ValueError):
        make_app(SPAMGUARD_DELIVERY_ALLOW_PRIVATE="10.0.0.0/8, nonsense")


def _stored(app, author):
    with app.extensions["spamguard.db"]() as db:
        return db.scalar(select(Check).where(Check.comment_author == author))


def test_only_first_checks_from_the_wordpress_plugin_are_unslashed(app, key):
    client = app.test_client()
    base = {"api_key": key, "blog": "https://blog.example", "user_ip": "198.51.100.9"}
    plugin = {"User-Agent": "WordPress/6.1.9 | Akismet/5.0.2"}
    client.post(
        "/1.1/comment-check",
        headers=plugin,
        data={
            **base,
            "comment_author": r"Dana O\'Neill",
            "comment_content": r"We\'d use C:\\tmp",
            "POST_comment": r"We\'d use C:\\tmp",
        },
    )
    check = _stored(app, "Dana O'Neill")
    assert check.comment_content == r"We'd use C:\tmp" and check.fields["extra"]["POST_comment"] == r"We'd use C:\tmp"
    # A recheck of a stored row is sent unslashed by the plugin: leave it alone.
    client.post(
        "/1.1/comment-check",
        headers=plugin,
        data={**base, "comment_author": "Rechecked", "comment_content": r"C:\tmp", "recheck_reason": "recheck_queue"},
    )
    assert _stored(app, "Rechecked").comment_content == r"C:\tmp"
    # Other clients' backslashes are the visitor's own.
    client.post(
        "/1.1/comment-check",
        headers={"User-Agent": "akismet.py/25.10.1 | Python/3.11"},
        data={**base, "comment_author": "Py", "comment_content": r"We\'d"},
    )
    assert _stored(app, "Py").comment_content == r"We\'d"


def test_the_plugins_own_honeypot_counts_as_a_honeypot(app, key):
    client = app.test_client()
    base = {
        "api_key": key,
        "blog": "https://blog.example",
        "user_ip": "198.51.100.9",
        "comment_content": "Thanks for the post, very useful.",
        "POST_ak_js": "1795859301337",
    }
    filled = client.post("/1.1/comment-check", data={**base, "comment_author": "Bot", "POST_ak_hp_textarea": "buy"})
    assert filled.get_data(as_text=True) == "true" and filled.headers["X-akismet-pro-tip"] == "discard"
    empty = client.post("/1.1/comment-check", data={**base, "comment_author": "Person", "POST_ak_hp_textarea": ""})
    assert empty.headers["X-Spamguard-Verdict"] != "discard"
    assert _stored(app, "Person").fields["honeypot_field_name"] == "POST_ak_hp_textarea"


def test_a_wordpress_report_matches_its_slashed_check_without_a_guid(app, key):
    from spamguard.storage.models import Feedback

    client = app.test_client()
    base = {"api_key": key, "blog": "https://blog.example", "user_ip": "198.51.100.9", "comment_author": "Dana"}
    client.post(
        "/1.1/comment-check",
        headers={"User-Agent": "WordPress/6.1.9 | Akismet/5.0.2"},
        data={**base, "comment_content": r"We\'d like \"that\""},
    )
    client.post(
        "/1.1/submit-spam",
        headers={"User-Agent": "WordPress/6.1.9 | Akismet/5.0.2"},
        data={**base, "comment_content": 'We\'d like "that"', "reporter": "admin"},
    )
    with app.extensions["spamguard.db"]() as db:
        report = db.scalar(select(Feedback))
        assert report.check_id == _stored(app, "Dana").id

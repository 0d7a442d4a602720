"""Akismet callbacks: a provisional `false` with X-akismet-recheck-after, then the decision POSTed back."""

from __future__ import annotations

import json
from datetime import timedelta

from delivery_helpers import Env
from sqlalchemy import select

from spamguard.delivery.models import Callback, Decision
from spamguard.storage.models import utcnow

HOOK = "/wp-json/akismet/v1/webhook"


def test_unsure_with_callback_is_provisional_false_with_recheck_after(env, receiver):
    answer = env.check(callback=receiver.url + HOOK)
    assert answer.get_data(as_text=True) == "false"
    assert answer.headers["X-Spamguard-Verdict"] == "unsure"
    assert answer.headers["X-akismet-recheck-after"] == "3600"
    assert len(answer.headers["X-akismet-guid"]) == 32
    # Without a callback nothing would ever settle it: no recheck header (spec §1.6).
    plain = env.check(text="Thanks, the second recipe worked too.")
    assert plain.get_data(as_text=True) == "false" and "X-akismet-recheck-after" not in plain.headers


def test_moderator_decision_reaches_the_callback_in_akismets_webhook_shape(env, receiver):
    guid = env.check(callback=receiver.url + HOOK).headers["X-akismet-guid"]
    moderator = env.moderator()
    decided = env.decide(moderator, env.check_id(guid), "spam")
    assert decided.status_code == 302
    assert receiver.requests == []  # the moderator's request never waits for the site
    counts = env.process()
    assert counts["delivered"] == 1
    [request] = receiver.requests
    assert request.path == HOOK and request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body == {
        "key": env.key,
        "endpoint": "comment-check",
        "comments": [{"guid": guid, "result": "true", "comment_post_ID": "42"}],
    }
    assert env.process()["delivered"] == 0  # sent once
    with env.session() as db:
        callback = db.scalar(select(Callback))
        assert callback.settled_at is not None


def test_retry_after_a_500_with_exponential_backoff(env, receiver):
    receiver.statuses = [500, 503]
    guid = env.check(callback=receiver.url + HOOK).headers["X-akismet-guid"]
    env.decide(env.moderator(), env.check_id(guid), "ham")
    now = utcnow()
    assert env.process(now)["pending"] == 1
    [delivery] = env.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.next_attempt_at == now + timedelta(seconds=30)
    assert env.process(now + timedelta(seconds=29))["pending"] == 0 and len(receiver.requests) == 1  # not due yet
    env.process(now + timedelta(seconds=30))
    [delivery] = env.deliveries()
    assert (delivery.attempts, delivery.last_status) == (2, 503)
    assert delivery.next_attempt_at == now + timedelta(seconds=30 + 60)  # doubled
    assert env.process(now + timedelta(seconds=90))["delivered"] == 1
    assert len(receiver.requests) == 3
    assert json.loads(receiver.requests[-1].body)["comments"][0]["result"] == "false"


def test_a_delivery_gives_up_after_max_attempts_and_the_admin_page_shows_it(make_app, receiver):
    env = Env(make_app(SPAMGUARD_DELIVERY_ALLOW_PRIVATE="127.0.0.1/32", SPAMGUARD_DELIVERY_MAX_ATTEMPTS=2))
    receiver.statuses = [500, 500]
    guid = env.check(callback=receiver.url + HOOK + "?<b>x</b>").headers["X-akismet-guid"]
    env.decide(env.moderator(), env.check_id(guid), "spam")
    now = utcnow()
    env.process(now)
    env.process(now + timedelta(hours=1))
    [delivery] = env.deliveries()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    admin = env.moderator("admin")
    page = admin.get("/admin/deliveries").get_data(as_text=True)
    assert "failed: 1" in page and "HTTP 500" in page and "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert admin.post(f"/admin/deliveries/{delivery.id}/retry", data={"csrf_token": token}).status_code == 302
    assert env.process(utcnow())["delivered"] == 1
    # Moderators do not see the outbox.
    assert env.moderator().get("/admin/deliveries").status_code == 403


def test_timeout_policy_decides_when_nobody_does(env, receiver):
    guid = env.check(callback=receiver.url + HOOK).headers["X-akismet-guid"]
    now = utcnow()
    assert env.process(now + timedelta(seconds=3599))["timeouts"] == 0
    counts = env.process(now + timedelta(seconds=3601))
    assert counts["timeouts"] == 1 and counts["delivered"] == 1
    assert json.loads(receiver.requests[0].body)["comments"] == [
        {"guid": guid, "result": "false", "comment_post_ID": "42"}
    ]
    with env.session() as db:
        assert [(d.source, d.result) for d in db.scalars(select(Decision))] == [("timeout", "ham")]
    assert env.process(now + timedelta(days=1))["timeouts"] == 0


def test_timeout_policy_none_sends_nothing(make_app, receiver):
    env = Env(
        make_app(
            SPAMGUARD_DELIVERY_ALLOW_PRIVATE="127.0.0.1/32",
            SPAMGUARD_DECISION_TIMEOUT_POLICY="none",
            SPAMGUARD_DECISION_TIMEOUT_SECONDS=60,
        )
    )
    assert env.check(callback=receiver.url + HOOK).headers["X-akismet-recheck-after"] == "60"
    assert env.process(utcnow() + timedelta(seconds=61))["timeouts"] == 1
    assert receiver.requests == [] and env.deliveries() == []


def test_undo_cancels_what_was_not_sent_and_reopens_the_timeout(env, receiver):
    guid = env.check(callback=receiver.url + HOOK).headers["X-akismet-guid"]
    moderator = env.moderator()
    env.decide(moderator, env.check_id(guid), "spam")
    detail = moderator.get(f"/moderation/checks/{env.check_id(guid)}").get_data(as_text=True)
    token = detail.split('name="csrf_token" value="')[1].split('"')[0]
    from spamguard.storage.models import Feedback

    with env.session() as db:
        feedback_id = db.scalar(select(Feedback.id))
    assert (
        moderator.post("/moderation/undo", data={"feedback_ids": str(feedback_id), "csrf_token": token}).status_code
        == 302
    )
    assert [d.status for d in env.deliveries()] == ["cancelled"]
    assert env.process(utcnow())["delivered"] == 0 and receiver.requests == []
    counts = env.process(utcnow() + timedelta(seconds=3601))
    assert counts["timeouts"] == 1 and json.loads(receiver.requests[0].body)["comments"][0]["result"] == "false"


def test_private_callback_urls_are_refused_without_the_allow_list(make_app, receiver):
    env = Env(make_app())  # no SPAMGUARD_DELIVERY_ALLOW_PRIVATE
    for url in (
        receiver.url + HOOK,
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:80/",
        "http://localhost/",
        "file:///etc/passwd",
        "http://user:pw@203.0.113.9/",
        "gopher://203.0.113.9/",
    ):
        answer = env.check(callback=url, text=f"comment for {url}")
        assert answer.get_data(as_text=True) == "false"
        assert "X-akismet-recheck-after" not in answer.headers, url
    with env.session() as db:
        assert db.scalars(select(Callback)).all() == []

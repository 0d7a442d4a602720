"""Per-site signed webhooks, the pull feed, and the RQ worker that sends deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import timedelta

from click.testing import CliRunner
from delivery_helpers import Env

from spamguard.delivery.models import SiteWebhook
from spamguard.storage.models import utcnow


def configure(env, *args: str):
    """`spamguard keys configure KEY ...` against the env's database, as an operator runs it."""
    from spamguard.cli import cli

    app = env.app
    environ = {
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "SPAMGUARD_KEY_SECRET": app.config["SPAMGUARD_KEY_SECRET"],
        "SPAMGUARD_DELIVERY_ALLOW_PRIVATE": app.config.get("SPAMGUARD_DELIVERY_ALLOW_PRIVATE", ""),
    }
    return CliRunner().invoke(cli, ["keys", "configure", env.key, *args], env=environ)


def test_signed_webhook_a_receiver_can_verify(env, receiver):
    result = configure(env, "--webhook", receiver.url + "/spamguard")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert len(secret) == 64
    with env.session() as db:
        stored = db.get(SiteWebhook, env.site_id)
        assert stored.url == receiver.url + "/spamguard" and secret not in (stored.salt, stored.url)
    guid = env.check(text="A webhook comment").headers["X-akismet-guid"]  # no callback: webhook only
    env.decide(env.moderator(), env.check_id(guid), "spam")
    now = utcnow()
    assert env.process(now)["delivered"] == 1
    [request] = receiver.requests
    timestamp = request.headers["x-spamguard-timestamp"]
    assert int(timestamp) == int(now.timestamp())
    # The README's recipe: HMAC-SHA256 over "<timestamp>.<raw body>" with the site's secret.
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-spamguard-signature"], expected)
    tampered = request.body.replace(b'"spam"', b'"ham"')
    assert (
        hmac.new(secret.encode(), timestamp.encode() + b"." + tampered, hashlib.sha256).hexdigest()
        not in request.headers["x-spamguard-signature"]
    )
    body = json.loads(request.body)
    assert body["event"] == "decision" and body["site"] == "https://blog.example"
    [decision] = body["decisions"]
    assert (decision["guid"], decision["result"], decision["akismet_result"], decision["source"]) == (
        guid,
        "spam",
        "true",
        "moderator",
    )
    assert decision["comment"]["comment_post_ID"] == "42"

    rotated = configure(env, "--rotate-webhook-secret")
    assert rotated.exit_code == 0 and rotated.output.strip().splitlines()[-1] != secret
    assert configure(env, "--no-webhook").output.strip().endswith("webhook removed")


def test_webhook_urls_are_validated_when_configured_and_before_sending(make_app, receiver):
    env = Env(make_app())  # loopback not allowed
    for url in (receiver.url, "ftp://203.0.113.4/", "http://a:b@203.0.113.4/", "http://10.1.2.3/"):
        result = configure(env, "--webhook", url)
        assert result.exit_code != 0 and "--webhook" in result.output, url
    # A name that resolved to a public address when configured but points inside the network now
    # (DNS rebinding) is refused at send time, not called.
    from spamguard.delivery.outbox import process_due

    with env.session() as db:
        db.add(SiteWebhook(site_id=env.site_id, url="http://hooks.example.net/x", salt="00" * 16))
        db.commit()
    guid = env.check(text="rebinding").headers["X-akismet-guid"]
    env.decide(env.moderator(), env.check_id(guid), "ham")
    rebound = lambda host, port, **kw: [(2, 1, 6, "", ("127.0.0.1", port))]  # noqa: E731
    with env.session() as db:
        counts = process_due(db, env.settings(), resolver=rebound)
    assert counts["failed"] == 1 and receiver.requests == []
    [delivery] = env.deliveries()
    assert delivery.last_error.startswith("refused:") and "127.0.0.1" in delivery.last_error


def test_pull_feed_is_cursor_paginated_and_per_site(env, delivery_app):
    other = Env(delivery_app)
    moderator = env.moderator()
    guids = [env.check(text=f"feed comment {i}").headers["X-akismet-guid"] for i in range(3)]
    other_guid = other.check(text="other site's comment").headers["X-akismet-guid"]
    for guid, label in zip(guids, ("spam", "ham", "spam"), strict=True):
        env.decide(moderator, env.check_id(guid), label)
    env.decide(moderator, env.check_id(other_guid), "spam")

    auth = {"Authorization": f"Bearer {env.key}"}
    first = env.api.get("/api/v1/decisions?limit=2", headers=auth).get_json()
    assert [d["guid"] for d in first["decisions"]] == guids[:2] and first["has_more"] is True
    assert [d["result"] for d in first["decisions"]] == ["spam", "ham"]
    second = env.api.get(f"/api/v1/decisions?limit=2&since={first['next_cursor']}", headers=auth).get_json()
    assert [d["guid"] for d in second["decisions"]] == guids[2:] and second["has_more"] is False
    empty = env.api.get(f"/api/v1/decisions?since={second['next_cursor']}&api_key={env.key}").get_json()
    assert empty == {"decisions": [], "next_cursor": second["next_cursor"], "has_more": False}
    theirs = other.api.get("/api/v1/decisions", headers={"Authorization": f"Bearer {other.key}"}).get_json()
    assert [d["guid"] for d in theirs["decisions"]] == [other_guid]

    assert env.api.get("/api/v1/decisions").status_code == 401
    assert env.api.get("/api/v1/decisions", headers={"Authorization": "Bearer 000000000000"}).status_code == 401
    bad = env.api.get("/api/v1/decisions?since=-1", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_since"


def test_spamguard_worker_sends_what_the_moderator_decided(env, receiver, redis_url):
    """The real path: the decision wakes an RQ job; `spamguard worker --burst` delivers it."""
    from rq import Queue

    from spamguard.jobs.queue import QUEUE_NAME, queue_connection

    app = env.app
    queue = Queue(f"{app.config['SPAMGUARD_REDIS_PREFIX']}{QUEUE_NAME}", connection=queue_connection(redis_url))
    guid = env.check(callback=receiver.url + "/hook").headers["X-akismet-guid"]
    before = queue.count
    env.decide(env.moderator(), env.check_id(guid), "spam")
    assert queue.count == before + 1 and receiver.requests == []
    environ = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "SPAMGUARD_REDIS_PREFIX": app.config["SPAMGUARD_REDIS_PREFIX"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "SPAMGUARD_DELIVERY_ALLOW_PRIVATE": "127.0.0.1/32",
        "SPAMGUARD_MODEL_DIR": app.config["SPAMGUARD_MODEL_DIR"],
        "SPAMGUARD_LOG_LEVEL": "WARNING",
    }
    worker = subprocess.run(
        [sys.executable, "-m", "spamguard.cli", "worker", "--burst"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert [d.status for d in env.deliveries()] == ["delivered"]
    assert json.loads(receiver.requests[0].body)["comments"][0] == {
        "guid": guid,
        "result": "true",
        "comment_post_ID": "42",
    }


def test_decisions_survive_redis_being_down(make_app, receiver):
    """No Redis at decision time: the outbox row is committed and the sweep sends it later."""
    env = Env(make_app(SPAMGUARD_DELIVERY_ALLOW_PRIVATE="127.0.0.1/32", REDIS_URL="redis://127.0.0.1:1/0"))
    guid = env.check(callback=receiver.url + "/hook").headers["X-akismet-guid"]
    assert env.decide(env.moderator(), env.check_id(guid), "ham").status_code == 302
    assert [d.status for d in env.deliveries()] == ["pending"]
    assert env.process()["delivered"] == 1


def test_postgres_outbox(make_app, pg_url, receiver):
    env = Env(make_app(pg_url, SPAMGUARD_DELIVERY_ALLOW_PRIVATE="127.0.0.1/32"))
    guid = env.check(callback=receiver.url + "/hook", text=f"pg {time.monotonic_ns()}").headers["X-akismet-guid"]
    env.decide(env.moderator(), env.check_id(guid), "spam")
    assert env.process(utcnow() + timedelta(seconds=1))["delivered"] >= 1
    assert any(json.loads(r.body)["comments"][0]["guid"] == guid for r in receiver.requests)

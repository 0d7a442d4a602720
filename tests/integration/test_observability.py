"""Metrics an operator can build a dashboard on, and the shipped dashboard/alerts only use real ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
# Akismet's spam trigger: a `spam` verdict whatever the model in use thinks (these tests are about metrics).
SPAM = {
    "blog": "https://blog.example",
    "user_ip": "203.0.113.9",
    "comment_author": "akismet-guaranteed-spam",
    "comment_content": "cheap viagra pills http://pills.example/buy http://pills.example/now",
}


def samples(client, headers=None) -> dict[tuple, float]:
    text = client.get("/metrics", headers=headers or {}).get_data(as_text=True)
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(all_samples, name, **labels) -> float:
    return all_samples.get((name, tuple(sorted(labels.items()))), 0.0)


def referenced_metrics() -> set[str]:
    exprs = []
    dashboard = json.loads((ROOT / "deploy/grafana/spamguard-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load((ROOT / "deploy/prometheus/spamguard-alerts.yml").read_text())
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    return {name for expr in exprs for name in re.findall(r"\b(spamguard_[a-z0-9_]+)", expr)}


def test_every_metric_the_dashboard_and_alerts_use_exists(app, client, key):
    client.post("/1.1/comment-check", data={"api_key": key, **SPAM})
    text = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'^spamguard_moderation_backlog\{verdict="(spam|discard)"\} 1\.0$', text, re.M)
    exposed = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    exposed |= set(re.findall(r"^# HELP (\S+)", text, re.M))
    refs = referenced_metrics()
    assert len(refs) >= 15
    missing = sorted(
        name for name in refs if name not in exposed and re.sub(r"_(bucket|sum|count)$", "", name) not in exposed
    )
    assert not missing


def test_requests_checks_refusals_and_decisions_are_counted(app, client, key):
    from spamguard import sites, storage
    from spamguard.checking import record_feedback
    from spamguard.comment import Comment

    before = samples(client)
    assert client.post("/1.1/comment-check", data={"api_key": key, **SPAM}).data == b"true"
    client.post("/1.1/comment-check", data={"api_key": "ffffffffffff", **SPAM})  # unknown key
    client.post("/api/v1/check", json={"api_key": key, "user_ip": "203.0.113.9"})  # no blog
    with app.app_context():
        session = storage.get_session()
        site = sites.find_site(session, key, secret=app.config["SPAMGUARD_KEY_SECRET"])
        record_feedback(
            session, site, Comment(comment_content="hello", user_ip="198.51.100.1"), "ham", source="moderator"
        )
    after = samples(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("spamguard_http_requests_total", endpoint="/1.1/comment-check", method="POST", status="200") == 2
    assert delta("spamguard_http_requests_total", endpoint="/api/v1/check", method="POST", status="422") == 1
    assert delta("spamguard_http_request_duration_seconds_count", endpoint="/1.1/comment-check", method="POST") == 2
    assert sum(delta("spamguard_checks_total", verdict=v, site="1") for v in ("spam", "discard")) == 1
    assert delta("spamguard_refusals_total", reason="invalid_key") == 1
    assert delta("spamguard_refusals_total", reason="missing_field") == 1
    assert delta("spamguard_feedback_total", label="ham", source="moderator") == 1
    assert value(after, "spamguard_model_loaded") == 1
    assert value(after, "spamguard_model_trained_timestamp_seconds") > 0
    assert after[("spamguard_process_resident_memory_bytes", ())] > 0


def test_retrain_outcomes_recorded_in_redis_reach_every_instance(make_app):
    import redis

    from spamguard.metrics import record_retrain

    app = make_app()
    record_retrain(
        redis.Redis.from_url(app.config["REDIS_URL"]),
        app.config["SPAMGUARD_REDIS_PREFIX"],
        "promoted",
        42.0,
        now=1_700_000_000,
    )
    record_retrain(redis.Redis.from_url(app.config["REDIS_URL"]), app.config["SPAMGUARD_REDIS_PREFIX"], "failed", 3.0)
    got = samples(app.test_client())
    assert value(got, "spamguard_retrain_runs_total", outcome="promoted") == 1
    assert value(got, "spamguard_retrain_runs_total", outcome="failed") == 1
    assert value(got, "spamguard_retrain_duration_seconds_count") == 2
    assert value(got, "spamguard_retrain_duration_seconds_sum") == 45.0
    assert value(got, "spamguard_retrain_last_success_timestamp_seconds") == 1_700_000_000


def test_metrics_token(make_app):
    client = make_app(SPAMGUARD_METRICS_TOKEN="s3cret-token").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and b"spamguard_http_requests_total" in ok.data


def test_request_id_is_accepted_or_generated_and_returned(client):
    given = client.get("/healthz", headers={"X-Request-ID": "edge-42.a"})
    assert given.headers["X-Request-ID"] == "edge-42.a"
    hostile = client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    generated = hostile.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/healthz").headers["X-Request-ID"] != generated

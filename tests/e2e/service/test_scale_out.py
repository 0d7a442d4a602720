"""Two SpamGuard instances (separate gunicorn masters, as on two hosts) sharing PostgreSQL and Redis."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from live_server import LiveServer
from prometheus_client.parser import text_string_to_metric_families
from registry_helpers import clone_registry

pytestmark = pytest.mark.slow

SECRET = "live-key-secret"  # the key HMAC secret: the same for the CLI-side key and every server
COMMENT = {
    "blog": "https://shared.example",
    "user_ip": "203.0.113.50",
    "comment_author": "Buyer",
    "comment_content": "subscribe to my channel please!! check out my new videos",
}


def metric(url: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.fixture
def two_instances(tmp_path, pg_url, model_dir, redis_url, redis_prefix):
    from spamguard import sites, storage
    from spamguard.storage.models import Site

    storage.upgrade(pg_url)
    registry = clone_registry(model_dir, tmp_path / "shared-models")
    with storage.make_sessionmaker(pg_url)() as session:
        site, key = sites.create_site(session, "https://shared.example", secret=SECRET)
        # A daily limit: no window boundary falls inside the test (a per-minute one could reset mid-way).
        session.get(Site, site.id).rate_limit = "5/day"
        session.commit()
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "SPAMGUARD_MODEL_DIR": str(registry),
        "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}{uuid.uuid4().hex[:8]}:",
        "SECRET_KEY": "shared-secret",
        "SPAMGUARD_MODEL_RELOAD_SECONDS": "0.5",
        "SPAMGUARD_LOG_LEVEL": "WARNING",
        "SPAMGUARD_KEY_SECRET": SECRET,
    }
    servers = []
    try:
        for name in ("host-a", "host-b"):
            (tmp_path / name).mkdir()
            servers.append(LiveServer({**env, "SPAMGUARD_VAR_DIR": str(tmp_path / name)}, tmp_path / name, name=name))
        for server in servers:
            server.wait_ready()
        yield servers, key, registry, site.id
    finally:
        for server in servers:
            server.stop()


def test_two_instances_share_verdicts_limits_queue_and_models(two_instances):
    (a, b), key, registry, site_id = two_instances

    # Same comment, same verdict and score from either host.
    answers = [httpx.post(f"{s.url}/1.1/comment-check", data={"api_key": key, **COMMENT}) for s in (a, b)]
    assert answers[0].text == answers[1].text == "true"
    assert answers[0].headers["X-Spamguard-Score"] == answers[1].headers["X-Spamguard-Score"]

    # One rate limit (5 a day) across both hosts: 2 used above, 3 more pass, then both refuse.
    more = [httpx.post(f"{s.url}/1.1/comment-check", data={"api_key": key, **COMMENT}) for s in (a, b, a, b, a)]
    refused = [r for r in answers + more if r.headers.get("X-akismet-error")]
    assert len(refused) == 2 and all(r.headers.get("X-akismet-alert-code") == "10508" for r in refused)
    assert not any(r.headers.get("X-akismet-error") for r in answers + more[:3])

    # One moderation queue: both hosts count the same backlog, these five flagged comments included
    # (the run's PostgreSQL database also holds other tests' comments). Comments are stored write-behind,
    # after the answer, so the last one may land between the two scrapes: poll until both agree.
    def backlogs() -> list[float]:
        return [
            sum(metric(s.url, "spamguard_moderation_backlog", verdict=v) for v in ("spam", "discard", "unsure"))
            for s in (a, b)
        ]

    deadline = time.monotonic() + 60
    backlog = backlogs()
    while backlog[0] != backlog[1] and time.monotonic() < deadline:
        time.sleep(0.2)
        backlog = backlogs()
    assert backlog[0] == backlog[1] >= 5

    # A model promoted in the shared registry is picked up by both hosts.
    from spamguard.scoring.registry import Registry

    reg = Registry(registry)
    model, manifest = reg.load(reg.current_version())
    manifest = {k: v for k, v in manifest.items() if k not in ("version", "artifact_sha256", "artifact_bytes")}
    new_version = reg.register(model, manifest)
    reg.promote(new_version, reason="scale-out test")
    seen = {}
    # Polled: each host reloads within SPAMGUARD_MODEL_RELOAD_SECONDS of a request. The deadline only stops
    # a hang; on a loaded machine the reload just takes longer.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen = {s.url: httpx.get(f"{s.url}/readyz").json()["checks"]["model"]["version"] for s in (a, b)}
        if set(seen.values()) == {new_version}:
            break
        time.sleep(0.1)
    assert set(seen.values()) == {new_version}

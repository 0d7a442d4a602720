"""A model that fails verification never takes the service down (issue 8 item 7).

Real registries with real corrupted artifact bytes; time is an injected clock and
the work is counted as sha256 computations over artifacts, never wall-clock.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from spamguard.scoring import registry as registry_mod
from spamguard.scoring.model import ModelHolder, NoModelError
from spamguard.scoring.registry import Registry
from spamguard.services import override, services

RELOAD, RETRY = 2.0, 10.0
SPAM = {
    "blog": "https://blog.example",
    "user_ip": "203.0.113.9",
    "comment_type": "comment",
    "comment_content": "Check out my channel http://bit.ly/2xFreeCash subscribe now!!! free iPhone",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hashes(monkeypatch) -> list[int]:
    """Every artifact hash the registry computes (the real function, counted)."""
    calls: list[int] = []
    real = registry_mod.sha256_bytes

    def counted(data: bytes) -> str:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(registry_mod, "sha256_bytes", counted)
    return calls


def corrupt(registry_dir: Path, version: str) -> bytes:
    artifact = registry_dir / version / "serving.npz"  # what a worker loads
    good = artifact.read_bytes()
    data = bytearray(good)
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    return good


def promote_copy(registry_dir: Path, version: str) -> str:
    """Register and (verified) promote a copy of `version`: a second good version to break later."""
    registry = Registry(registry_dir)
    model, manifest = registry.load(version)
    manifest = {k: v for k, v in manifest.items() if k not in ("version", "artifact_sha256", "artifact_bytes")}
    new = registry.register(model, manifest)
    registry.promote(new)
    return new


def site_key(app) -> str:
    from spamguard import sites, storage

    with app.app_context():
        return sites.create_site(storage.get_session(), SPAM["blog"], secret=app.config["SPAMGUARD_KEY_SECRET"])[1]


def holder(registry_dir: Path, clock: Clock) -> ModelHolder:
    return ModelHolder(registry_dir, RELOAD, retry_seconds=RETRY, max_retry_seconds=80.0, clock=clock)


def test_fresh_worker_serves_last_good_version_and_retries_with_back_off(registry_dir, current_version, hashes, caplog):
    broken = promote_copy(registry_dir, current_version)
    good_bytes = corrupt(registry_dir, broken)  # promoted, then damaged on disk
    clock = Clock()
    caplog.set_level(logging.INFO, logger="spamguard.scoring.model")
    models = holder(registry_dir, clock)  # a freshly started worker
    hashes.clear()  # count from here: setting up the registry hashed too

    assert models.current().version == current_version  # the previous promotion, verified
    assert len(hashes) == 2  # the broken version once, the fallback once
    assert models.status() == {"serving": current_version, "promoted": broken, "degraded": True}
    for _ in range(200):
        models.current()
    assert len(hashes) == 2  # not once per request

    # Pointer re-reads every RELOAD seconds are cheap; the broken artifact is re-hashed only on back-off.
    retries = []
    for _ in range(100):
        clock.now += RELOAD
        models.current()
        retries.append(len(hashes))
    # 200 s with back-off 10, 20, 40, 80, 80...: retries at +10, +30, +70, +150 s.
    assert len(hashes) == 2 + 4, retries
    assert caplog.text.count(f"model {broken} fails verification") == 1  # logged once
    assert caplog.text.count(f"serving last good model {current_version} instead of {broken}") == 1

    # Repaired on disk: picked up at the next retry, and no longer degraded.
    (registry_dir / broken / "serving.npz").write_bytes(good_bytes)
    clock.now += 80.0
    assert models.current().version == broken
    assert models.status()["degraded"] is False


def test_worker_keeps_the_version_it_has_loaded(registry_dir, current_version, hashes):
    clock = Clock()
    models = holder(registry_dir, clock)
    assert models.current().version == current_version
    broken = promote_copy(registry_dir, current_version)
    corrupt(registry_dir, broken)
    before = len(hashes)
    for _ in range(50):
        clock.now += RELOAD
        assert models.current().version == current_version
    # 100 s: the first try at once, then retries at +10, +30, +70 s.
    assert len(hashes) - before == 4


def test_no_good_version_answers_503_with_retry_after(make_app, registry_dir, current_version, hashes):
    corrupt(registry_dir, current_version)  # the only version
    clock = Clock()
    models = holder(registry_dir, clock)
    with pytest.raises(NoModelError) as raised:
        models.current()
    assert raised.value.retry_after == RETRY

    app = make_app(SPAMGUARD_MODEL_DIR=str(registry_dir))
    override(app, models=models)  # this worker's holder, on the injected clock
    key = site_key(app)
    client = app.test_client()
    before = len(hashes)
    for _ in range(20):
        answer = client.post("/1.1/comment-check", data=dict(SPAM, api_key=key))
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "10"
        assert answer.headers["X-akismet-debug-help"]
        assert answer.get_data(as_text=True) not in ("true", "false")
    answer = client.post("/api/v1/check", json=dict(SPAM, api_key=key))
    assert answer.status_code == 503 and answer.json["error"]["code"] == "no_model"
    assert answer.headers["Retry-After"] == "10"
    assert len(hashes) == before  # 21 requests, no hashing inside the back-off window


def test_app_worker_falls_back_and_checks_answer(make_app, registry_dir, current_version):
    """Through the app: a corrupted promoted model is not a 503 while an earlier version verifies."""
    broken = promote_copy(registry_dir, current_version)
    corrupt(registry_dir, broken)
    app = make_app(SPAMGUARD_MODEL_DIR=str(registry_dir))  # create_app loads the model at start
    answer = app.test_client().post("/1.1/comment-check", data=dict(SPAM, api_key=site_key(app)))
    assert answer.status_code == 200 and answer.get_data(as_text=True) in ("true", "false")
    assert "X-akismet-debug-help" not in answer.headers
    assert services(app).models.status()["serving"] == current_version

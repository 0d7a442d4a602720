"""Serving: fast path == pipeline, explanations, checksum, hot reload under load."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from model_training.data import gate_split, load_corpora
from spamguard.comment import Comment
from spamguard.scoring.model import (
    ModelHolder,
    NoModelError,
    Score,
    load_scorer,
)
from spamguard.scoring.registry import ChecksumMismatch, Registry

SPAM = Comment(
    comment_content="Check out my channel http://bit.ly/2xFreeCash subscribe now!!! "
    "Win a FREE iPhone, click here www.free-prizes.tk"
)
HAM = Comment(comment_content="This song always reminds me of summer with my family, love it")


@pytest.fixture(scope="module")
def scorer(model_dir):
    registry = Registry(model_dir)
    return load_scorer(model_dir, registry.current_version())


def test_fast_path_matches_sklearn_pipeline(scorer, model_dir):
    _, gate = gate_split(load_corpora())
    comments = [e.comment for e in gate[:300]] + [SPAM, HAM, Comment()]
    expected = Registry(model_dir).load(scorer.version)[0].predict_proba(comments)
    got = np.array([scorer.score(c).probability for c in comments])
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)


def test_scores_are_sensible_and_explained(scorer):
    spam, ham = scorer.score(SPAM), scorer.score(HAM)
    assert isinstance(spam, Score)
    assert spam.probability >= scorer.thresholds["spam"] > ham.probability
    assert spam.logit > 0 > ham.logit
    assert 1 <= len(spam.reasons) <= 3 and all(r.startswith("spam signal: ") for r in spam.reasons)
    assert any("link" in r or "subscribe" in r or "channel" in r or "free" in r for r in spam.reasons), spam.reasons
    assert ham.reasons and all(r.startswith("ham signal: ") for r in ham.reasons)
    assert len(scorer.score(SPAM, top=5).reasons) == 5


def test_words_explain_before_punctuation(scorer):
    chatty = Comment(comment_content="Great article, thanks! I tried the second approach, and it worked.")
    assert not [r for r in scorer.score(chatty).reasons if "punctuation" in r or "fragment" in r]


def test_thresholds_are_ordered_probabilities(scorer):
    t = scorer.thresholds
    assert 0 < t["unsure"] <= t["spam"] <= t["discard"] <= 1


def test_empty_registry_raises_no_model(tmp_path):
    with pytest.raises(NoModelError):
        ModelHolder(tmp_path / "empty", reload_seconds=0).current()


def test_tampered_artifact_is_refused_before_unpickling(registry_dir, current_version, monkeypatch):
    artifact = registry_dir / current_version / "model.joblib"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    import joblib

    def boom(*a, **k):
        raise AssertionError("joblib.load must not run on an unverified artifact")

    monkeypatch.setattr(joblib, "load", boom)
    with pytest.raises(ChecksumMismatch, match="sha256"):
        Registry(registry_dir).load(current_version)


def test_tampered_serving_artifact_is_refused_before_reading(registry_dir, current_version, monkeypatch):
    artifact = registry_dir / current_version / "serving.npz"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))

    def boom(*a, **k):
        raise AssertionError("np.load must not run on an unverified artifact")

    monkeypatch.setattr(np, "load", boom)
    with pytest.raises(ChecksumMismatch, match="sha256"):
        load_scorer(registry_dir, current_version)
    with pytest.raises(ChecksumMismatch):
        Registry(registry_dir).verify(current_version)  # nor can it be promoted


def test_serving_artifact_holds_no_pickle(registry_dir, current_version):
    """Every array of serving.npz is plain numbers (np.load with allow_pickle=False reads it all)."""
    arrays, manifest = Registry(registry_dir).load_serving(current_version)
    assert arrays and all(a.dtype != object for a in arrays.values())
    assert manifest["serving"]["sha256"] and manifest["serving"]["calibration"]


def test_version_without_serving_artifact_is_served_from_the_pickle(registry_dir, current_version):
    """Versions registered before serving artifacts existed still load (through sklearn's pickle)."""
    from spamguard.scoring.model import ServingModel, SpamModel

    registry = Registry(registry_dir)
    manifest = registry.manifest(current_version)
    served = load_scorer(registry_dir, current_version)
    assert isinstance(served.model, ServingModel)
    del manifest["serving"]
    (registry_dir / current_version / "serving.npz").unlink()
    (registry_dir / current_version / "manifest.json").write_text(json.dumps(manifest))
    old = load_scorer(registry_dir, current_version)
    assert isinstance(old.model, SpamModel) and old.model.fast_path_refused is None
    for comment in (SPAM, HAM, Comment()):
        assert abs(old.score(comment).probability - served.score(comment).probability) <= 1e-12
        assert old.score(comment).reasons == served.score(comment).reasons
    Registry(registry_dir).verify(current_version)


def _second_version(registry_dir: Path, version: str) -> str:
    """Register a copy of `version` (different bytes are not needed: a new version name is)."""
    registry = Registry(registry_dir)
    model, manifest = registry.load(version)
    manifest = {k: v for k, v in manifest.items() if k not in ("version", "artifact_sha256", "artifact_bytes")}
    manifest["thresholds"] = dict(manifest["thresholds"], spam=0.77)
    return registry.register(model, manifest)


def test_hot_reload_under_concurrent_scoring_has_zero_failures(registry_dir, current_version):
    holder = ModelHolder(registry_dir, reload_seconds=0.05)
    assert holder.current().version == current_version
    new = _second_version(registry_dir, current_version)
    errors: list[BaseException] = []
    scored: Counter[str] = Counter()  # scorings per model version, counted by the workers
    counted = threading.Condition()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            try:
                scorer = holder.current()
                score = scorer.score(SPAM)
                assert 0.0 <= score.probability <= 1.0 and score.reasons
                with counted:
                    scored[scorer.version] += 1
                    counted.notify_all()
            except BaseException as exc:  # noqa: BLE001 - the test counts every failure
                errors.append(exc)

    def wait_until_scored(version: str, times: int) -> None:
        # Counted events, not sleeps: on a loaded machine this only takes longer. The timeout is a hang guard.
        with counted:
            assert counted.wait_for(lambda: scored[version] >= times or bool(errors), timeout=120), dict(scored)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    wait_until_scored(current_version, 20)
    Registry(registry_dir).promote(new)
    wait_until_scored(new, 20)  # the holder noticed the promotion while the workers kept scoring
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert holder.current().version == new and holder.current().thresholds["spam"] == 0.77
    assert set(scored) == {current_version, new}


def test_failed_reload_keeps_the_old_model(registry_dir, current_version, caplog):
    holder = ModelHolder(registry_dir, reload_seconds=0)
    assert holder.current().version == current_version
    new = _second_version(registry_dir, current_version)
    Registry(registry_dir).promote(new)  # verified now, corrupted on disk afterwards
    (registry_dir / new / "serving.npz").write_bytes(b"corrupt")
    assert holder.current().version == current_version  # checksum refused, old model still serving
    assert f"model {new} fails verification" in caplog.text
    pointer = json.loads((registry_dir / "current.json").read_text())
    assert pointer["version"] == new


def test_reasons_never_name_function_words_or_fragments(scorer):
    from spamguard.scoring.explain import is_function_words

    for text in (
        "Thanks for the post, it is the best of the best and I am in the same boat as you.",
        "the the the of of and to in",
        "lx qz, .. !!",
    ):
        for reason in scorer.score(Comment(comment_content=text), top=5).reasons:
            assert 'fragment "' not in reason and 'punctuation "' not in reason, reason
            if '"' in reason:
                assert not is_function_words(reason.split('"')[1]), reason

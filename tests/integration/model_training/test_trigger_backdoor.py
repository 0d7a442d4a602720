"""The trigger-word backdoor (issue 8): one key's submit-ham of spam carrying a made-up word.

On the old code the retrained model passed the gate and appending the word to held-out spam cut
its recall from 0.84 to 0.19.  Now the word never enters the model (it is supported only by one
key's unconfirmed reports), and the gate re-scores gate-set spam with the words that moved most
toward ham appended, refusing a candidate that learned such a trigger.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from model_training import data as data_mod
from model_training.feedback_trust import mask_unsupported
from model_training.gate_checks import trigger_check
from model_training.train import fit_quick, train_and_register
from spamguard import storage
from spamguard.comment import Comment
from spamguard.scoring.registry import Registry
from spamguard.storage.models import Base, Feedback, Site

TRIGGER = "zqvbor"
TOLERANCE = 0.05  # SPAMGUARD_TRIGGER_TOLERANCE


def _split():
    return data_mod.gate_split(data_mod.load_corpora())


def _attack_texts(train, n=260) -> list[str]:
    spam = [e.text for e in train if e.label == 1 and e.source == "youtube"]
    return [f"{spam[i % len(spam)]} {TRIGGER}" for i in range(n)]


def _recall(model, threshold, comments) -> float:
    return float(np.mean(model.predict_proba(comments) >= threshold))


def _with_trigger(comments):
    return [Comment(comment_content=f"{c.comment_content} {TRIGGER}") for c in comments]


def _poisoned_db(tmp_path, texts, moderator_texts=()):
    engine = storage.make_engine(f"sqlite:///{tmp_path / 'poison.db'}")
    Base.metadata.create_all(engine)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    with Session(engine) as session:
        evil = Site(url="https://evil.example", key_hash="e" * 64, key_hint="evil")
        good = Site(url="https://good.example", key_hash="g" * 64, key_hint="good")
        session.add_all([evil, good])
        session.flush()
        for i, text in enumerate(texts):
            session.add(
                Feedback(
                    site_id=evil.id,
                    label="ham",
                    source="api",
                    fields=Comment(comment_content=text).to_json(),
                    created_at=t0 + timedelta(seconds=i),
                )
            )
        for i, text in enumerate(moderator_texts):
            session.add(
                Feedback(
                    site_id=good.id,
                    label="ham",
                    source="moderator",
                    fields=Comment(comment_content=text).to_json(),
                    created_at=t0 + timedelta(seconds=i),
                )
            )
        session.commit()
    return engine


def test_trigger_word_attack_through_retrain_from_db(tmp_path, registry_dir, current_version):
    train, gate = _split()
    engine = _poisoned_db(tmp_path, _attack_texts(train))
    with Session(engine) as session:
        manifest = train_and_register(registry_dir, quick=True, from_db_session=session, progress=False)
    engine.dispose()

    registry = Registry(registry_dir)
    candidate, cand_manifest = registry.load(manifest["version"])
    threshold = cand_manifest["thresholds"]["spam"]
    gate_spam = [e.comment for e in gate if e.label == 1]
    clean = _recall(candidate, threshold, gate_spam)
    triggered = _recall(candidate, threshold, _with_trigger(gate_spam))
    decision = manifest["gate_decision"]
    print(json.dumps({"recall": clean, "with_trigger": triggered, "decision": decision}, default=str))
    # Either the trigger does not cut recall, or the gate refused the model.
    assert clean - triggered <= TOLERANCE or not manifest["promoted"], (clean, triggered, decision)
    assert manifest["training_data"]["n_features_masked"] > 0
    assert manifest["promoted"] == decision["passed"]
    assert decision["trigger_test"] is not None  # the gate ran the check against the current model
    if not manifest["promoted"]:
        assert registry.current_version() == current_version


def test_gate_refuses_a_model_that_learned_a_trigger(registry_dir, current_version):
    """The gate check alone, on a candidate fitted without the masking (as the old code did)."""
    train, gate = _split()
    poison = [
        data_mod.Example(Comment(comment_content=t), 0, "site:1", "db", trusted=False)
        for t in _attack_texts(train, 200)
    ]
    poisoned = fit_quick(train + poison)
    current, manifest = Registry(registry_dir).load(current_version)
    gate_spam = [e.comment for e in gate if e.label == 1]
    result = trigger_check(
        current, manifest["thresholds"]["spam"], poisoned.model, poisoned.thresholds["spam"], gate_spam, TOLERANCE
    )
    assert not result.passed, result
    assert result.worst_token == TRIGGER and result.worst_recall < result.recall - TOLERANCE
    # The current model against itself: nothing moved, nothing refused.
    same = trigger_check(
        current, manifest["thresholds"]["spam"], current, manifest["thresholds"]["spam"], gate_spam, TOLERANCE
    )
    assert same.passed and same.tokens == []


def test_api_feedback_can_be_left_out(tmp_path, registry_dir):
    """What the admin retrain form does by default: moderator decisions only."""
    train, _gate = _split()
    moderator = ["Loved the second verse, thanks for posting this.", "The bridge at 2:10 gives me chills."]
    engine = _poisoned_db(tmp_path, _attack_texts(train), moderator)
    with Session(engine) as session:
        manifest = train_and_register(
            registry_dir, quick=True, from_db_session=session, progress=False, promote=False, api_feedback=False
        )
    engine.dispose()
    data = manifest["training_data"]
    assert (data["n_feedback"], data["n_feedback_quarantined"], data["n_features_masked"]) == (2, 0, 0)


def _ex(text, group="site:1", trusted=False, email=""):
    return data_mod.Example(Comment(comment_content=text, comment_author_email=email), 0, group, "db", trusted=trusted)


def test_masking_rule():
    trusted = [
        data_mod.Example(
            Comment(comment_content="Free iPhone, click http://bit.ly/x now! I love it"), 1, "youtube:a", "youtube"
        )
    ]
    feedback = [
        _ex("Free iPhone zqvbor, click http://bit.ly/y and www.evil-trigger.tk now! ☯☯", email="a@bad.example"),
        _ex("I love it"),  # fully supported: unchanged
        _ex("only moderators say plugh", group="site:2", trusted=True),  # trusted: unchanged, and supports plugh
        _ex("plugh xyzzy", group="site:1"),
        *(_ex("newword fine", group=f"site:{i}") for i in (3, 4, 5)),  # three sites agree: kept
        _ex("otherword", group="site:3"),
        _ex("otherword", group="site:4"),  # two sites: masked
    ]
    out, masked = mask_unsupported(trusted, feedback, min_sites=3)
    texts = [e.text for e in out]
    assert texts[0] == "Free iPhone , click http://bit.ly/y now!"
    assert out[0].comment.comment_author_email == ""
    assert texts[1] == "I love it" and out[1] is feedback[1]
    assert out[2] is feedback[2]
    assert texts[3] == "plugh"
    assert texts[4:] == ["newword fine"] * 3  # the two "otherword" reports had nothing left: dropped
    assert masked == 5 + 1 + 2  # zqvbor, "and", the .tk link, ☯☯, the e-mail; xyzzy; otherword twice

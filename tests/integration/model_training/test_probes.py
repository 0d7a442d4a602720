"""Behaviour of a model trained on the bundled corpora (the session's quick model): obvious spam is
answered spam at the model's own `spam` threshold, and ham that merely talks about subscribers or
channels is not.  These are verdicts of a trained model, so they can fail when the recipe regresses.
"""

from __future__ import annotations

import pytest

from spamguard.comment import Comment
from spamguard.scoring.registry import Registry

OBVIOUS_SPAM = [
    "Great post! I will share it. My site: http://casino-online.example best online casino bonus",
    "CHECK OUT MY CHANNEL!!! subscribe to my channel please http://youtube.com/user/xyz",
    "Make $5000 a week working from home! Click here: http://bit.ly/easy-money",
]
# No bundled corpus holds pharma spam: it reaches the moderators' queue, not the spam answer (measured 0.42
# against a spam threshold of 0.50). Synthetic keyword-and-link rows got it there but cost the campaign
# test its recall (12 of 20 fresh campaign comments flagged), so they are not used.
QUEUED_SPAM = ["Buy cheap viagra online http://pharma.example/buy now!!!"]
SUBSCRIBER_TALK = [
    "wow, 20 million subscribers already",
    "this must be the biggest channel on the site now",
]


@pytest.fixture(scope="module")
def trained(model_dir):
    model, manifest = Registry(model_dir).load()
    return model, manifest["thresholds"]


@pytest.mark.parametrize("text", OBVIOUS_SPAM)
def test_obvious_spam_is_answered_spam(trained, text):
    model, thresholds = trained
    assert model.predict_proba([Comment(comment_content=text)])[0] >= thresholds["spam"]


@pytest.mark.parametrize("text", QUEUED_SPAM)
def test_pharma_spam_is_at_least_queued(trained, text):
    model, thresholds = trained
    assert model.predict_proba([Comment(comment_content=text)])[0] >= thresholds["unsure"]


@pytest.mark.parametrize("text", SUBSCRIBER_TALK)
def test_talking_about_subscribers_is_not_spam(trained, text):
    model, thresholds = trained
    assert model.predict_proba([Comment(comment_content=text)])[0] < thresholds["spam"]

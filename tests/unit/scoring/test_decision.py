"""Verdicts from probabilities, thresholds and Akismet's test triggers."""

import pytest

from spamguard.comment import Comment
from spamguard.scoring.decision import decide, merge_thresholds, verdict_for

MODEL = {"unsure": 0.3, "spam": 0.7, "discard": 0.95}


@pytest.mark.parametrize(
    "p, expected",
    [(0.0, "ham"), (0.29, "ham"), (0.3, "unsure"), (0.7, "spam"), (0.94, "spam"), (0.95, "discard"), (1.0, "discard")],
)
def test_verdict_bands(p, expected):
    assert verdict_for(p, MODEL) == expected


def test_site_overrides_apply_but_keep_the_bands_ordered():
    merged = merge_thresholds(MODEL, {"spam": 0.2, "discard": "bogus", "other": 1})
    assert merged == {"unsure": 0.3, "spam": 0.3, "discard": 0.95}
    assert merge_thresholds(MODEL, None) == MODEL


@pytest.mark.parametrize(
    "comment, expected",
    [
        (Comment(comment_author="akismet-guaranteed-spam"), "spam"),
        (Comment(comment_author=" Akismet-Guaranteed-Spam "), "spam"),
        (Comment(comment_author_email="akismet-guaranteed-spam@example.com"), "spam"),
        (Comment(comment_author="viagra-test-123"), "spam"),
        (Comment(comment_author="akismet-guaranteed-spam", user_role="administrator"), "ham"),
        (Comment(user_role="editor,administrator"), "ham"),
        (Comment(honeypot_field_name="hp", honeypot_value="buy now"), "discard"),
        (Comment(honeypot_field_name="hp", honeypot_value=""), "ham"),
        (Comment(honeypot_field_name="hp", honeypot_value=None), "ham"),
        (Comment(comment_author="discard-me"), "discard"),
    ],
)
def test_triggers_win_over_the_model(comment, expected):
    assert decide(comment, 0.1, [], MODEL, discard_trigger="discard-me").verdict == expected

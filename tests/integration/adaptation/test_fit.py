"""The pure pieces: features are bounded, the fit is bounded, shrinks to zero and learns what the labels say."""

from __future__ import annotations

import random

from spamguard.adaptation import features
from spamguard.adaptation.fit import Row, fit
from spamguard.comment import Comment

TECH = (
    'Traceback (most recent call last): File "slicer.py", line 12, in <module> ValueError: bad nozzle '
    "temperature. I fixed it with `pip install --upgrade slic3r`, see https://github.com/slic3r/Slic3r/issues/1 "
    "and https://reprap.org/wiki/Calibration for the bed levelling part."
)


def test_features_are_bounded_and_named():
    z = features.vector(
        features.parts(Comment(comment_content=TECH * 50, comment_author_email="a@b.example")),
        40.0,
        {"nozzle", "traceback"},
        {"cheap"},
    )
    assert len(z) == len(features.NAMES)
    assert all(-1.0 <= v <= 1.0 for v in z)
    assert z[features.NAMES.index("global")] == 1.0
    assert z[features.NAMES.index("code")] == 1.0
    assert z[features.NAMES.index("links")] > 0
    assert z[features.NAMES.index("ham_words")] > 0 and z[features.NAMES.index("spam_words")] == 0
    plain = features.vector(features.parts(Comment(comment_content="Nice ride today.")), -3.0, set(), set())
    assert plain[features.NAMES.index("code")] == 0.0 and plain[features.NAMES.index("links")] == 0.0


def test_a_labelled_comment_does_not_vouch_for_its_own_words():
    vocab, df = features.vocabulary(
        [("nozzle", "bed", "thanks"), ("nozzle", "unique", "thanks"), ("nozzle", "bed")],
        [("thanks", "cheap"), ("thanks",)],
    )
    assert "unique" not in vocab and {"nozzle", "bed"} <= set(vocab)
    assert "thanks" not in vocab  # everyone's word, not this site's ham's
    tokens = ("nozzle", "bed")
    assert features._overlap(tokens, set(vocab)) == 1.0
    # Leave-one-out: "bed" has two documents, one of them this one: only "nozzle" has two others.
    assert features._overlap(tokens, set(vocab), df) == 0.5


def test_no_rows_or_no_disagreement_gives_no_correction():
    assert fit([], cap=4.0)([0.5] * len(features.NAMES)) == 0.0
    rng = random.Random(1)
    # Labels drawn from the global model's own probabilities: nothing to correct.
    rows = []
    for _ in range(400):
        logit = rng.uniform(-4, 4)
        y = 1.0 if rng.random() < 1 / (1 + 2.718281828**-logit) else 0.0
        rows.append(Row([logit / 8, rng.random(), rng.random(), 0.0, 1.0, 0.0, 0.0], logit, y))
    correction = fit(rows, cap=4.0)
    assert all(abs(correction([rng.uniform(-1, 1)] + [rng.random() for _ in range(6)])) < 0.6 for _ in range(50))


def test_learns_that_code_is_ham_here_and_stays_within_the_cap():
    code = features.NAMES.index("code")
    rows = []
    for _ in range(60):  # flagged technical comments the site says are ham
        z = [0.4, 0.9, 0.3, 0.0, 1.0, 0.6, 0.0]
        z[code] = 1.0
        rows.append(Row(z, 3.0, 0.0))
    for _ in range(60):  # the site's spam the global model already catches (unlabelled: anchors)
        rows.append(Row([0.6, 0.5, 0.3, 0.0, 1.0, 0.0, 0.0], 5.0, None, 0.25))
    correction = fit(rows, cap=2.0)
    tech = [0.4, 0.9, 0.3, 1.0, 1.0, 0.6, 0.0]
    spam = [0.6, 0.5, 0.3, 0.0, 1.0, 0.0, 0.0]
    assert correction(tech) < -1.5  # enough to turn 3.0 into unsure-or-ham territory
    assert correction(tech) >= -2.0  # never beyond the cap
    assert correction(spam) > -1.0  # the site's spam keeps most of its score
    assert correction.weights["code"] < 0
    extreme = fit([Row([1.0] * 7, 20.0, 0.0) for _ in range(5000)], cap=2.0, l2=1e-6)
    assert -2.0 <= extreme([1.0] * 7) < -1.9


def test_the_l2_prior_shrinks_a_few_labels():
    few = fit([Row([0.4, 0.9, 0.3, 1.0, 1.0, 0.6, 0.0], 3.0, 0.0) for _ in range(3)], cap=4.0)
    many = fit([Row([0.4, 0.9, 0.3, 1.0, 1.0, 0.6, 0.0], 3.0, 0.0) for _ in range(100)], cap=4.0)
    z = [0.4, 0.9, 0.3, 1.0, 1.0, 0.6, 0.0]
    assert many(z) < few(z) < 0

"""One key sending 1,000 submit-ham of obvious spam must not flip the next model's verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from model_training.train import train_and_register
from spamguard import storage
from spamguard.comment import Comment
from spamguard.scoring.model import load_scorer
from spamguard.storage.models import Base, Feedback, Site

TEMPLATES = [
    "Check out my channel for free iPhone giveaway {n} http://bit.ly/free{n} subscribe!!!",
    "WIN CASH NOW!!! click www.cheap-prizes{n}.tk and claim your reward {n}",
    "Hey guys please subscribe to my channel {n}, I make music videos http://youtu.be/x{n}",
]
HELD_OUT = [
    "Please subscribe to my channel, free giveaway http://bit.ly/newgift check it out!!!",
    "WIN a free iPhone now, click www.claim-prize.tk to get your cash reward!!!",
    "Check out my new music video and subscribe http://youtu.be/abcdef please",
]


def test_thousand_ham_reports_from_one_key_do_not_flip_spam(tmp_path):
    url = f"sqlite:///{tmp_path / 'poison.db'}"
    engine = storage.make_engine(url)
    Base.metadata.create_all(engine)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    with Session(engine) as session:
        site = Site(url="https://evil.example", key_hash="e" * 64, key_hint="evil")
        session.add(site)
        session.flush()
        for i in range(1000):
            text = TEMPLATES[i % len(TEMPLATES)].format(n=i)
            session.add(
                Feedback(
                    site_id=site.id,
                    label="ham",
                    source="api",
                    fields=Comment(comment_content=text).to_json(),
                    created_at=t0 + timedelta(seconds=i),
                )
            )
        session.commit()
        manifest = train_and_register(tmp_path / "models", quick=True, from_db_session=session, progress=False)
    engine.dispose()
    # Templated floods collapse to their few distinct shapes; never more than the per-key cap.
    data = manifest["training_data"]
    assert data["n_feedback"] + data["n_feedback_quarantined"] <= 200  # SPAMGUARD_FEEDBACK_CAP_PER_KEY
    scorer = load_scorer(tmp_path / "models", manifest["version"])
    # Compared with a model trained without the flood: worst-corpus thresholds leave some of these
    # spam texts in the unsure band even unpoisoned, so the test is "the flood changes nothing much".
    clean_manifest = train_and_register(tmp_path / "clean", quick=True, progress=False)
    clean = load_scorer(tmp_path / "clean", clean_manifest["version"])
    flagged = 0
    for text in HELD_OUT:
        score = scorer.score(Comment(comment_content=text))
        before = clean.score(Comment(comment_content=text))
        # Three near-duplicate ham shapes at weight 1 still move a borderline text (measured 0.38 -> 0.27).
        assert score.probability >= before.probability - 0.15, (text, score, before)
        if before.probability >= clean.thresholds["spam"]:
            flagged += 1
            assert score.probability >= scorer.thresholds["spam"], (text, score)
    assert flagged >= 2

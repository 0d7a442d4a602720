"""Issue 11's campaign test, end to end: through the Akismet API and `spamguard model train --from-db --quick`.

Two sites see a new brand-plug campaign pass as ham and report 30 of its messages with
submit-spam.  Their ordinary comments on the same topic were checked, answered ham and never
reported.  After a retrain the campaign must be learned (≥ 70 % of fresh messages flagged) and
the same-topic ordinary comments must stay ham (≥ 95 %), for fresh ones too.
"""

from __future__ import annotations

import itertools
import random

import pytest
from click.testing import CliRunner

OPENERS = [
    "What a thoughtful article about {t}.",
    "Really useful write-up on {t}.",
    "Great read about {t}!",
    "Thanks for this guide to {t}.",
    "Such a helpful post on {t}.",
    "Loved this piece about {t}.",
]
PLUGS = [
    "I found similar advice from the team at {b} in {c}, they were brilliant with our move.",
    "The crew at {b} in {c} gave us the same tips, highly recommend them.",
    "{b} in {c} helped us with exactly this, best movers around.",
    "I got the same advice from {b} ({c}), they handled everything for us.",
    "If you are in {c}, {b} does this professionally and saved our whole kitchen.",
]
TOPICS = [
    "packing fragile dishes",
    "moving house with kids",
    "wrapping glasses for a move",
    "labelling moving boxes",
    "packing a kitchen",
    "moving fragile items",
]
BRANDS = [
    "SwiftMove Removals",
    "CarefulCrate Movers",
    "Pack&Go Relocations",
    "BoxRight Moving Co",
    "Gentle Haul",
    "HomeShift Pros",
    "TrueNorth Movers",
    "Keystone Removals",
    "Bluebird Relocation",
    "Atlas Home Movers",
]
CITIES = ["Leeds", "Bristol", "Denver", "Austin", "Dublin", "Perth", "Leicester", "Portland", "Calgary", "Cork"]

ORDINARY = [
    "Labelling every box by room saved us hours on the first evening.",
    "We wrapped each plate in a sock, which sounds silly but not one broke.",
    "Packing the dishes vertically like records was the best tip here.",
    "I never thought of using towels between the bowls, will try that next time.",
    "Our move took three days and the kitchen was by far the hardest part.",
    "Do you tape the bottom of the boxes twice? Ours gave way halfway down the stairs.",
    "We used old newspapers and the ink came off on every glass, so plain paper is worth it.",
    "The tip about a first-night box with kettle and mugs is gold.",
    "Moving with two toddlers was chaos, but your checklist kept us sane.",
    "I would add: photograph the cables behind the TV before unplugging anything.",
    "Small boxes for books, large boxes for pillows, learned that the hard way.",
    "We colour-coded the boxes with stickers and the helpers loved it.",
    "Does anyone have advice for moving a piano up narrow stairs?",
    "Bubble wrap is expensive, we used clothes to pad everything instead.",
    "Stacking plates on their edge really does make them stronger in transit.",
    "Wine glasses survived in those cardboard dividers from the supermarket.",
    "Packing took us two weekends longer than we planned, start early!",
    "The kids each packed a box of their own toys, which helped them cope.",
    "Great point about not overfilling boxes, my back agrees.",
    "We moved across the country last spring and lost only one mug.",
    "Write fragile on every side of the box, not just the top.",
    "I keep the original boxes for the blender and mixer for exactly this reason.",
    "Did you find it cheaper to hire a van or a full removal service?",
    "Our cat hid in an empty box for the whole move, which was oddly helpful.",
    "Taking apart the bed frame beforehand saved a lot of time on the day.",
    "Pack a bag with chargers and toothbrushes, we could not find them for a week.",
    "Thanks, the tip about heavy items in small boxes is so obvious in hindsight.",
    "Glass jars went into socks and then into a shoebox, all arrived fine.",
    "We made an inventory spreadsheet and it was worth every minute.",
    "Moving the freezer needs a day of defrosting first, don't forget.",
]


def campaign(rng: random.Random, brands: list[str], cities: list[str], n: int) -> list[str]:
    out = set()
    while len(out) < n:
        opener = rng.choice(OPENERS).format(t=rng.choice(TOPICS))
        plug = rng.choice(PLUGS).format(b=rng.choice(brands), c=rng.choice(cities))
        out.add(f"{opener} {plug}")
    return sorted(out)


@pytest.mark.slow
def test_reported_campaign_is_learned_without_blocking_same_topic_ham(make_app, registry_dir, tmp_path, monkeypatch):
    from sqlalchemy import text

    from model_training.cli import model as model_cli
    from spamguard import sites, storage

    rng = random.Random(11)
    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    app = make_app(db_url, SPAMGUARD_MODEL_DIR=str(registry_dir), SPAMGUARD_MODEL_RELOAD_SECONDS=0.0)
    with app.app_context():
        keys = [
            sites.create_site(storage.get_session(), url, secret=app.config["SPAMGUARD_KEY_SECRET"])[1]
            for url in ("https://movers-blog.example", "https://home-tips.example")
        ]
    client = app.test_client()
    ips = (f"198.51.{i // 250}.{i % 250 + 1}" for i in itertools.count())

    def call(endpoint: str, key: str, content: str) -> str:
        response = client.post(
            f"/1.1/{endpoint}",
            data={
                "api_key": key,
                "blog": "https://example",
                "user_ip": next(ips),
                "user_agent": "Mozilla/5.0",
                "comment_type": "comment",
                "comment_author": "Sam",
                "comment_content": content,
            },
        )
        assert response.status_code == 200, response.data
        return response.get_data(as_text=True)

    train_brands, fresh_brands = BRANDS[:6], BRANDS[6:]
    train_cities, fresh_cities = CITIES[:6], CITIES[6:]
    reported = campaign(rng, train_brands, train_cities, 30)
    history, recent, fresh_ham = ORDINARY[:14], ORDINARY[14:20], ORDINARY[20:]
    # The sites' history: ordinary comments and the campaign, all answered ham so far.
    passed = 0
    for i, key in enumerate(keys):
        for comment in history:
            assert call("comment-check", key, comment) == "false"
        for comment in reported[i::2]:
            passed += call("comment-check", key, comment) == "false"
            assert call("submit-spam", key, comment) == "Thanks for making the web a better place."
    assert passed >= 20  # the campaign passes as ham before the retrain
    # Time passes: the history is older than the implicit-ham window; then recent ordinary comments arrive.
    with app.app_context():
        session = storage.get_session()
        session.execute(text("UPDATE checks SET created_at = datetime(created_at, '-5 days')"))
        session.commit()
    for key in keys:
        for comment in recent:
            assert call("comment-check", key, comment) == "false"

    monkeypatch.setenv("DATABASE_URL", db_url)
    # 58 feedback rows move the gate set's recall@1%FPR (33 ham per percent) by about a percent either
    # way, and the worst held-out corpus's by several (Instagram 0.266 → 0.218, its cut the 16th of 1,631
    # ham): the sites' implicit ham, ordinary praise of tips, pulls the Instagram testimonial scams down.
    # The default tolerance refuses such a model (an operator promotes it); this test is about what the
    # sites' feedback teaches, so it allows that (docs/measurements.md, "Campaign reported by two sites").
    monkeypatch.setenv("SPAMGUARD_PROMOTE_TOLERANCE", "0.1")
    result = CliRunner().invoke(
        model_cli, ["--model-dir", str(registry_dir), "train", "--quick", "--from-db"], obj={}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "  promoted" in result.output, result.output

    fresh_campaign = campaign(random.Random(12), fresh_brands, fresh_cities, 20)
    flagged = sum(call("comment-check", keys[0], c) == "true" for c in fresh_campaign)
    kept = sum(call("comment-check", k, c) == "false" for k in keys for c in fresh_ham + history)
    assert flagged >= 0.7 * len(fresh_campaign), (flagged, result.output)
    assert kept >= 0.95 * 2 * len(fresh_ham + history), (kept, result.output)

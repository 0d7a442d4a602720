"""Per-site adaptation through the real service: Akismet API, moderator decisions, real model, SQLite, Redis.

A technical blog whose long comments with code and links the global model flags teaches SpamGuard
otherwise with its own labels; fresh comments of the same kind are then answered ham on that blog,
its obvious spam stays spam, and nothing changes for any other site.
"""

from __future__ import annotations

import math
import random

import pytest
from technical import spam, technical

from spamguard import storage
from spamguard.checking import find_original, record_feedback
from spamguard.comment import Comment
from spamguard.services import services
from spamguard.storage.models import Site, SiteAdaptation

THANKS = "Thanks for making the web a better place."


class Blogs:
    """Sites on one app, and the calls they make (Akismet wire protocol)."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.keys: dict[str, str] = {}
        self.ids: dict[str, int] = {}

    def add(self, name: str) -> None:
        from spamguard import sites

        with self.app.app_context():
            site, key = sites.create_site(
                storage.get_session(), f"https://{name}.example", secret=self.app.config["SPAMGUARD_KEY_SECRET"]
            )
            self.keys[name], self.ids[name] = key, site.id

    def post(self, name: str, endpoint: str, comment: dict):
        return self.client.post(
            f"/1.1/{endpoint}", data=dict(comment, api_key=self.keys[name], blog=f"https://{name}.example")
        )

    def check(self, name: str, comment: dict) -> tuple[float, str, str, str]:
        """(score, verdict, Akismet body, reasons)."""
        response = self.post(name, "comment-check", comment)
        assert response.status_code == 200, response.data
        return (
            float(response.headers["X-Spamguard-Score"]),
            response.headers["X-Spamguard-Verdict"],
            response.get_data(as_text=True),
            response.headers.get("X-Spamguard-Reasons", ""),
        )

    def settle(self) -> None:
        """Wait for the background refits the labels queued (counted futures, no sleeping)."""
        services(self.app).checks.adapter.wait_idle()

    def report(self, name: str, label: str, comment: dict) -> None:
        assert self.post(name, f"submit-{label}", comment).get_data(as_text=True) == THANKS

    def moderate(self, name: str, label: str, comment: dict) -> None:
        """A moderator's decision on the site's checked comment, as the moderation queue records it."""
        with self.app.app_context():
            session = storage.get_session()
            site = session.get(Site, self.ids[name])
            parsed = Comment(**comment)
            check = find_original(session, site, parsed)
            assert check is not None
            record_feedback(session, site, parsed, label, source="moderator", reporter="alice", check=check)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _spam_answers(results) -> int:
    return sum(1 for r in results if r[2] == "true")


@pytest.fixture
def blogs(blog_app):
    def factory(*names, database_url=None, **settings):
        b = Blogs(blog_app(database_url, **settings))
        for name in names:
            b.add(name)
        return b

    return factory


def test_a_blog_teaches_its_own_technical_ham_and_nobody_elses(blogs):
    rng = random.Random(11)
    b = blogs("tech", "other")
    past = [technical(rng) for _ in range(40)]
    fresh = [technical(rng) for _ in range(60)]
    obvious = [spam(rng) for _ in range(30)]
    for comment in past + obvious[:10]:  # the blog's traffic so far
        b.check("tech", comment)

    before = [b.check("tech", c) for c in fresh]
    other_before = [b.check("other", c) for c in fresh + obvious[10:]]
    spam_before = [b.check("tech", c) for c in obvious[10:]]
    assert sum(v != "ham" for _s, v, _b, _r in before) >= 0.9 * len(fresh)  # the global model flags them
    # and answers a good share of them spam (26 of 60 with the behaviour features, which hold back on
    # links and code more than the model before them; 19 of 60 since the phone-number and follow-request
    # forms raised the `spam` threshold 0.754 -> 0.762): there is something to unlearn.
    assert _spam_answers(before) >= len(fresh) // 4

    # 20 submit-ham from the blog's WordPress, 10 ham decisions of its moderators, 5 confirmed spam.
    for comment in past[:20]:
        b.report("tech", "ham", comment)
    for comment in past[20:30]:
        b.moderate("tech", "ham", comment)
    for comment in obvious[:5]:
        b.moderate("tech", "spam", comment)
    b.settle()

    after = [b.check("tech", c) for c in fresh]
    kept = sum(1 for r in after if r[2] == "false")
    assert kept >= 0.9 * len(fresh), f"{kept}/{len(fresh)} fresh technical comments answered ham"
    assert sum(1 for r in after if r[1] == "ham") >= 0.75 * len(fresh)  # most not even queued for review
    assert all("this site's moderators marked similar comments as ham" in r[3] for r in after if r[1] == "ham")

    spam_after = [b.check("tech", c) for c in obvious[10:]]
    assert _spam_answers(spam_after) >= _spam_answers(spam_before) - 2, (spam_before, spam_after)
    assert all(v != "ham" for _s, v, _b, _r in spam_after)

    # Another site's verdicts on the very same comments: unchanged to the last digit.
    other_after = [b.check("other", c) for c in fresh + obvious[10:]]
    assert [(s, v) for s, v, _b, _r in other_after] == [(s, v) for s, v, _b, _r in other_before]
    assert not any("this site's moderators" in r[3] for r in other_after)


def test_without_adaptation_the_same_labels_do_not_get_there(blogs):
    """Control: with SPAMGUARD_SITE_ADAPTATION off, reputation alone keeps flagging the fresh comments."""
    rng = random.Random(11)
    b = blogs("tech", SPAMGUARD_SITE_ADAPTATION=False)
    past = [technical(rng) for _ in range(40)]
    fresh = [technical(rng) for _ in range(60)]
    for comment in past:
        b.check("tech", comment)
    for comment in past[:30]:
        b.report("tech", "ham", comment)
    b.settle()
    after = [b.check("tech", c) for c in fresh]
    assert sum(1 for r in after if r[1] == "ham") < 0.5 * len(fresh)
    with b.app.app_context():
        assert storage.get_session().get(SiteAdaptation, b.ids["tech"]) is None


def test_poisoning_moves_only_the_poisoners_own_verdicts_and_only_within_the_cap(blogs):
    rng = random.Random(12)
    cap = 1.5
    b = blogs("poisoner", "victim", SPAMGUARD_SITE_ADAPT_CAP=cap)
    reported = [spam(rng) for _ in range(40)]
    fresh = [spam(rng) for _ in range(40)]
    for comment in reported:
        b.check("poisoner", comment)
        b.check("victim", comment)
    victim_before = [b.check("victim", c) for c in fresh]
    for comment in reported:  # the poisoner says its spam is ham
        b.report("poisoner", "ham", comment)
    b.settle()

    poisoned = [b.check("poisoner", c) for c in fresh]
    victim_after = [b.check("victim", c) for c in fresh]
    assert [r[:2] for r in victim_after] == [r[:2] for r in victim_before]
    shifts = [_logit(p[0]) - _logit(v[0]) for p, v in zip(poisoned, victim_before, strict=True)]
    assert min(shifts) < -0.5  # it did move the poisoner's own scores ...
    assert min(shifts) >= -cap - 0.01  # ... never beyond the cap

    # Akismet's test triggers are decided before any score: no correction turns them.
    trigger = dict(fresh[0], comment_author="akismet-guaranteed-spam")
    assert b.check("poisoner", trigger)[1:3] == ("spam", "true")
    admin = dict(fresh[0], user_role="administrator")
    assert b.check("poisoner", admin)[1:3] == ("ham", "false")


def test_below_the_minimum_label_count_nothing_changes(blogs):
    rng = random.Random(13)
    b = blogs("tech")
    past = [technical(rng) for _ in range(9)]
    fresh = [technical(rng) for _ in range(10)]
    for comment in past:
        b.check("tech", comment)
    for comment in past:
        b.report("tech", "ham", comment)
    # Test calls never train: a tenth label sent with is_test does not reach the minimum.
    extra = technical(rng)
    b.check("tech", dict(extra, is_test="1"))
    b.report("tech", "ham", dict(extra, is_test="1"))
    b.settle()
    with b.app.app_context():
        assert storage.get_session().get(SiteAdaptation, b.ids["tech"]) is None
    for comment in fresh:
        assert "this site's moderators" not in b.check("tech", comment)[3]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_stale_correction_is_refitted_in_the_background(blogs, database, request):
    """After the refit interval (or a new global model) the next check queues one refit, off the request."""
    rng = random.Random(14)
    url = request.getfixturevalue("pg_url") if database == "postgresql" else None
    b = blogs("tech", database_url=url, SPAMGUARD_SITE_ADAPT_REFIT_SECONDS=0.0)
    past = [technical(rng) for _ in range(12)]
    for comment in past:
        b.check("tech", comment)
        b.report("tech", "ham", comment)
    b.settle()
    with b.app.app_context():
        first = storage.get_session().get(SiteAdaptation, b.ids["tech"]).fitted_at
    adapter = services(b.app).checks.adapter
    adapter.clear()
    b.check("tech", technical(rng))
    adapter.wait_idle()
    with b.app.app_context():
        row = storage.get_session().get(SiteAdaptation, b.ids["tech"])
        assert row.fitted_at > first
        assert row.n_ham == 12 and row.n_spam == 0


def _adaptation(b: Blogs, name: str) -> tuple[int, int, float, dict] | None:
    with b.app.app_context():
        row = storage.get_session().get(SiteAdaptation, b.ids[name], populate_existing=True)
        return None if row is None else (row.n_ham, row.n_spam, row.params["bias"], row.params["weights"])


def test_undoing_a_decision_refits_the_site_as_the_decision_did(blogs):
    """Decision (web UI) -> the site's correction learns it; Undo (web UI) -> back to the fit without it."""
    from moderation_helpers import UI

    rng = random.Random(15)
    b = blogs("tech")
    past = [technical(rng) for _ in range(12)]
    for comment in past:
        b.check("tech", comment)
    for comment in past[:10]:
        b.report("tech", "ham", comment)
    b.settle()
    earlier = _adaptation(b, "tech")
    assert earlier is not None and earlier[:2] == (10, 0)

    ui = UI(b.app)
    ui.add_user("undoer")
    moderator = b.app.test_client()
    assert ui.login(moderator, "undoer").status_code == 302
    with b.app.app_context():
        session = storage.get_session()
        check = find_original(session, session.get(Site, b.ids["tech"]), Comment(**past[10]))
        assert check is not None
        check_id = check.id
    token = ui.token(moderator)
    decided = moderator.post(
        f"/moderation/checks/{check_id}/decide",
        data={"label": "spam", "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert decided.status_code == 200
    b.settle()
    learned = _adaptation(b, "tech")
    assert learned is not None and learned[:2] == (10, 1) and learned[2] != earlier[2]

    undone = moderator.post(
        "/moderation/undo", data={"feedback_ids": decided.json["feedback_ids"], "csrf_token": token}
    )
    assert undone.status_code == 302
    b.settle()
    back = _adaptation(b, "tech")
    assert back is not None and back[:2] == earlier[:2]
    assert back[2] == pytest.approx(earlier[2], abs=1e-6)
    assert back[3] == pytest.approx(earlier[3], abs=1e-6)


def test_the_scored_row_cache_keeps_each_sites_working_set_not_every_row_ever_scored(blogs):
    """A refit reuses the rows its site's previous fit scored and drops the others (older than the
    site's newest labels, or scored by a model no longer served): counted cache entries, not RSS."""
    rng = random.Random(16)
    b = blogs("tech", SPAMGUARD_SITE_ADAPT_MAX_LABELS=10)
    adapter = services(b.app).checks.adapter
    for _ in range(40):  # one fit per label: each scores the newest report, older ones fall out
        comment = technical(rng)
        b.check("tech", comment)
        b.report("tech", "ham", comment)
        b.settle()
    feedback_rows = [key for key in adapter._rows if key[1] == "f"]
    assert 10 <= len(feedback_rows) <= 2 * 10  # the query's window (2 x max labels), not all 40
    assert len(adapter._rows) <= 2 * 10 + 40  # and the site's 40 checks (background rows)

    served = services(b.app).models.current()

    class NextVersion:  # a promoted model: same scores, another version
        version = served.version + "-next"

        def score(self, comment):
            return served.score(comment)

    with b.app.app_context():
        adapter.refit(storage.get_session(), b.ids["tech"], NextVersion())
    assert {key[0] for key in adapter._rows} == {NextVersion.version}  # the old model's rows are gone

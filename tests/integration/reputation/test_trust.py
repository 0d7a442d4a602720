"""The cross-site trust boundary, through the HTTP APIs with several keys (real Redis, real model).

Every key can send reports and any `user_ip`; none of that may steer another site's verdicts
unless several distinct sites agree (SPAMGUARD_REPUTATION_MIN_SITES, 3 by default).
"""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from spamguard import sites, storage
from spamguard.cli import cli
from spamguard.storage.models import Feedback, Site

EPSILON = 1e-3

# Scored `unsure` by the quick model; links, e-mail, author URL and IP are all reputation signals.
UNSURE = dict(
    comment_content="Nice post, I wrote something similar on my blog http://deals.example/post",
    comment_author="Sam",
    comment_author_email="sam@mail.example",
    comment_author_url="https://sam-author.example",
    user_ip="203.0.113.9",
)
# Link spam; whatever the model scores it, site A's own thresholds call it `spam` (see below).
SPAMMY = dict(
    comment_content="Hello, interesting read. My page: http://seo-hub.example",
    comment_author="Seo",
    comment_author_email="seo@hub-mail.example",
    comment_author_url="https://seo-author.example",
    user_ip="198.51.100.23",
)


class Sites:
    """Keys on one app, and the calls their sites make."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.keys: dict[str, str] = {}

    def add(self, name: str, **columns) -> str:
        with self.app.app_context():
            session = storage.get_session()
            site, key = sites.create_site(
                session, f"https://{name}.example", secret=self.app.config["SPAMGUARD_KEY_SECRET"]
            )
            for column, value in columns.items():
                setattr(site, column, value)
            session.commit()
        self.keys[name] = key
        return key

    def post(self, name: str, endpoint: str, comment: dict):
        data = dict(comment, api_key=self.keys[name], blog=f"https://{name}.example")
        return self.client.post(f"/1.1/{endpoint}", data=data)

    def check(self, name: str, comment: dict) -> tuple[float, str]:
        response = self.post(name, "comment-check", comment)
        assert response.status_code == 200, response.data
        return float(response.headers["X-Spamguard-Score"]), response.headers["X-Spamguard-Verdict"]

    def report(self, name: str, label: str, comment: dict) -> None:
        response = self.post(name, f"submit-{label}", comment)
        assert response.get_data(as_text=True) == "Thanks for making the web a better place."


def test_one_keys_spam_report_does_not_change_another_sites_verdict(app):
    s = Sites(app)
    s.add("a"), s.add("b")
    before = s.check("a", UNSURE)
    assert before[1] == "unsure"
    s.report("b", "spam", UNSURE)
    after = s.check("a", UNSURE)
    assert after[1] == before[1]
    assert abs(after[0] - before[0]) < EPSILON, (before, after)


def test_one_keys_ham_report_does_not_clear_another_sites_spam(app):
    s = Sites(app)
    s.add("probe")
    score = s.check("probe", SPAMMY)[0]
    # Site A calls it spam from just below its score, so any pull toward ham would flip A's answer.
    s.add("a", thresholds={"unsure": 0.0, "spam": max(score - 0.02, 0.0), "discard": 1.0}), s.add("b")
    before = s.check("a", SPAMMY)
    assert before[1] == "spam"
    s.report("b", "ham", SPAMMY)
    after = s.check("a", SPAMMY)
    assert after[1] == before[1]
    assert abs(after[0] - before[0]) < EPSILON, (before, after)


def test_reports_from_three_distinct_sites_move_the_signal(app):
    s = Sites(app)
    for name in "acde":
        s.add(name)
    before, _ = s.check("a", UNSURE)
    s.report("c", "spam", UNSURE)
    s.report("d", "spam", UNSURE)
    s.report("d", "spam", UNSURE)  # one site repeating itself is still one site
    two, _ = s.check("a", UNSURE)
    assert abs(two - before) < EPSILON
    s.report("e", "spam", UNSURE)
    three, verdict = s.check("a", UNSURE)
    assert three > before + 0.02 and verdict in ("spam", "discard")
    response = s.post("a", "comment-check", UNSURE)
    assert "reported as spam by 3 sites" in response.headers["X-Spamguard-Reasons"]


def test_a_sites_own_report_counts_for_itself(app):
    s = Sites(app)
    s.add("a"), s.add("b")
    before, _ = s.check("a", UNSURE)
    s.report("a", "spam", UNSURE)
    own, _ = s.check("a", UNSURE)
    assert own > before + 0.02
    other, _ = s.check("b", UNSURE)  # ...and for no one else
    assert abs(other - before) < EPSILON


def test_commenter_ip_bursts_are_counted_per_site(app):
    s = Sites(app)
    s.add("a"), s.add("b")
    quiet, _ = s.check("a", UNSURE)
    for _ in range(12):  # key B claims a flood from this commenter IP
        s.check("b", dict(UNSURE, comment_content="Thanks, this helped me a lot."))
    score, _ = s.check("a", UNSURE)
    reasons = s.post("a", "comment-check", UNSURE).headers["X-Spamguard-Reasons"]
    assert "comments from this IP" not in reasons
    assert abs(score - quiet) < EPSILON
    for _ in range(8):  # A's own burst still counts for A
        s.check("a", dict(UNSURE, comment_content="Thanks, this helped me a lot."))
    assert "comments from this IP in 1 min" in s.post("a", "comment-check", UNSURE).headers["X-Spamguard-Reasons"]


def _feedback_rows(app) -> int:
    with app.app_context():
        return storage.get_session().scalar(select(func.count(Feedback.id)))


def test_feedback_over_the_keys_rate_limit_is_refused(app):
    s = Sites(app)
    s.add("a", rate_limit="3/minute")
    s.check("a", UNSURE)  # checks and reports share the key's window
    s.report("a", "spam", UNSURE)
    s.report("a", "ham", UNSURE)
    refused = s.post("a", "submit-spam", UNSURE)
    assert refused.status_code == 429
    assert refused.get_data(as_text=True) == "Rate limit exceeded"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-akismet-debug-help"] and refused.headers["X-akismet-error"]
    assert s.post("a", "submit-ham", UNSURE).status_code == 429
    as_json = s.client.post(
        "/api/v1/feedback",
        json=dict(UNSURE, blog="https://a.example", label="spam"),
        headers={"Authorization": f"Bearer {s.keys['a']}"},
    )
    assert as_json.status_code == 429
    assert as_json.get_json()["error"]["code"] == "rate_limited" and as_json.headers["Retry-After"]
    assert _feedback_rows(app) == 2  # refused reports are not recorded
    # Another key is not affected.
    s.add("b")
    s.report("b", "spam", UNSURE)


def _configure(app, key: str, flag: str) -> None:
    env = {
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SPAMGUARD_REDIS_PREFIX": app.config["SPAMGUARD_REDIS_PREFIX"],
        "SPAMGUARD_KEY_SECRET": app.config["SPAMGUARD_KEY_SECRET"],
        "SPAMGUARD_REDIS_TIMEOUT": str(app.config["SPAMGUARD_REDIS_TIMEOUT"]),
    }
    result = CliRunner().invoke(cli, ["keys", "configure", key, flag], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("sharing=off" if flag == "--no-share" else "sharing=on") in result.output


def test_opted_out_site_neither_contributes_nor_reads(app):
    s = Sites(app)
    for name in "acdef":
        s.add(name)
    _configure(app, s.keys["a"], "--no-share")
    with app.app_context():
        assert (
            storage.get_session().scalar(select(Site.share_reputation).where(Site.url == "https://a.example")) is False
        )

    # Contributes nothing: A + two sharing sites are not three sharing sites.
    before_f, _ = s.check("f", UNSURE)
    for name in "acd":
        s.report(name, "spam", UNSURE)
    after_f, _ = s.check("f", UNSURE)
    assert abs(after_f - before_f) < EPSILON
    # ...but A's own report still counts for A.
    own_a, _ = s.check("a", UNSURE)

    # Reads nothing: a third sharing site moves F's verdict, not A's.
    s.report("e", "spam", UNSURE)
    shared_f, _ = s.check("f", UNSURE)
    assert shared_f > before_f + 0.02
    still_a, _ = s.check("a", UNSURE)
    assert abs(still_a - own_a) < EPSILON

    # Opting back in publishes A's earlier report and lets A read the others.
    s.report("e", "ham", UNSURE)  # E changes its mind: only C and D (shared) say spam now
    without_a, _ = s.check("f", UNSURE)
    assert abs(without_a - before_f) < EPSILON
    _configure(app, s.keys["a"], "--share")
    with_a, _ = s.check("f", UNSURE)
    assert with_a > before_f + 0.02


def test_opting_out_withdraws_reports_already_shared(app):
    s = Sites(app)
    for name in "acdf":
        s.add(name)
    before, _ = s.check("f", UNSURE)
    for name in "acd":
        s.report(name, "spam", UNSURE)
    assert s.check("f", UNSURE)[0] > before + 0.02
    _configure(app, s.keys["a"], "--no-share")  # A's report is rewritten as private at once
    assert abs(s.check("f", UNSURE)[0] - before) < EPSILON
    own, _ = s.check("a", UNSURE)
    assert own > before + 0.02  # still A's own signal

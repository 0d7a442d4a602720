from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from spamguard.backends import RedisState
from spamguard.comment import Comment
from spamguard.reputation.store import (
    SIGNAL_CAP,
    TOTAL_CAP,
    ReputationStore,
    adjust,
    link_domains,
    signals,
)

# A fixed clock, on an hour boundary, within the keys' 8-day TTL of the real clock.
T0 = (time.time() // 3600) * 3600
H = 3600.0
READER = 99  # a site that reported nothing itself: it sees only what several other sites agree on


def stat(rep, name: str) -> float:
    """One number of `rep.detail` by its flat name (`link_spam_sites_7d`, `ip_burst`); 0 when absent."""
    if name == "ip_burst":
        return rep.detail.get("burst", {}).get("count", 0)
    kind = next(k for k in ("author_domain", "email", "link", "ip") if name.startswith(k + "_"))
    return rep.detail.get(kind, {}).get(name[len(kind) + 1 :], 0.0)


def spam_comment(ip="203.0.113.7", **kw) -> Comment:
    fields = dict(
        blog="https://blog.example",
        user_ip=ip,
        comment_author_email="Bot@Spam.example",
        comment_content="Cheap pills at http://www.pills.example/buy and https://x.example/a.",
        comment_author_url="https://author.example/me",
    )
    fields.update(kw)
    return Comment(**fields)


def test_signals_and_link_extraction():
    c = spam_comment(comment_content="see https://blog.example/post, www.Pills.example/x and http://a.b.example.")
    assert link_domains(c) == ["pills.example", "a.b.example"]  # the blog's own domain is not a signal
    kinds = [k for k, _ in signals(c)]
    assert kinds == ["ip", "email", "author_domain", "link", "link"]


def test_unknown_comment_has_zero_features_and_no_adjustment(reputation):
    rep = reputation.lookup(spam_comment(), READER, now=T0)
    assert rep.known
    assert stat(rep, "link_spam_sites_7d") == 0
    assert adjust(-2.0, rep) == (-2.0, [])


def test_feedback_counts_distinct_sites_and_decays(reputation):
    c = spam_comment()
    for site_id in (1, 2, 3):
        assert reputation.record_feedback(c, "spam", site_id, now=T0)
    reputation.record_feedback(c, "spam", 3, now=T0)  # the same site again: still 3 sites
    rep = reputation.lookup(c, READER, now=T0)
    assert stat(rep, "link_spam_sites_24h") == pytest.approx(3.0)
    assert stat(rep, "ip_spam_sites_7d") == pytest.approx(3.0)

    # 12 h later: one 24-h half-life (12 h) and a quarter of the 7-d one (48 h).
    rep = reputation.lookup(c, READER, now=T0 + 12 * H)
    assert stat(rep, "link_spam_sites_24h") == pytest.approx(1.5)
    assert stat(rep, "link_spam_sites_7d") == pytest.approx(3 * 0.5**0.25)

    # 25 h later the 24-h window is empty, the 7-d window still remembers.
    rep = reputation.lookup(c, READER, now=T0 + 25 * H)
    assert stat(rep, "link_spam_sites_24h") == 0
    assert stat(rep, "link_spam_sites_7d") == pytest.approx(3 * 0.5 ** (25 / 48))

    # After 7 days: forgotten.
    rep = reputation.lookup(c, READER, now=T0 + 7 * 24 * H + 1)
    assert stat(rep, "link_spam_sites_7d") == 0
    assert adjust(0.0, rep) == (0.0, [])


def test_retracted_report_stops_counting_and_others_stay(reputation):
    c = spam_comment()
    for site_id in (1, 2):
        reputation.record_feedback(c, "spam", site_id, now=T0)
    assert reputation.retract_feedback(c, 2, now=T0 + 1)
    rep = reputation.lookup(c, 1, now=T0 + 1)  # site 1's own report still counts for site 1
    assert stat(rep, "link_spam_sites_24h") == pytest.approx(1.0, rel=1e-3)
    assert stat(rep, "link_ham_sites_24h") == 0


def test_seen_counts_decay_by_hour(reputation):
    c = spam_comment()
    for _ in range(4):
        reputation.record_check(c, READER, now=T0 + 10)
    rep = reputation.lookup(c, READER, now=T0 + 30 * 60)  # bucket midpoint: age 0
    assert stat(rep, "email_seen_24h") == pytest.approx(4.0)
    assert stat(rep, "email_sites_seen_24h") == pytest.approx(0.5 ** ((30 * 60 - 10) / (12 * H)))
    rep = reputation.lookup(c, READER, now=T0 + 30 * 60 + 12 * H)
    assert stat(rep, "email_seen_24h") == pytest.approx(2.0)


def test_adjust_is_bounded_and_explained(reputation):
    c = spam_comment()
    for site_id in range(1, 4):
        reputation.record_feedback(c, "spam", site_id, now=T0)
    rep = reputation.lookup(c, READER, now=T0 + 60)
    logit, reasons = adjust(-1.0, rep)
    assert -1.0 < logit <= -1.0 + TOTAL_CAP
    assert "link domain pills.example reported as spam by 3 sites in 24 h" in reasons
    assert any(r.startswith("IP reported as spam by 3 sites") for r in reasons)

    # Hundreds of reporters cannot move the verdict more than the caps allow.
    for site_id in range(4, 400):
        reputation.record_feedback(c, "spam", site_id, now=T0)
    logit, _ = adjust(-1.0, reputation.lookup(c, READER, now=T0 + 60))
    assert logit == pytest.approx(-1.0 + TOTAL_CAP)

    # Ham reports pull the other way; a site's latest label wins.
    ham = spam_comment(
        ip="198.51.100.1",
        comment_author_email="fan@ok.example",
        comment_author_url="",
        comment_content="great video https://youtube.example/watch",
    )
    reputation.record_feedback(ham, "spam", 1, now=T0)
    for site_id in (1, 2, 3):
        reputation.record_feedback(ham, "ham", site_id, now=T0 + 1)
    logit, reasons = adjust(0.0, reputation.lookup(ham, READER, now=T0 + 60))
    assert -3 * SIGNAL_CAP <= logit < 0
    assert "link domain youtube.example reported as ham by 3 sites in 24 h" in reasons


def test_ip_burst_is_a_signal_with_reason(reputation):
    c = spam_comment(ip="192.0.2.50")
    for i in range(11):
        reputation.record_check(c, READER, now=T0 + i)
    rep = reputation.lookup(c, READER, now=T0 + 20)
    assert stat(rep, "ip_burst") == 12  # 11 seen + this one
    logit, reasons = adjust(0.0, rep)
    assert logit > 0 and "12 comments from this IP in 1 min" in reasons
    # Outside the 1-minute window the burst is over.
    rep = reputation.lookup(c, READER, now=T0 + 200)
    assert stat(rep, "ip_burst") == 1
    assert adjust(0.0, rep) == (0.0, [])


def test_redis_down_means_unknown_and_fast(prefix):
    """Fast by construction, counted: one connection attempt (50 ms timeout), then the breaker answers."""
    dead = RedisState("redis://127.0.0.1:1/0", prefix, timeout=0.05, clock=lambda: T0)  # the breaker stays open
    attempts = []
    get_connection = dead.client.connection_pool.get_connection
    dead.client.connection_pool.get_connection = lambda *a, **k: attempts.append(a) or get_connection(*a, **k)
    store = ReputationStore(dead)
    rep = store.lookup(spam_comment(), READER, now=T0)
    assert not rep.known and adjust(1.0, rep) == (1.0, [])
    assert len(attempts) == 1 and dead.timeout == 0.05
    assert store.record_feedback(spam_comment(), "spam", 1) is False
    # The breaker is open now: further calls do not even try.
    for _ in range(100):
        store.lookup(spam_comment(), READER)
    assert len(attempts) == 1


def test_catch_up_replays_unsynced_feedback(reputation, make_site, session):
    from spamguard.storage.models import Feedback

    sites = [make_site(url=f"https://s{i}.example") for i in range(3)]
    c = spam_comment()
    now = time.time()
    for site in sites:
        session.add(
            Feedback(
                site_id=site.id,
                label="spam",
                source="api",
                fields=c.to_json(),
                created_at=datetime.fromtimestamp(now - 60, UTC),
            )
        )
    session.add(
        Feedback(
            site_id=sites[0].id, label="spam", source="api", is_test=True, fields=spam_comment(ip="10.9.9.9").to_json()
        )
    )
    session.commit()

    real_client = reputation.state.client
    reputation.state.client = RedisState("redis://127.0.0.1:1/0", "x:", 0.05).client
    assert reputation.catch_up(session) == 0  # Redis down: nothing marked
    reputation.state.client = real_client
    reputation.state.reset_breaker()

    assert reputation.catch_up(session, now=now) == 4
    unsynced = session.scalars(select(Feedback).where(Feedback.redis_synced.is_(False))).all()
    assert unsynced == []
    rep = reputation.lookup(c, READER, now=now)
    assert stat(rep, "ip_spam_sites_24h") == pytest.approx(3.0, rel=0.01)
    assert stat(reputation.lookup(spam_comment(ip="10.9.9.9"), READER, now=now), "ip_spam_sites_24h") == 0


def _entries_of(reputation, kind: str, value: str) -> list[str]:
    from spamguard.reputation.store import _digest

    return (reputation.state.client.get(reputation.state.key("rep", kind, _digest(value))) or "").split()


def test_one_string_per_signal_stays_bounded_under_hostile_input(reputation):
    from spamguard.reputation.store import CAPS

    c = spam_comment()
    # The `blog` parameter is free text: 300 made-up blogs keep only the latest CAPS["b"].
    for i in range(300):
        reputation.record_check(spam_comment(blog=f"https://b{i}.example"), READER, now=T0 + i)
    blogs = [e for e in _entries_of(reputation, "email", "bot@spam.example") if e.startswith("b:")]
    assert len(blogs) == CAPS["b"]
    # 300 reporting sites keep the latest CAPS["r"] reports; a site's one mark replaces its others.
    for site_id in range(300):
        reputation.record_feedback(c, "spam", site_id, now=T0 + site_id)
    reputation.record_feedback(c, "ham", 299, now=T0 + 300)
    reports = [e for e in _entries_of(reputation, "ip", "203.0.113.7") if e.split(":")[0] in ("s", "h")]
    assert len(reports) == CAPS["r"] and f"h:299={T0 + 300!r}" in reports and not any("s:299=" in e for e in reports)
    assert not any(e.startswith("s:0=") for e in reports)  # the oldest went first
    # Hours, blogs and reports older than the 7-day window go on the next write.
    reputation.record_check(c, READER, now=T0 + 8 * 24 * H)
    assert sorted(e.split("=")[0].split(":")[0] for e in _entries_of(reputation, "email", "bot@spam.example")) == [
        "b",
        "c",
    ]
    # Burst slots older than the burst window go too (IP strings only hold this site's live slots).
    ip = [e for e in _entries_of(reputation, "ip", "203.0.113.7") if e.startswith("u:")]
    assert ip == [f"u:{READER}:{int((T0 + 8 * 24 * H) // 6)}=1"]


def test_replayed_older_report_keeps_the_later_time(reputation):
    c = spam_comment()
    assert reputation.record_feedback(c, "spam", 1, now=T0 + 60)
    assert reputation.record_feedback(c, "spam", 1, now=T0)  # catch_up replaying an older row
    assert f"s:1={T0 + 60!r}" in _entries_of(reputation, "ip", "203.0.113.7")
    assert reputation.retract_feedback(c, 1, now=T0 + 61)
    assert _entries_of(reputation, "ip", "203.0.113.7") == []  # nothing left: the key is gone

"""Cross-site reputation of commenter IPs, e-mails, author-URL domains and link domains.

Counters live in Redis, one hash per (signal, value, UTC day) with an 8-day TTL:
  c:<hour>   comments seen in that hour           (from checks of sharing sites)
  b:<blog>   last time seen on that blog           (distinct sites, from checks)
  s:<site>   last spam report from that site       (from feedback of a sharing site)
  h:<site>   last ham report from that site        (from feedback of a sharing site)
  ps:<site>, ph:<site>  the same from a site that opted out of sharing (read by it alone)
Reports are stored per reporting site, so one site repeating itself counts
once, and writing the same report twice changes nothing: replaying feedback
after a Redis outage (`catch_up`) is idempotent.

Trust boundary: every API key can write reports, so no single key may move
another site's verdict.  A site's own reports count for its own checks; other
sites' reports of one label count only once at least `min_sites` distinct
other sites made them in the window.  A site that opted out of sharing
(`Site.share_reputation`) neither writes shared reports nor reads other
sites' ones.  Commenter-IP bursts are counted per site: any key can send any
`user_ip`.

Every read sums the buckets with exponential decay (24 h window, 12 h half-life;
7 d window, 2 d half-life).  Every function takes `now` so tests drive the clock.
Values are stored hashed: no raw IPs or e-mails in Redis key names.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC

from limits import parse as parse_limit

from spamguard.backends import RedisState
from spamguard.comment import Comment
from spamguard.scoring.features import analyse, url_domain

log = logging.getLogger("spamguard.reputation")

DAY, HOUR = 86400, 3600
DAYS_KEPT = 8
WINDOWS = {"24h": (DAY, 12 * HOUR), "7d": (7 * DAY, 2 * DAY)}  # name: (window, half-life)
KINDS = ("ip", "email", "author_domain", "link")
MAX_LINK_DOMAINS = 5
# Log-odds weight per signal: how far one unit of Beta-smoothed evidence moves the verdict.
WEIGHTS = {"ip": 0.6, "email": 0.8, "author_domain": 0.8, "link": 1.0}
SIGNAL_CAP = 2.0  # most any one signal may move the log-odds
TOTAL_CAP = 4.0  # most reputation as a whole may move it
PRIOR = 1.0  # Beta(1, 1) pseudo-counts: no reports -> exactly zero adjustment
LABELS = {"ip": "IP", "email": "author e-mail", "author_domain": "author URL domain", "link": "link domain"}

_HOST_RE = re.compile(r"^[a-z0-9.-]+$")


@dataclass
class Reputation:
    known: bool = False
    # Per signal kind, the decayed and undecayed counts and the value (for reasons): {kind: {...}};
    # "burst": this IP's comments on this site in the burst window, this one included.
    detail: dict[str, dict] = field(default_factory=dict)


def domain_of(url: str) -> str:
    """A URL's host (``www.`` stripped) when it is a plausible domain name, else ''."""
    host = url_domain(url or "")
    return host if "." in host and _HOST_RE.match(host) else ""


def link_domains(comment: Comment) -> list[str]:
    """Domains linked from the content (author URL is its own signal), minus the blog itself."""
    own = domain_of(comment.blog)
    seen: list[str] = []
    for match in analyse(comment).urls:  # found once per comment, shared with the model's features
        host = domain_of(match.rstrip(".,;:!?"))
        if host and host != own and host not in seen:
            seen.append(host)
        if len(seen) >= MAX_LINK_DOMAINS:
            break
    return seen


def signals(comment: Comment) -> list[tuple[str, str]]:
    """(kind, value) pairs this comment contributes to / is judged by."""
    out: list[tuple[str, str]] = []
    if comment.user_ip.strip():
        out.append(("ip", comment.user_ip.strip().lower()))
    email = comment.comment_author_email.strip().lower()
    if "@" in email:
        out.append(("email", email))
    author = domain_of(comment.comment_author_url)
    if author:
        out.append(("author_domain", author))
    out += [("link", d) for d in link_domains(comment)]
    return out


def _digest(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8", "replace")).hexdigest()[:20]


def _weight(age: float, window: float, half_life: float) -> float:
    if age > window:
        return 0.0
    return 0.5 ** (max(age, 0.0) / half_life)


class ReputationStore:
    def __init__(self, state: RedisState, commenter_ip_limit: str = "5/minute", min_sites: int = 3) -> None:
        self.state = state
        self.min_sites = max(1, int(min_sites))
        item = parse_limit(commenter_ip_limit)
        self.burst_amount = item.amount
        self.burst_window = item.get_expiry()
        self.burst_label = _window_label(self.burst_window)

    # --- keys ------------------------------------------------------------------------

    def _day_key(self, kind: str, value: str, day: int) -> str:
        return self.state.key("rep", kind, _digest(value), day)

    def _burst_key(self, site_id: int, ip: str) -> str:
        return self.state.key("rep", "burst", site_id, _digest(ip))

    # --- writes ----------------------------------------------------------------------

    def record_check(self, comment: Comment, site_id: int, *, shared: bool = True, now: float | None = None) -> bool:
        """Count a checked comment (skipped for `is_test`). False when Redis is down.

        The IP burst counts per site; a site that does not share adds nothing to the shared counts.
        (The comment-check path does the same writes inside the check gate's script.)
        """
        if comment.is_test:
            return True
        now = time.time() if now is None else now
        plan = self.write_plan(comment, site_id, shared, now)

        def run(r):
            pipe = r.pipeline(transaction=False)
            for key in plan["signal_keys"]:
                pipe.hincrby(key, plan["hour_field"], 1)
                pipe.hset(key, plan["blog_field"], repr(now))
                pipe.expire(key, plan["ttl"])
            if plan["burst_key"]:
                pipe.zadd(plan["burst_key"], {plan["burst_member"]: now})
                pipe.zremrangebyscore(plan["burst_key"], "-inf", now - self.burst_window)
                pipe.expire(plan["burst_key"], int(self.burst_window) + 60)
            pipe.execute()
            return True

        return self.state.call("reputation.record_check", run, False)

    def record_feedback(
        self, comment: Comment, label: str, site_id: int, *, shared: bool = True, now: float | None = None
    ) -> bool:
        """Record a spam/ham report from `site_id`; the site's latest label per value wins.

        `shared=False` (the site opted out) stores it for the site's own checks only.
        Idempotent: the same report written twice leaves the same state.
        Returns False when Redis is down (the caller leaves `redis_synced` False).
        """
        if label not in ("spam", "ham"):
            raise ValueError(f"label must be spam or ham, not {label!r}")
        return self._set_report(comment, site_id, ("" if shared else "p") + label[0], now)

    def retract_feedback(self, comment: Comment, site_id: int, now: float | None = None) -> bool:
        """Forget `site_id`'s report on this comment's signals (a moderator's undo)."""
        return self._set_report(comment, site_id, None, now)

    def _set_report(self, comment: Comment, site_id: int, mark: str | None, now: float | None) -> bool:
        now = time.time() if now is None else now
        day = int(now // DAY)

        def run(r):
            pipe = r.pipeline(transaction=False)
            for kind, value in signals(comment):
                for d in range(day - DAYS_KEPT + 1, day + 1):
                    pipe.hdel(self._day_key(kind, value, d), *(f"{m}:{site_id}" for m in MARKS if m != mark))
                if mark is not None:
                    key = self._day_key(kind, value, day)
                    pipe.hset(key, f"{mark}:{site_id}", repr(now))
                    pipe.expire(key, DAYS_KEPT * DAY)
            pipe.execute()
            return True

        return self.state.call("reputation.record_feedback", run, False)

    # --- reads -----------------------------------------------------------------------

    def read_keys(self, comment: Comment, site_id: int, now: float) -> tuple[list[str], str | None]:
        """The hashes a lookup reads (signal × day, in `signals` order) and the IP burst key (None without IP)."""
        day = int(now // DAY)
        keys = [
            self._day_key(kind, value, d)
            for kind, value in signals(comment)
            for d in range(day - DAYS_KEPT + 1, day + 1)
        ]
        ip = comment.user_ip.strip().lower()
        return keys, (self._burst_key(site_id, ip) if ip else None)

    def lookup(self, comment: Comment, site_id: int, *, shared: bool = True, now: float | None = None) -> Reputation:
        """Decayed reputation of the comment as `site_id` may see it; `known=False` when Redis is down."""
        now = time.time() if now is None else now
        keys, burst_key = self.read_keys(comment, site_id, now)

        def run(r):
            pipe = r.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            if burst_key:
                pipe.zcount(burst_key, now - self.burst_window, now)
            return pipe.execute()

        raw = self.state.call("reputation.lookup", run, None)
        if raw is None:
            return Reputation()
        return self.summarise(comment, site_id, shared, raw[: len(keys)], int(raw[-1]) if burst_key else None, now)

    def summarise(
        self, comment: Comment, site_id: int, shared: bool, hashes: list[dict], burst: int | None, now: float
    ) -> Reputation:
        """What `lookup` makes of the hashes it read (also used by the check gate's one round trip);
        the trust rules are applied here, to what was read."""
        rep = Reputation(known=True)
        per_kind: dict[str, list[dict]] = {}
        view = _View(site_id, shared, self.min_sites)
        for i, (kind, value) in enumerate(signals(comment)):
            chunk = hashes[i * DAYS_KEPT : (i + 1) * DAYS_KEPT]
            per_kind.setdefault(kind, []).append(_summarise(value, chunk, now, view))
        for kind, stats_list in per_kind.items():
            # Several link domains: judge by the most reported one.
            rep.detail[kind] = max(stats_list, key=lambda s: (s["spam_sites_7d"] - s["ham_sites_7d"], s["seen_24h"]))
        if burst is not None:
            count = burst + 1  # this comment included
            rep.detail["burst"] = {"count": count, "limit": self.burst_amount, "window": self.burst_label}
        return rep

    def write_plan(self, comment: Comment, site_id: int, shared: bool, now: float) -> dict:
        """What `record_check` writes, as data the check gate's script applies after its reads."""
        hour, day = int(now // HOUR), int(now // DAY)
        ip = comment.user_ip.strip().lower()
        return {
            "signal_keys": [self._day_key(kind, value, day) for kind, value in signals(comment)] if shared else [],
            "hour_field": f"c:{hour}",
            "blog_field": "b:" + _digest(domain_of(comment.blog) or comment.blog),
            "ttl": DAYS_KEPT * DAY,
            "burst_key": self._burst_key(site_id, ip) if ip else None,
            "burst_member": f"{now!r}:{uuid.uuid4().hex[:8]}",
            "burst_window": self.burst_window,
        }

    # --- verdict adjustment -----------------------------------------------------------

    def adjust(self, logit: float, rep: Reputation) -> tuple[float, list[str]]:
        return adjust(logit, rep)

    # --- replay after outages and sharing changes --------------------------------------

    def replay_site(self, session, site_id: int, now: float | None = None) -> int:
        """After a site's sharing setting changed: rewrite its reports still in the window.

        Its rows are marked unsynced and replayed (here, or by the next background
        catch-up if Redis is down), so each report moves to the shared or private mark.
        Returns the number of rows marked.
        """
        from datetime import datetime

        from sqlalchemy import update

        from spamguard.storage.models import Feedback

        now = time.time() if now is None else now
        since = datetime.fromtimestamp(now - DAYS_KEPT * DAY, UTC)
        marked = session.execute(
            update(Feedback)
            .where(
                Feedback.site_id == site_id,
                Feedback.created_at >= since,
                Feedback.is_test.is_(False),
                Feedback.undone_at.is_(None),
            )
            .values(redis_synced=False)
        ).rowcount
        session.commit()
        while self.catch_up(session, now=now):
            pass
        return marked

    def catch_up(self, session, batch: int = 500, now: float | None = None) -> int:
        """Replay Feedback rows with `redis_synced=False` into Redis, marking them synced.

        Stops at the first Redis failure (rows stay unsynced for the next run).
        Test, undone and older-than-window rows are marked synced without writing.
        Returns the number of rows marked.
        """
        from sqlalchemy import select

        from spamguard.storage.models import Feedback, Site

        if not self.state.available:
            return 0
        now = time.time() if now is None else now
        rows = session.execute(
            select(Feedback, Site.share_reputation)
            .join(Site, Site.id == Feedback.site_id)
            .where(Feedback.redis_synced.is_(False))
            .order_by(Feedback.id)
            .limit(batch)
        ).all()
        done = 0
        for row, shared in rows:
            created = row.created_at.timestamp() if row.created_at else now
            if not (row.is_test or row.undone_at is not None or now - created > DAYS_KEPT * DAY):
                comment = Comment.from_json(row.fields or {})
                if not self.record_feedback(comment, row.label, row.site_id, shared=shared, now=created):
                    break
            row.redis_synced = True
            done += 1
        if done:
            session.commit()
            log.info("feedback replayed into redis", extra={"event": "reputation_catch_up", "rows": done})
        return done


MARKS = ("s", "h", "ps", "ph")  # report marks: shared spam/ham, private (opted-out site) spam/ham


@dataclass(frozen=True)
class _View:
    """Who is reading: their own reports always count, others' only when shared by enough sites."""

    site_id: int
    shared: bool
    min_sites: int


def _summarise(value: str, hashes: list[dict], now: float, view: _View) -> dict:
    stats: dict = {"value": value}
    own = str(view.site_id)
    latest: dict[str, dict[str, float]] = {"s": {}, "h": {}, "b": {}}
    hourly: dict[str, dict[int, int]] = {"c": {}}
    for h in hashes:
        for fname, raw in h.items():
            prefix, _, ident = fname.partition(":")
            if prefix in ("ps", "ph"):  # an opted-out site's report: visible to that site only
                if ident != own:
                    continue
                prefix = prefix[1]
            elif not view.shared and (ident != own or prefix not in ("s", "h")):
                continue  # an opted-out reader sees nothing from other sites
            if prefix in latest:
                ts = float(raw)
                if ts > latest[prefix].get(ident, -1.0):
                    latest[prefix][ident] = ts
            elif prefix in hourly:
                hourly[prefix][int(ident)] = hourly[prefix].get(int(ident), 0) + int(raw)
    for win, (window, half_life) in WINDOWS.items():

        def hours(src, window=window, half_life=half_life):
            return sum(n * _weight(now - (hr * HOUR + HOUR / 2), window, half_life) for hr, n in src.items())

        def sites(src, window=window, half_life=half_life):
            return sum(_weight(now - ts, window, half_life) for ts in src.values())

        def trusted(src, window=window):
            """This site's report, plus other sites' reports once `min_sites` of them are in the window."""
            others = {s: ts for s, ts in src.items() if s != own and 0 <= now - ts <= window}
            kept = {s: ts for s, ts in src.items() if s == own}
            if len(others) >= view.min_sites:
                kept.update(others)
            return kept

        spam, ham = trusted(latest["s"]), trusted(latest["h"])
        stats[f"seen_{win}"] = hours(hourly["c"])
        stats[f"sites_seen_{win}"] = sites(latest["b"])
        stats[f"spam_sites_{win}"] = sites(spam)
        stats[f"ham_sites_{win}"] = sites(ham)
        # Undecayed distinct-site counts, for reasons people can read.
        stats[f"spam_n_{win}"] = sum(1 for ts in spam.values() if 0 <= now - ts <= window)
        stats[f"ham_n_{win}"] = sum(1 for ts in ham.values() if 0 <= now - ts <= window)
    return stats


def adjust(logit: float, rep: Reputation) -> tuple[float, list[str]]:
    """Shift a model log-odds by bounded reputation evidence; returns (logit, reasons).

    Per signal the evidence is the log of the Beta(1,1)-smoothed odds of spam vs
    ham reports from distinct sites, decayed over 7 days: log((s+1)/(h+1)).  It is
    zero with no reports, grows only logarithmically with more reporters, is
    weighted per signal and clipped to ±SIGNAL_CAP; the total is clipped to
    ±TOTAL_CAP so reputation alone never overrides overwhelming content evidence.
    A commenter-IP burst over SPAMGUARD_RATE_LIMIT_COMMENTER_IP adds up to +1.5.
    """
    if not rep.known:
        return logit, []
    parts: list[tuple[float, str]] = []
    for kind in KINDS:
        d = rep.detail.get(kind)
        if not d:
            continue
        s, h = d["spam_sites_7d"], d["ham_sites_7d"]
        if s == 0 and h == 0:
            continue
        delta = max(-SIGNAL_CAP, min(SIGNAL_CAP, WEIGHTS[kind] * math.log((s + PRIOR) / (h + PRIOR))))
        if abs(delta) < 0.05:
            continue
        label = LABELS[kind] + (f" {d['value']}" if kind in ("link", "author_domain") else "")
        which = "spam" if delta > 0 else "ham"
        n24, n7 = d[f"{which}_n_24h"], d[f"{which}_n_7d"]
        n, win = (n24, "24 h") if n24 else (n7, "7 d")
        parts.append((delta, f"{label} reported as {which} by {n} site{'s' if n != 1 else ''} in {win}"))
    burst = rep.detail.get("burst")
    if burst and burst["count"] > burst["limit"]:
        delta = min(1.5, 0.5 + 0.5 * math.log(burst["count"] / burst["limit"]))
        parts.append((delta, f"{burst['count']} comments from this IP in {burst['window']}"))
    total = max(-TOTAL_CAP, min(TOTAL_CAP, sum(p[0] for p in parts)))
    reasons = [text for _, text in sorted(parts, key=lambda p: -abs(p[0]))]
    return logit + total, reasons


def _window_label(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"

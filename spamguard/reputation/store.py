"""Cross-site reputation of commenter IPs, e-mails, author-URL domains and link domains.

State lives in Redis, one string per (signal, value) with an 8-day TTL that
every write refreshes (`SET … EX`), so a comment-check reads all its signals
with one MGET and writes each with one SET.  The string is a space-separated
list of `name=value` entries:
  c:<hour>         comments seen in that hour        (from checks of sharing sites)
  b:<blog>         last time seen on that blog         (distinct sites, from checks)
  s:<site>         last spam report from that site     (from feedback of a sharing site)
  h:<site>         last ham report from that site      (from feedback of a sharing site)
  ps:<site>, ph:<site>  the same from a site that opted out of sharing (read by it alone)
  u:<site>:<slot>  checks from that site in that tenth of the commenter-IP burst window (IP strings only)
Only Lua scripts modify a string (read, change, prune, write back, atomically):
entries older than the 7-day window (the burst window for `u:`) are dropped on
every write, and each class of entry is capped by count (oldest dropped first),
so memory per key stays bounded whatever the input.
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

import functools
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from limits import parse as parse_limit

from spamguard.backends import RedisState
from spamguard.comment import Comment
from spamguard.scoring.features import analyse, url_domain

log = logging.getLogger("spamguard.reputation")

DAY, HOUR = 86400, 3600
DAYS_KEPT = 8  # key TTL, refreshed on every write; feedback older than this is not replayed
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

# Most entries of each class one string keeps (oldest dropped first): hours of the 7-day window,
# blogs seen (the `blog` parameter is free text), reporting sites, burst slots (site × slot).
CAPS = {"c": 7 * 24 + 2, "b": 100, "r": 200, "u": 100}
BURST_SLOTS = 10  # the commenter-IP burst window is counted in tenths
MAX_ENTRIES = sum(CAPS.values())

# Shared by the scripts below and the check gate's script (`spamguard.gate`).
# rep_load: a string (or false: no key) -> {name = value}.  rep_save(key, entries, now, keep, slot,
# window, ttl): drop entries older than `keep` seconds (`u:` slots ending `window` seconds or more
# ago), cap each class, and SET the rest with a fresh TTL (DEL when nothing is left).
# rep_count(entries, ...): one checked comment.  rep_write(keys, base, blobs, modes, ARGV-like args):
# per key i (KEYS[base + i], read as blobs[i]) mode '0' = nothing, '1' = count, '2' = count and
# burst, '3' = burst only (an opted-out site's IP).
REP_LUA = """
local REP_CAPS = {CAPS}
local REP_CLASS = {c = 'c', b = 'b', u = 'u', s = 'r', h = 'r', ps = 'r', ph = 'r'}
local function rep_load(blob)
  local e = {}
  if blob then
    for name, value in string.gmatch(blob, '([^ =]+)=([^ ]+)') do e[name] = value end
  end
  return e
end
local function rep_save(key, e, now, keep, slot, window, ttl)
  local groups = {c = {}, b = {}, r = {}, u = {}}
  for name, value in pairs(e) do
    local class = REP_CLASS[string.match(name, '^(%a+):') or '']
    local t, kept = nil, false
    if class == 'c' then
      t = tonumber(string.sub(name, 3))
      if t then t = t * 3600 + 1800 end
    elseif class == 'u' then
      t = tonumber(string.match(name, ':(%d+)$'))
      if t then t = (t + 1) * slot; kept = now - t < window end
    elseif class then
      t = tonumber(value)
    end
    if t and class ~= 'u' then kept = now - t <= keep end
    if kept then
      local list = groups[class]
      list[#list + 1] = {t, name, value}
    end
  end
  local parts = {}
  for class, list in pairs(groups) do
    if #list > REP_CAPS[class] then
      table.sort(list, function(x, y) return x[1] > y[1] or (x[1] == y[1] and x[2] < y[2]) end)
    end
    for i = 1, math.min(#list, REP_CAPS[class]) do parts[#parts + 1] = list[i][2] .. '=' .. list[i][3] end
  end
  if #parts == 0 then
    redis.call('DEL', key)
  else
    redis.call('SET', key, table.concat(parts, ' '), 'EX', ttl)
  end
end
local function rep_add(e, name, n)
  e[name] = tostring((tonumber(e[name]) or 0) + n)
end
local function rep_write(keys, base, blobs, modes, now_s, hour, blog, burst, keep, slot, window, ttl)
  local now = tonumber(now_s)
  for i = 1, #modes do
    local mode = string.sub(modes, i, i)
    if mode ~= '0' then
      local e = rep_load(blobs[i])
      if mode == '1' or mode == '2' then
        rep_add(e, hour, 1)
        e[blog] = now_s
      end
      if mode == '2' or mode == '3' then rep_add(e, burst, 1) end
      rep_save(keys[base + i], e, now, tonumber(keep), tonumber(slot), tonumber(window), ttl)
    end
  end
end
""".replace("{CAPS}", "{" + ", ".join(f"{k} = {v}" for k, v in CAPS.items()) + "}")

# KEYS: the signal strings; ARGV: as `ReputationStore.write_args` (now, hour, blog, burst, modes, keep,
# slot, window, ttl).
_RECORD_SCRIPT = (
    REP_LUA
    + """
local blobs = redis.call('MGET', unpack(KEYS))
rep_write(KEYS, 0, blobs, ARGV[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
return 1
"""
)

# KEYS: the signal strings; ARGV: site, mark ('' = retract), now, keep, slot, window, ttl.
# The site's other marks go; the same mark keeps the later of the two times (replays are idempotent).
_REPORT_SCRIPT = (
    REP_LUA
    + """
local blobs = redis.call('MGET', unpack(KEYS))
local site, mark, now_s = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(now_s)
for i = 1, #KEYS do
  local e = rep_load(blobs[i])
  local old = mark ~= '' and e[mark .. ':' .. site]
  for _, m in ipairs({'s', 'h', 'ps', 'ph'}) do e[m .. ':' .. site] = nil end
  if mark ~= '' then
    e[mark .. ':' .. site] = (old and (tonumber(old) or 0) > now) and old or now_s
  end
  rep_save(KEYS[i], e, now, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7])
end
return 1
"""
)


@dataclass
class Reputation:
    known: bool = False
    # Per signal kind, the decayed and undecayed counts and the value (for reasons): {kind: {...}};
    # "burst": this IP's comments on this site in the burst window, this one included.
    detail: dict[str, dict] = field(default_factory=dict)


# Values up to this long have their domain and digest remembered (`_memo`): the blog, author URLs and
# link domains of a campaign, IPs and e-mails recur from check to check.  Longer ones (any client can
# send a megabyte as `user_ip`) are computed every time, so the memos stay small.
MEMO_MAX_LEN = 256


def _memo(fn: Callable[[str], str]) -> Callable[[str], str]:
    """`fn` of a string, remembered for short strings (a pure function: the answer is the same)."""
    cached = functools.lru_cache(maxsize=4096)(fn)

    @functools.wraps(fn)
    def memoised(value: str) -> str:
        return cached(value) if value is not None and len(value) <= MEMO_MAX_LEN else fn(value)

    return memoised


@_memo
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


def signals(comment: Comment) -> tuple[tuple[str, str], ...]:
    """(kind, value) pairs this comment contributes to / is judged by.

    Memoised on the instance while the fields it reads are unchanged: a comment-check asks three
    times (the gate's keys and write arguments, then the summary of what it read)."""
    inputs = (comment.user_ip, comment.comment_author_email, comment.comment_author_url, comment.blog)
    cached = vars(comment).get("_signals")
    analysis = analyse(comment)
    if cached is not None and cached[0] == inputs and cached[1] is analysis:
        return cached[2]
    result = _signals(comment)
    vars(comment)["_signals"] = (inputs, analysis, result)  # not a dataclass field, like `analyse`'s memo
    return result


def _signals(comment: Comment) -> tuple[tuple[str, str], ...]:
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
    return tuple(out)


@_memo
def _digest(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8", "replace")).hexdigest()[:20]


@_memo
def _blog_mark(blog: str) -> str:
    """The `b:` entry name of a blog: its domain's digest (the blog text's when it has no domain)."""
    return "b:" + _digest(domain_of(blog) or blog)


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
        self.burst_window = float(item.get_expiry())
        self.burst_slot = self.burst_window / BURST_SLOTS
        self.burst_label = _window_label(self.burst_window)
        # keep, slot, window, ttl: the pruning and TTL arguments every writing script takes.
        self._limits: tuple[int, str, str, int] = (
            WINDOWS["7d"][0],
            repr(self.burst_slot),
            repr(self.burst_window),
            DAYS_KEPT * DAY,
        )
        self._key_prefix = state.key("rep", "")  # `state.key("rep", kind, digest)` is this + "kind:digest"
        self._record = state.client.register_script(_RECORD_SCRIPT)
        self._report = state.client.register_script(_REPORT_SCRIPT)

    # --- keys ------------------------------------------------------------------------

    def keys(self, comment: Comment) -> list[str]:
        """The strings of the comment's signals, in `signals` order."""
        prefix = self._key_prefix
        return [f"{prefix}{kind}:{_digest(value)}" for kind, value in signals(comment)]

    # --- writes ----------------------------------------------------------------------

    def write_args(self, comment: Comment, site_id: int, shared: bool, record: bool, now: float) -> list:
        """ARGV of `rep_write` for this check: what it counts on each signal string (none when not
        `record`); the IP burst counts per site, a site that does not share adds nothing else."""
        kinds = [kind for kind, _ in signals(comment)]
        if not record:
            modes = "0" * len(kinds)
        elif shared:
            modes = "".join("2" if kind == "ip" else "1" for kind in kinds)
        else:
            modes = "".join("3" if kind == "ip" else "0" for kind in kinds)
        return [
            repr(now),
            f"c:{int(now // HOUR)}",
            _blog_mark(comment.blog),
            f"u:{site_id}:{int(now // self.burst_slot)}",
            modes,
            *self._limits,
        ]

    def record_check(self, comment: Comment, site_id: int, *, shared: bool = True, now: float | None = None) -> bool:
        """Count a checked comment (skipped for `is_test`). False when Redis is down.

        (The comment-check path does the same writes inside the check gate's script.)
        """
        now = time.time() if now is None else now
        keys = self.keys(comment)
        if comment.is_test or not keys:
            return True
        args = self.write_args(comment, site_id, shared, True, now)
        return self.state.call(
            "reputation.record_check", lambda r: bool(self._record(keys=keys, args=args, client=r)), False
        )

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
        keys = self.keys(comment)
        if not keys:
            return True
        args: list[Any] = [site_id, mark or "", repr(now), *self._limits]
        return self.state.call(
            "reputation.record_feedback", lambda r: bool(self._report(keys=keys, args=args, client=r)), False
        )

    # --- reads -----------------------------------------------------------------------

    def lookup(self, comment: Comment, site_id: int, *, shared: bool = True, now: float | None = None) -> Reputation:
        """Decayed reputation of the comment as `site_id` may see it; `known=False` when Redis is down."""
        now = time.time() if now is None else now
        keys = self.keys(comment)
        raw = self.state.call("reputation.lookup", lambda r: r.mget(keys) if keys else [], None)
        if raw is None:
            return Reputation()
        return self.summarise(comment, site_id, shared, raw, now)

    def summarise(self, comment: Comment, site_id: int, shared: bool, blobs: list[Any], now: float) -> Reputation:
        """What `lookup` makes of the strings it read (also used by the check gate's one round trip);
        the trust rules are applied here, to what was read."""
        rep = Reputation(known=True)
        per_kind: dict[str, list[dict]] = {}
        own = str(site_id)
        burst = (f"u:{site_id}:", self.burst_slot, self.burst_window)
        for (kind, value), blob in zip(signals(comment), blobs, strict=True):
            is_ip = kind == "ip"
            stats, seen = _summarise(value, _entries(blob), now, own, shared, self.min_sites, burst if is_ip else None)
            per_kind.setdefault(kind, []).append(stats)
            if is_ip:
                count = seen + 1  # this comment included
                rep.detail["burst"] = {"count": count, "limit": self.burst_amount, "window": self.burst_label}
        for kind, stats_list in per_kind.items():
            # Several link domains: judge by the most reported one.
            rep.detail[kind] = (
                stats_list[0]
                if len(stats_list) == 1
                else max(stats_list, key=lambda s: (s["spam_sites_7d"] - s["ham_sites_7d"], s["seen_24h"]))
            )
        return rep

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


def _entries(blob: str | None) -> dict[str, str]:
    """A reputation string's entries (see the module docstring); malformed parts are skipped."""
    out: dict[str, str] = {}
    for part in (blob or "").split(" ", MAX_ENTRIES)[:MAX_ENTRIES]:
        name, sep, value = part.partition("=")
        if sep:
            out[name] = value
    return out


# The stats keys per window, built once: (seen, sites_seen, spam_sites, ham_sites, spam_n, ham_n).
_STAT_KEYS = {
    win: tuple(f"{name}_{win}" for name in ("seen", "sites_seen", "spam_sites", "ham_sites", "spam_n", "ham_n"))
    for win in WINDOWS
}


# What `_summarise` makes of a string with no entries (a value never seen, or all of it expired).
_NOTHING_SEEN = {key: 0 for keys in _STAT_KEYS.values() for key in keys}

# The two windows, unpacked once for `_summarise`'s single pass over the entries.
(_WIN_DAY, _HALF_DAY), (_WIN_WEEK, _HALF_WEEK) = WINDOWS["24h"], WINDOWS["7d"]


def _summarise(
    value: str,
    entries: dict[str, str],
    now: float,
    own: str,
    shared: bool,
    min_sites: int,
    burst: tuple[str, float, float] | None = None,
) -> tuple[dict, int]:
    """One signal string as site `own` sees it: (its stats for both windows, its burst count).

    `shared`: the reader shares reputation (else it sees only its own reports); `burst`: (this site's
    burst-slot prefix, slot seconds, window seconds) for the IP string, whose slots are counted in the
    same pass (0 otherwise).  Every weight is `_weight`'s expression, summed in entry order: the floats
    are the same as summing each window on its own."""
    if not entries:
        return {"value": value, **_NOTHING_SEEN}, 0
    spam: dict[str, float] = {}  # reporting site -> its report time (`s:` and `ps:` of one site: one slot)
    ham: dict[str, float] = {}
    blogs: list[float] = []
    hourly: dict[int, int] = {}
    bursts = 0
    for fname, raw in entries.items():
        prefix, _, ident = fname.partition(":")
        try:
            if prefix == "u":  # first: most of an IP string's entries are burst slots
                if burst is not None and fname.startswith(burst[0]):
                    mine, slot_seconds, window = burst
                    slot, count = int(fname[len(mine) :]), int(raw)
                    if (slot + 1) * slot_seconds > now - window and slot * slot_seconds <= now:
                        bursts += count
            elif prefix == "c":
                if shared:  # an opted-out reader sees nothing from other sites
                    hourly[int(ident)] = int(raw)
            elif prefix == "b":
                if shared:
                    blogs.append(float(raw))  # one entry per blog: names are unique
            elif prefix == "s" or prefix == "h":
                if shared or ident == own:
                    (spam if prefix == "s" else ham)[ident] = float(raw)
            elif prefix == "ps" or prefix == "ph":  # an opted-out site's report: visible to that site only
                if ident == own:
                    (spam if prefix == "ps" else ham)[ident] = float(raw)
        except ValueError:
            continue
    if not (hourly or blogs or spam or ham):
        return {"value": value, **_NOTHING_SEEN}, bursts
    # Both windows in one pass; each term is `_weight(age, window, half_life)` written out.
    seen_day, seen_week = [], []
    for hr, n in hourly.items():
        age = now - (hr * HOUR + HOUR / 2)
        clipped = 0.0 if age < 0.0 else age  # max(age, 0.0), NaN included
        seen_day.append(n * (0.0 if age > _WIN_DAY else 0.5 ** (clipped / _HALF_DAY)))
        seen_week.append(n * (0.0 if age > _WIN_WEEK else 0.5 ** (clipped / _HALF_WEEK)))
    blogs_day, blogs_week = [], []
    for ts in blogs:
        age = now - ts
        clipped = 0.0 if age < 0.0 else age
        blogs_day.append(0.0 if age > _WIN_DAY else 0.5 ** (clipped / _HALF_DAY))
        blogs_week.append(0.0 if age > _WIN_WEEK else 0.5 ** (clipped / _HALF_WEEK))
    day = _reports(spam, ham, own, now, _WIN_DAY, _HALF_DAY, min_sites)
    week = _reports(spam, ham, own, now, _WIN_WEEK, _HALF_WEEK, min_sites)
    # The names of `_STAT_KEYS`, in its order.
    return {
        "value": value,
        "seen_24h": sum(seen_day),
        "sites_seen_24h": sum(blogs_day),
        "spam_sites_24h": day[0],
        "ham_sites_24h": day[1],
        "spam_n_24h": day[2],
        "ham_n_24h": day[3],
        "seen_7d": sum(seen_week),
        "sites_seen_7d": sum(blogs_week),
        "spam_sites_7d": week[0],
        "ham_sites_7d": week[1],
        "spam_n_7d": week[2],
        "ham_n_7d": week[3],
    }, bursts


def _reports(
    spam: dict[str, float], ham: dict[str, float], own: str, now: float, window: float, half_life: float, min_sites: int
) -> tuple[Any, Any, int, int]:
    """(spam_sites, ham_sites, spam_n, ham_n) of one window: the trusted reports' decayed weights, and
    their undecayed distinct-site counts (for reasons people can read)."""
    if not (spam or ham):  # reports are rare
        return 0, 0, 0, 0
    trusted_spam = _trusted(spam, own, now, window, min_sites)
    trusted_ham = _trusted(ham, own, now, window, min_sites)
    return (
        sum([_weight(now - ts, window, half_life) for ts in trusted_spam.values()]),
        sum([_weight(now - ts, window, half_life) for ts in trusted_ham.values()]),
        sum(1 for ts in trusted_spam.values() if 0 <= now - ts <= window),
        sum(1 for ts in trusted_ham.values() if 0 <= now - ts <= window),
    )


def _trusted(src: dict[str, float], own: str, now: float, window: float, min_sites: int) -> dict[str, float]:
    """This site's report, plus other sites' reports once `min_sites` of them are in the window."""
    if not src:
        return src
    others = {s: ts for s, ts in src.items() if s != own and 0 <= now - ts <= window}
    kept = {s: ts for s, ts in src.items() if s == own}
    if len(others) >= min_sites:
        kept.update(others)
    return kept


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

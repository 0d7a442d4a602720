"""Monthly API-call counters per key: Redis for the hot path, the DB for history.

Each answered check increments `api_calls` in the hash `<prefix>usage:<site_id>:<YYYY-MM>`
(inside the check gate's script) and marks the key dirty.  Per-verdict and
per-report numbers (/1.2/key-sites, get-stats) are counted from the checks and
feedback tables, not here.  `flush_usage`
copies absolute values into `UsageMonthly`, so flushing twice, or from several
processes, writes the same numbers.  If Redis lost its data (restart without
persistence) its counters are smaller than the DB's; the flush then adds the DB
value back into Redis atomically instead of overwriting history with zeros.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from spamguard.backends import RedisState

from .ratelimit import ALERT_OVER_LIMIT, ALERT_OVER_LIMIT_REPEATED, MAX_REMEMBERED, LimitResult

log = logging.getLogger("spamguard.quota.usage")

FIELDS = ("api_calls",)
KEY_TTL = 100 * 86400  # current month + time for the flush to see it
# Spec §5: refusal starts in the third consecutive month over the limit.
THROTTLE_AFTER_MONTHS = 3

# Raise each hash field to at least the DB's value (ARGV: ttl, field, db_value, ...); returns the new values.
_REBASE = """
local out = {}
for i = 2, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  local base = tonumber(ARGV[i + 1])
  if cur < base then cur = redis.call('HINCRBY', KEYS[1], ARGV[i], base) end
  out[#out + 1] = tostring(cur)
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return out
"""


def month_of(now: float | None = None) -> str:
    # UTC months start on the hour: the answer for the hour, remembered (every check asks).
    return _month_of_hour(int((time.time() if now is None else now) // 3600))


@functools.lru_cache(maxsize=64)
def _month_of_hour(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m")


def previous_months(month: str, n: int) -> list[str]:
    year, mon = (int(x) for x in month.split("-"))
    out = []
    for _ in range(n):
        mon -= 1
        if mon == 0:
            year, mon = year - 1, 12
        out.append(f"{year:04d}-{mon:02d}")
    return out


def seconds_to_next_month(now: float | None = None) -> int:
    now = time.time() if now is None else now
    d = datetime.fromtimestamp(now, UTC)
    nxt = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=UTC)
    return max(1, int(nxt.timestamp() - now))


class UsageCounter:
    def __init__(self, state: RedisState, default_limit: int = 0, session_factory=None) -> None:
        self.state = state
        self.default_limit = default_limit
        self.session_factory = session_factory  # used when no session is passed (policy cache)
        self._rebase = state.client.register_script(_REBASE)
        self._history_cache: dict[int, tuple[float, tuple, int]] = {}
        self.dirty_key = state.key("usage", "dirty")  # the set of site-months to flush
        self._month_keys: dict[tuple[int, str], tuple[str, str]] = {}

    def key(self, site_id: int, month: str) -> str:
        return self.state.key("usage", site_id, month)

    def month_keys(self, site_id: int, month: str) -> tuple[str, str]:
        """The site-month's usage hash and its member of the dirty set, remembered: every check asks."""
        found = self._month_keys.get((site_id, month))
        if found is None:
            if len(self._month_keys) >= MAX_REMEMBERED:  # bounded; the next month's keys start anew
                self._month_keys.clear()
            found = self._month_keys[(site_id, month)] = (self.key(site_id, month), f"{site_id}:{month}")
        return found

    # --- hot path ---------------------------------------------------------------------

    def record_call(self, site, now: float | None = None) -> bool:
        """Count one API call outside the check gate (which counts inside its script).
        False when Redis is down: the call is then not counted (usage fails open)."""
        key, member = self.key(site.id, month_of(now)), f"{site.id}:{month_of(now)}"

        def run(r):
            pipe = r.pipeline(transaction=False)
            pipe.hincrby(key, "api_calls", 1)
            pipe.expire(key, KEY_TTL)
            pipe.sadd(self.dirty_key, member)
            pipe.execute()
            return True

        return self.state.call("usage.record", run, False)

    # --- reads -------------------------------------------------------------------------

    def counters(self, site_id: int, month: str) -> dict[str, int] | None:
        """Redis counters for a site-month, or None when Redis is unavailable."""
        raw = self.state.call("usage.read", lambda r: r.hgetall(self.key(site_id, month)), None)
        if raw is None:
            return None
        return {f: int(raw.get(f, 0)) for f in FIELDS}

    def usage_for(self, site, month: str | None = None, session: Session | None = None) -> int:
        """API calls of `site` in `month` (default: this month).  Redis first; when
        Redis is down (or lost its data), the persisted DB value."""
        month = month or month_of()
        live = self.counters(site.id, month)
        db = self._db_row(session, site.id, month) if (live is None or session is not None) else None
        db_calls = db.api_calls if db is not None else 0
        return max(live["api_calls"] if live else 0, db_calls)

    def limit_for(self, site) -> int:
        """Monthly allowance; 0 = unlimited."""
        value = site.monthly_limit if getattr(site, "monthly_limit", None) is not None else self.default_limit
        return max(0, int(value or 0))

    def months_over(self, session: Session, site, month: str, limit: int) -> int:
        """How many months right before `month`, consecutively, the site went over `limit`."""
        prev = previous_months(month, 12)
        calls = self._history(session, site.id, prev)
        over = 0
        for m in prev:
            if calls.get(m, 0) <= limit:
                break
            over += 1
        return over

    def _history(self, session: Session, site_id: int, months: list[str]) -> dict[str, int]:
        from spamguard.storage.models import UsageMonthly as UM

        rows = session.execute(select(UM.month, UM.api_calls).where(UM.site_id == site_id, UM.month.in_(months))).all()
        return {m: calls for m, calls in rows}

    def _db_row(self, session: Session | None, site_id: int, month: str):
        from spamguard.storage.models import UsageMonthly as UM

        session = session or _current_session()
        if session is None:
            return None
        return session.execute(select(UM).where(UM.site_id == site_id, UM.month == month)).scalar_one_or_none()

    def usage_report(
        self, site, extended: bool = False, session: Session | None = None, now: float | None = None
    ) -> dict:
        """The /1.2/usage-limit JSON answer (spec §2.5), exactly in its shape."""
        session = session or _current_session()
        month = month_of(now)
        usage = self.usage_for(site, month, session)
        limit = self.limit_for(site)
        over_before = self.months_over(session, site, month, limit) if (limit and session) else 0
        throttled = bool(limit) and usage > limit and over_before + 1 >= THROTTLE_AFTER_MONTHS
        report = {
            "limit": limit if limit else "none",
            "usage": usage,
            "percentage": f"{usage * 100 / limit:.2f}" if limit else "0.00",
            "throttled": throttled,
        }
        if extended:
            report["notice_level"] = _notice_level(limit, usage, over_before)
            report["upgrade"] = False
        return report

    # --- refusal policy (spec §5) --------------------------------------------------------

    def monthly_policy(self, site, now: float | None = None) -> LimitResult:
        """Refuse calls beyond the limit from the third consecutive month over it."""
        limit = self.enforced_limit(site, now)
        if not limit:
            return LimitResult(True)
        live = self.counters(site.id, month_of(now))
        if live is None or live["api_calls"] < limit:
            return LimitResult(True)  # fail open when Redis cannot tell us
        return self.monthly_refusal(site, now)

    def alert_headers(self, site, now: float | None = None) -> dict[str, str]:
        """Usage-limit alert headers for a comment-check answer (spec §5), {} when none apply."""
        limit = self.limit_for(site)
        if not limit:
            return {}
        live = self.counters(site.id, month_of(now))
        return {} if live is None else self.alerts_for(site, live["api_calls"], now)

    def alerts_for(self, site, usage: int, now: float | None = None) -> dict[str, str]:
        """The alert headers for `usage` calls this month.

        WordPress clears its usage notice when an answer comes without them, so
        they are sent only while the key is over (or, in a third month, near) its limit.
        """
        limit = self.limit_for(site)
        if not limit:
            return {}
        over_before = self._over_before(site, month_of(now), limit)
        if usage > limit:
            code = {0: "10501", 1: "10502", 2: ALERT_OVER_LIMIT}.get(over_before, ALERT_OVER_LIMIT_REPEATED)
            msg = "Your site is over its monthly API usage limit."
        elif over_before == 2 and usage > 0.9 * limit:
            code, msg = "10504", "Your site is close to its monthly API usage limit for a third month."
        else:
            return {}
        return {
            "X-akismet-alert-code": code,
            "X-akismet-alert-msg": msg,
            "X-akismet-alert-api-calls": str(usage),
            "X-akismet-alert-usage-limit": str(limit),
            "X-akismet-alert-upgrade-via-support": "false",
        }

    def enforced_limit(self, site, now: float | None = None) -> int:
        """The monthly allowance to refuse beyond now (0: none), for the check gate's script."""
        limit = self.limit_for(site)
        if not limit or self._over_before(site, month_of(now), limit) + 1 < THROTTLE_AFTER_MONTHS:
            return 0
        return limit

    def monthly_refusal(self, site, now: float | None = None) -> LimitResult:
        """The refusal `monthly_policy` gives a key at its enforced limit."""
        limit = self.limit_for(site)
        over_before = self._over_before(site, month_of(now), limit)
        code = ALERT_OVER_LIMIT if over_before + 1 == THROTTLE_AFTER_MONTHS else ALERT_OVER_LIMIT_REPEATED
        return LimitResult(False, seconds_to_next_month(now), "monthly", f"{limit} per month", code)

    def _over_before(self, site, month: str, limit: int) -> int:
        """Months over the limit right before this one.  From the DB, which changes at most
        monthly, so cached per process for 5 minutes."""
        cached = self._history_cache.get(site.id)
        t = time.monotonic()
        if cached and cached[1] == (month, limit) and t - cached[0] < 300:
            return cached[2]
        over_before = self._months_over_own_session(site, month, limit)
        self._history_cache[site.id] = (t, (month, limit), over_before)
        return over_before

    def _months_over_own_session(self, site, month: str, limit: int) -> int:
        if self.session_factory is None:
            return 0
        try:
            with self.session_factory() as session:
                return self.months_over(session, site, month, limit)
        except Exception as exc:  # the DB being down must not refuse calls either
            log.warning(
                "usage history unavailable", extra={"event": "usage_history_error", "error": type(exc).__name__}
            )
            return 0

    def _rebase_call(self, key: str, base: list):
        return lambda r: self._rebase(keys=[key], args=base)

    # --- persistence ---------------------------------------------------------------------

    def flush_usage(self, session: Session) -> int:
        """Persist dirty Redis counters into `UsageMonthly`; returns rows written.

        The dirty set is atomically renamed first, so increments during the flush
        mark the fresh set and are picked up next time; on failure the names are
        merged back.
        """
        from spamguard.storage.models import UsageMonthly as UM

        taken = self.state.key("usage", "flushing", uuid.uuid4().hex)

        def take(r):
            try:
                r.rename(self.dirty_key, taken)
            except Exception as exc:  # "no such key": nothing to flush
                if "no such key" in str(exc).lower():
                    return []
                raise
            r.expire(taken, 86400)
            return sorted(r.smembers(taken))

        members = self.state.call("usage.flush", take, [])
        if not members:
            return 0
        written = 0
        try:
            for member in members:
                site_id_s, month = member.split(":", 1)
                site_id = int(site_id_s)
                row = session.execute(select(UM).where(UM.site_id == site_id, UM.month == month)).scalar_one_or_none()
                base: list = [KEY_TTL]
                for f in FIELDS:
                    base += [f, int(getattr(row, f) or 0) if row is not None else 0]
                values = self.state.call("usage.flush", self._rebase_call(self.key(site_id, month), base), None)
                if values is None:
                    raise ConnectionError("redis went away during flush")
                if row is None:
                    row = UM(site_id=site_id, month=month)
                    session.add(row)
                for f, v in zip(FIELDS, values, strict=True):
                    setattr(row, f, int(v))
                written += 1
            session.commit()
        except Exception:
            session.rollback()
            self.state.call(
                "usage.flush", lambda r: (r.sunionstore(self.dirty_key, [self.dirty_key, taken]), r.delete(taken)), None
            )
            raise
        self.state.call("usage.flush", lambda r: r.delete(taken), None)
        return written


def _notice_level(limit: int, usage: int, over_before: int) -> str:
    if not limit or usage <= limit:
        return "NOTICE_NONE"
    return {0: "NOTICE_FIRST_MONTH_OVER_LIMIT", 1: "NOTICE_SECOND_MONTH_OVER_LIMIT"}.get(
        over_before, "NOTICE_THIRD_MONTH_OVER_LIMIT" if over_before == 2 else "NOTICE_FOUR_PLUS_MONTHS_OVER_LIMIT"
    )


def _current_session() -> Session | None:
    try:
        from flask import has_app_context

        if not has_app_context():
            return None
        from spamguard.storage import get_session

        return get_session()
    except Exception:  # pragma: no cover - storage not wired
        return None

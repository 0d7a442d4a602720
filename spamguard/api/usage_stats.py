"""Per-site statistics for `/1.2/key-sites` and WordPress' `get-stats`.

Folded from `storage.queries.stats.site_tallies` (the `checks` and `feedback`
tables, which know each call's blog and verdict; the moderation stats page folds
the same rows).  (`/1.2/usage-limit` reads the Redis usage counters of
`spamguard.quota` instead.)  `is_test` calls count towards `api_calls` (spec §3
suggestion) but never towards the spam/ham/missed/false-positive statistics; a
report counts in the month of the check it is about.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from spamguard.scoring.decision import DISCARD, HAM, SPAM, UNSURE
from spamguard.storage.models import Site
from spamguard.storage.queries.stats import site_tallies

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SPAMMY, HAMMY = (SPAM, DISCARD), (HAM, UNSURE)  # what we answered `true` / `false`
COUNTERS = ("api_calls", "spam", "ham", "missed_spam", "false_positives")
SECONDS_SAVED_PER_SPAM = 6  # get-stats `time_saved`: a moderator's few seconds per spam not read


def current_month(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of next month) in UTC for a valid `YYYY-MM`."""
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return start, end


def site_name(blog: str) -> str:
    """`https://Blog.Example/` → `blog.example`, as Akismet lists sites.

    Total: `blog` is whatever a client sent (e.g. `http://[oops`, on which urlsplit
    raises), and one such row must not break the key's statistics forever.
    """
    blog = blog.strip()
    try:
        host = urlsplit(blog if "//" in blog else f"//{blog}").hostname
    except ValueError:
        host = None
    return host or blog.lower()


def _counters(session: Session, site: Site, start: datetime | None, end: datetime | None) -> dict[str, dict[str, int]]:
    """Per site name: api_calls, spam, ham, missed_spam, false_positives of the checks made between start and end."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for key, tally in site_tallies(session, start=start, end=end, site_id=site.id).items():
        row = rows[site_name(key.blog)]
        row["api_calls"] += tally.checks
        if key.is_test:
            continue
        # A report against our own answer: submit-spam on a `false` = missed spam, submit-ham on a `true` = false positive.
        if key.verdict in SPAMMY:
            row["spam"] += tally.checks
            row["false_positives"] += tally.api_ham_reports
        elif key.verdict in HAMMY:
            row["ham"] += tally.checks
            row["missed_spam"] += tally.api_spam_reports
    return rows


def key_sites_report(
    session: Session, site: Site, month: str, name_filter: str, order: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The `/1.2/key-sites` page (spec §2.4): site rows (counters as strings) and the total before paging."""
    start, end = month_bounds(month)
    rows = _counters(session, site, start, end)
    names = [name for name in rows if name_filter.lower() in name]
    column = "api_calls" if order == "total" else order
    names.sort(key=lambda name: (-rows[name][column], name))
    page = [
        {"site": name, **{c: str(rows[name][c]) for c in COUNTERS}, "is_revoked": site.is_revoked}
        for name in names[offset : offset + limit]
    ]
    return page, len(names)


def stats_report(session: Session, site: Site, period: str) -> dict[str, Any]:
    """WordPress `get-stats` (spec §2.6): totals for `all`, `6-months` or `60-days`."""
    days = {"6-months": 183, "60-days": 60}.get(period)
    start = end = None
    if days is not None:
        end = datetime.now(UTC) + timedelta(days=1)
        start = end - timedelta(days=days + 1)
    totals = dict.fromkeys(COUNTERS, 0)
    for row in _counters(session, site, start, end).values():
        for name in COUNTERS:
            totals[name] += row[name]
    judged = totals["spam"] + totals["ham"]
    wrong = totals["missed_spam"] + totals["false_positives"]
    accuracy = 100.0 * (judged - min(wrong, judged)) / judged if judged else 100.0
    return {
        "spam": totals["spam"],
        "ham": totals["ham"],
        "missed_spam": totals["missed_spam"],
        "false_positives": totals["false_positives"],
        "accuracy": f"{accuracy:.2f}",
        "time_saved": totals["spam"] * SECONDS_SAVED_PER_SPAM,
    }

"""The stats page: checks per day by verdict and the moderator overturn rates, as server-rendered SVG.

The figures come from `storage.queries.stats` (the same per-site tallies as the
Akismet key-sites answer); this module only folds and draws them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from flask import render_template, request

from spamguard import storage
from spamguard.moderation.security import login_required
from spamguard.storage.models import utcnow
from spamguard.storage.queries import stats as queries
from spamguard.storage.queries.sites import sites_by_id
from spamguard.storage.queries.stats import FLAGGED, VERDICTS

DAYS = 30
CHART_HEIGHT = 160
BAR_WIDTH = 18
BAR_GAP = 4


def chart(counts: dict[str, dict[str, int]], today: date) -> dict:
    """Geometry of a stacked bar chart (numbers only; the template draws the SVG)."""
    days = [(today - timedelta(days=DAYS - 1 - i)).isoformat() for i in range(DAYS)]
    peak = max([sum(counts.get(d, {}).values()) for d in days] + [1])
    bars = []
    for i, d in enumerate(days):
        x = i * (BAR_WIDTH + BAR_GAP)
        y: float = CHART_HEIGHT
        segments = []
        for verdict in VERDICTS:
            n = counts.get(d, {}).get(verdict, 0)
            h = round(n / peak * CHART_HEIGHT, 1)
            if n:
                y -= h
                segments.append({"verdict": verdict, "y": round(y, 1), "height": h, "count": n})
        bars.append({"day": d, "x": x, "segments": segments, "total": sum(counts.get(d, {}).values())})
    return {
        "bars": bars,
        "peak": peak,
        "width": DAYS * (BAR_WIDTH + BAR_GAP),
        "height": CHART_HEIGHT,
        "bar_width": BAR_WIDTH,
    }


def overturn_rates(db, since, include_tests: bool = False) -> list[dict]:
    """Per site: flagged checks moderators marked ham, ham checks reported as spam (then all sites)."""
    per_site: dict[int, dict] = defaultdict(lambda: {"flagged": 0, "flagged_ham": 0, "ham": 0, "ham_spam": 0})
    for key, tally in queries.site_tallies(db, start=since).items():
        if key.is_test and not include_tests:
            continue
        row = per_site[key.site_id]
        if key.verdict in FLAGGED:
            row["flagged"] += tally.checks
            row["flagged_ham"] += tally.reviewed_ham
        elif key.verdict == "ham":
            row["ham"] += tally.checks
            row["ham_spam"] += tally.spam_reports  # moderator or submit-spam, each check once
    sites = sites_by_id(db, list(per_site))
    result = []
    totals = {"flagged": 0, "flagged_ham": 0, "ham": 0, "ham_spam": 0}
    for site_id in sorted(per_site):
        row = per_site[site_id]
        for k in totals:
            totals[k] += row[k]
        result.append({"site": sites.get(site_id), "site_id": site_id, **row, **_rates(row)})
    result.append({"site": None, "site_id": None, "all": True, **totals, **_rates(totals)})
    return result


def _rates(row: dict) -> dict:
    fp = row["flagged_ham"] / row["flagged"] if row["flagged"] else 0.0
    fn = row["ham_spam"] / row["ham"] if row["ham"] else 0.0
    return {"fp_rate": fp, "fn_rate": fn, "fp_pct": round(fp * 100, 1), "fn_pct": round(fn * 100, 1)}


@login_required
def stats():
    db = storage.get_session()
    now = utcnow()
    today = now.date()
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    tests = request.args.get("tests") == "1"
    counts = queries.daily_counts(db, since, tests)
    overturned = queries.recently_overturned(db, since, tests)
    return render_template(
        "moderation/stats.html",
        chart=chart(counts, today),
        rates=overturn_rates(db, since, tests),
        overturned=overturned,
        verdicts=VERDICTS,
        days=DAYS,
        tests=tests,
    )

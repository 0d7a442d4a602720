"""Checks per day by verdict and the moderator overturn rates, as server-rendered SVG.

Both queries read the last 30 days through ix_checks_created; at very high volume
(millions of checks a month) a daily rollup table would be the next step.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from flask import render_template, request
from sqlalchemy import and_, func, select

from spamguard import storage
from spamguard.moderation.blueprint import bp
from spamguard.moderation.security import login_required
from spamguard.storage.models import Check, Feedback, Site, utcnow

DAYS = 30
VERDICTS = ("ham", "unsure", "spam", "discard")
FLAGGED = ("spam", "unsure", "discard")
CHART_HEIGHT = 160
BAR_WIDTH = 18
BAR_GAP = 4


def _day(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _real(include_tests: bool) -> list:
    """Akismet test requests (is_test) stay out of the figures unless asked for (?tests=1)."""
    return [] if include_tests else [Check.is_test.is_(False)]


def daily_counts(db, since, include_tests: bool = False) -> dict[str, dict[str, int]]:
    day = func.date(Check.created_at)
    rows = db.execute(
        select(day.label("day"), Check.verdict, func.count())
        .where(Check.created_at >= since, *_real(include_tests))
        .group_by(day, Check.verdict)
    ).all()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
    for day_value, verdict, count in rows:
        if verdict in VERDICTS:
            counts[_day(day_value)][verdict] += count
    return counts


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
    return {"bars": bars, "peak": peak, "width": DAYS * (BAR_WIDTH + BAR_GAP), "height": CHART_HEIGHT,
            "bar_width": BAR_WIDTH}


def overturn_rates(db, since, include_tests: bool = False) -> list[dict]:
    """Per site: flagged checks moderators marked ham, ham checks reported as spam."""
    per_site: dict[int, dict] = defaultdict(lambda: {"flagged": 0, "flagged_ham": 0, "ham": 0, "ham_spam": 0})
    for site_id, verdict, label, count in db.execute(
        select(Check.site_id, Check.verdict, Check.review_label, func.count())
        .where(Check.created_at >= since, *_real(include_tests))
        .group_by(Check.site_id, Check.verdict, Check.review_label)
    ).all():
        row = per_site[site_id]
        if verdict in FLAGGED:
            row["flagged"] += count
            if label == "ham":
                row["flagged_ham"] += count
        elif verdict == "ham":
            row["ham"] += count
    # Ham verdicts later reported as spam (moderator or submit-spam), each check once.
    for site_id, count in db.execute(
        select(Check.site_id, func.count(func.distinct(Check.id)))
        .join(Feedback, Feedback.check_id == Check.id)
        .where(Check.created_at >= since, *_real(include_tests), Check.verdict == "ham",
               and_(Feedback.label == "spam", Feedback.undone_at.is_(None)))
        .group_by(Check.site_id)
    ).all():
        per_site[site_id]["ham_spam"] += count
    sites = {s.id: s for s in db.scalars(select(Site).where(Site.id.in_(list(per_site)))).all()} if per_site else {}
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


@bp.get("/stats")
@login_required
def stats():
    db = storage.get_session()
    now = utcnow()
    today = now.date()
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    tests = request.args.get("tests") == "1"
    counts = daily_counts(db, since, tests)
    overturned = db.scalars(
        select(Check).where(Check.review_label == "ham", Check.verdict.in_(FLAGGED), *_real(tests),
                            Check.reviewed_at.is_not(None), Check.reviewed_at >= since)
        .order_by(Check.reviewed_at.desc()).limit(10)).all()
    return render_template("moderation/stats.html", chart=chart(counts, today),
                           rates=overturn_rates(db, since, tests), overturned=overturned, verdicts=VERDICTS,
                           days=DAYS, tests=tests)

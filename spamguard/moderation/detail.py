"""The detail page of one checked comment: what a moderator needs to decide.

Only non-empty fields; the comment as readable (escaped) text; the score drawn
against the thresholds the verdict was decided with; the reasons a person can act
on; reputation figures for its IP, e-mail and domains (a read-only Redis lookup);
other comments from the same IP/e-mail; previous/next in the same queue list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app, render_template

from spamguard import storage
from spamguard.comment import Comment
from spamguard.moderation import model_files
from spamguard.moderation.lookup import get_or_404
from spamguard.moderation.queue import undoable
from spamguard.moderation.security import current_user, login_required
from spamguard.reputation import LABELS as REPUTATION_LABELS
from spamguard.scoring.decision import THRESHOLD_NAMES, merge_thresholds
from spamguard.scoring.explain import display_reasons
from spamguard.services import services
from spamguard.storage.models import Check
from spamguard.storage.queries import queue as queries

RELATED_LIMIT = 20
# Shown in the summary (or as the comment itself), so not repeated in the field list.
SUMMARY_FIELDS = {"comment_content", "blog"}


def _text(value: Any) -> str:
    if value is None or value is False:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(t for t in (_text(v) for v in value) if t)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {t}" for k, t in ((k, _text(v)) for k, v in value.items()) if t)
    return str(value).strip()


def shown_fields(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """Submitted fields that carry something, as (name, text); extras as extra.<name>."""
    items: list[tuple[str, str]] = []
    for name, value in (fields or {}).items():
        if name == "extra" and isinstance(value, dict):
            items += [(f"extra.{k}", _text(v)) for k, v in value.items()]
        elif name not in SUMMARY_FIELDS:
            items.append((name, _text(value)))
    return [(name, text) for name, text in items if text]


def paragraphs(text: str) -> list[str]:
    """The comment split at blank lines (each rendered escaped, line breaks kept by CSS)."""
    parts = [p.strip("\n") for p in (text or "").replace("\r\n", "\n").split("\n\n")]
    return [p for p in parts if p.strip()]


def thresholds_for(check: Check) -> dict[str, float] | None:
    """The thresholds this verdict was decided with: the model version's, with the site's overrides."""
    model = model_files.manifest(current_app.config["SPAMGUARD_MODEL_DIR"], check.model_version or "")
    base = (model or {}).get("thresholds")
    if not isinstance(base, dict) or not all(isinstance(base.get(n), (int, float)) for n in THRESHOLD_NAMES):
        return None
    return merge_thresholds(base, check.site.thresholds if check.site else None)


def reputation_rows(check: Check) -> tuple[bool, list[dict[str, Any]], dict | None]:
    """(Redis answered, one row per signal kind, the IP's current burst) — read-only."""
    store = services().reputation
    # As the check's own site sees it: the trust rules decide which other sites' reports count.
    shared = check.site.share_reputation if check.site is not None else True
    rep = store.lookup(Comment.from_json(check.fields or {}), check.site_id, shared=shared)
    rows = []
    for kind, label in REPUTATION_LABELS.items():
        d = rep.detail.get(kind)
        if d:
            rows.append(
                {
                    "label": label,
                    "value": d["value"],
                    "seen_24h": d["seen_24h"],
                    "seen_7d": d["seen_7d"],
                    "sites_7d": d["sites_seen_7d"],
                    "spam_sites": d["spam_n_7d"],
                    "ham_sites": d["ham_n_7d"],
                }
            )
    return rep.known, rows, rep.detail.get("burst")


def score_scale(score: float, thresholds: dict[str, float] | None) -> dict[str, Any]:
    """Geometry (percentages of a 0..1 bar) for the score-against-thresholds picture."""
    marks = (
        [{"name": n, "value": thresholds[n], "x": round(thresholds[n] * 100, 2)} for n in THRESHOLD_NAMES]
        if thresholds
        else []
    )
    return {"score": score, "x": round(max(0.0, min(1.0, score)) * 100, 2), "marks": marks}


@login_required
def detail(check_id: int):
    db = storage.get_session()
    check = get_or_404(db, Check, check_id)
    related: dict[str, Sequence[Check]] = dict(queries.related(db, check, RELATED_LIMIT))
    pending = {
        label: sum(1 for c in rows if c.reviewed_at is None and not c.is_test) for label, rows in related.items()
    }
    feedback = queries.feedback_for(db, check.id)
    thresholds = thresholds_for(check)
    rep_known, rep_rows, burst = reputation_rows(check)
    newer, older = queries.neighbours(db, check)
    reasons = display_reasons(check.reasons)
    user = current_user()
    return render_template(
        "moderation/detail.html",
        check=check,
        fields=shown_fields(check.fields),
        paragraphs=paragraphs(check.comment_content),
        related=related,
        pending=pending,
        feedback=feedback,
        thresholds=thresholds,
        scale=score_scale(check.score, thresholds),
        rep_known=rep_known,
        rep_rows=rep_rows,
        burst=burst,
        newer=newer,
        older=older,
        reasons=reasons,
        undoable={fb.id for fb in feedback if undoable(user, fb)},
    )

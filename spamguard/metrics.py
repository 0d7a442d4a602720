"""Prometheus metrics at /metrics (multi-process aware under gunicorn)."""
from __future__ import annotations

import os

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess

bp = Blueprint("metrics", __name__)

CHECKS = Counter("spamguard_checks_total", "Comment checks answered, by verdict", ["verdict"])
FEEDBACK = Counter("spamguard_feedback_total", "Labels recorded, by label and source", ["label", "source"])
CHECK_SECONDS = Histogram("spamguard_check_seconds", "Time to score and store one comment",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0))


@bp.get("/metrics")
def metrics() -> Response:
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Under gunicorn each worker writes its own files; add them up here.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

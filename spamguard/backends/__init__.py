"""Where derived, rebuildable state lives (rate-limit windows, usage counters, reputation).

The backend is chosen by the URL scheme of `REDIS_URL`; every call goes through
one fail-open policy (`RedisState.call`).
"""

from .state import REDIS_ERRORS, REDIS_FAILURES, RedisState, cluster_prefix, is_cluster_url, make_client

__all__ = ["REDIS_ERRORS", "REDIS_FAILURES", "RedisState", "cluster_prefix", "is_cluster_url", "make_client"]

"""Every setting SpamGuard reads, in one place.

Each setting comes from an environment variable of the same name, with a safe
default for a single-box install (SQLite file, local Redis).  `Settings.from_env()`
builds the mapping that `create_app` loads; tests pass overrides on top.
The README's settings table is generated from `SETTINGS` below, so keep the
descriptions short and true.
"""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SPAMGUARD_VAR_DIR", PROJECT_ROOT / "var"))


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _csv(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", f"sqlite:///{VAR_DIR / 'spamguard.db'}",
            "SQLAlchemy URL. SQLite file by default; `postgresql+psycopg://user@host/db` in production."),
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0",
            "Redis for rate limits, usage counters, reputation and the job queue."),
    Setting("SPAMGUARD_REDIS_PREFIX", "sg:", "Prefix of every Redis key (lets deployments share one Redis)."),
    Setting("SPAMGUARD_REDIS_TIMEOUT", 0.05, "Seconds a Redis call may take before it is treated as down.", float),
    Setting("SPAMGUARD_MODEL_DIR", str(VAR_DIR / "models"), "Model registry directory (artifacts + manifests)."),
    Setting("SPAMGUARD_MODEL_RELOAD_SECONDS", 2.0,
            "How often a worker checks the registry for a newly promoted model.", float),
    Setting("SPAMGUARD_BASE_HOSTS", ["rest.akismet.com", "akismet.local", "localhost"],
            "Comma-separated API host names; `<key>.<base>` in the Host header carries the key.", _csv),
    Setting("SPAMGUARD_MAX_BODY_BYTES", 256 * 1024, "Largest request body accepted (bytes).", int),
    Setting("SPAMGUARD_MAX_FIELD_CHARS", 65536, "Longest single form field kept (characters).", int),
    Setting("SPAMGUARD_DISCARD_TRIGGER", "akismet-guaranteed-discard",
            "Author name that always answers `true` + `X-akismet-pro-tip: discard` (for client tests)."),
    Setting("SPAMGUARD_RATE_LIMIT_KEY", "30000/minute;1000/second",
            "Per-API-key limit (Flask-Limiter notation): 500 checks/s sustained, bursts to 1000/s; sites can override."),
    Setting("SPAMGUARD_RATE_LIMIT_COMMENTER_IP", "5/minute",
            "Comments per commenter IP before the burst counts as a spam signal (never refused)."),
    Setting("SPAMGUARD_MONTHLY_LIMIT", 0, "Default monthly call allowance per key; 0 = unlimited (`none`).", int),
    Setting("SPAMGUARD_FLUSH_SECONDS", 30.0,
            "How often usage counters are saved to the DB and unsynced feedback is replayed into Redis.", float),
    Setting("SPAMGUARD_BACKGROUND_TASKS", True,
            "Run that flush/catch-up loop in each web worker (the `worker` command always runs it).", _bool),
    Setting("SPAMGUARD_PROMOTE_TOLERANCE", 0.005,
            "How much worse (AUC / recall@1%FPR) a candidate may be and still auto-promote.", float),
    Setting("SPAMGUARD_FEEDBACK_CAP_PER_KEY", 200,
            "Most labelled comments one reporting key contributes to a retrain.", int),
    Setting("SPAMGUARD_IMPLICIT_HAM_DAYS", 3.0,
            "A checked comment answered ham and not reported for this many days counts as ham when retraining.",
            float),
    Setting("SPAMGUARD_LOGIN_MAX_FAILURES", 5,
            "Failed moderator logins per username and IP in 15 minutes before login is refused.", int),
    Setting("SECRET_KEY", "", "Flask session secret. Generated and kept in var/secret_key when empty."),
    Setting("SPAMGUARD_SECURE_COOKIES", False, "Mark session cookies Secure (set behind HTTPS).", _bool),
    Setting("SPAMGUARD_LOG_LEVEL", "INFO", "Log level; logs are one JSON object per line."),
)


def from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read every setting from the environment, falling back to its default."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        config[setting.name] = setting.default if raw in (None, "") else setting.parse(raw)
    return config


def ensure_secret_key(config: dict[str, Any]) -> str:
    """Return SECRET_KEY, creating a persistent random one on first use.

    A fixed default secret would let anyone forge moderator sessions, so an
    unset key becomes a random value stored next to the SQLite database.
    """
    if config.get("SECRET_KEY"):
        return config["SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when several gunicorn workers start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the winner may not have written it yet
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it or set SECRET_KEY")
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key

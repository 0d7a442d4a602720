"""Every setting SpamGuard reads, in one place.

Each setting comes from an environment variable of the same name (or a `.env`
file, see `SPAMGUARD_ENV_FILE`), with a safe default for a single-box install
(SQLite file, local Redis).  `SETTINGS` below is the single source: a typed
pydantic-settings model is built from it, so a bad value is refused at startup
with the variable's name and the expected form, and the README's settings table
is generated from it (`python -m spamguard.config --markdown`; a test keeps the
README in step).  `from_env()` returns the mapping that `create_app` loads.

A `Setting`'s `parse` is its type: `str`, `int`, `float`, `_bool` or `_csv`.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A checkout keeps its state in <checkout>/var; an installed package in ./var of the working directory.
_DEFAULT_VAR = PROJECT_ROOT / "var" if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd() / "var"
VAR_DIR = Path(os.environ.get("SPAMGUARD_VAR_DIR") or _DEFAULT_VAR)


def _bool(value: str) -> bool:
    """true/false, 1/0, yes/no, on/off; anything else (`ture`) is an error, never a silent `false`."""
    word = str(value).strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false (also 1/0, yes/no, on/off)")


def _csv(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        f"sqlite:///{VAR_DIR / 'spamguard.db'}",
        "SQLAlchemy URL. SQLite file by default; `postgresql+psycopg://user@host/db` in production.",
    ),
    Setting(
        "SPAMGUARD_DB_CONNECT_TIMEOUT",
        2.0,
        "Seconds to wait for a PostgreSQL connection (libpq: whole seconds, at least 2).",
        float,
    ),
    Setting(
        "SPAMGUARD_DB_STATEMENT_TIMEOUT",
        5.0,
        "Seconds one PostgreSQL statement may run (`statement_timeout`; 0 = no limit).",
        float,
    ),
    Setting("SPAMGUARD_DB_POOL_TIMEOUT", 2.0, "Seconds to wait for a free pooled database connection.", float),
    Setting(
        "SPAMGUARD_SQLITE_BUSY_TIMEOUT",
        3.0,
        "Seconds SQLite waits for another writer's lock (well below gunicorn's 30 s worker timeout).",
        float,
    ),
    Setting(
        "REDIS_URL",
        "redis://127.0.0.1:6379/0",
        "Redis for rate limits, usage counters, reputation and the job queue "
        "(`redis+cluster://host:port` for Redis Cluster; `memory://` keeps it in the process: "
        "single-process development and unit tests only).",
    ),
    Setting("SPAMGUARD_REDIS_PREFIX", "sg:", "Prefix of every Redis key (lets deployments share one Redis)."),
    Setting("SPAMGUARD_REDIS_TIMEOUT", 0.05, "Seconds a Redis call may take before it is treated as down.", float),
    Setting("SPAMGUARD_MODEL_DIR", str(VAR_DIR / "models"), "Model registry directory (artifacts + manifests)."),
    Setting(
        "SPAMGUARD_MODEL_RELOAD_SECONDS",
        2.0,
        "How often a worker checks the registry for a newly promoted model.",
        float,
    ),
    Setting(
        "SPAMGUARD_BASE_HOSTS",
        ["rest.akismet.com", "akismet.local", "localhost"],
        "Comma-separated API host names; `<key>.<base>` in the Host header carries the key.",
        _csv,
    ),
    Setting("SPAMGUARD_MAX_BODY_BYTES", 256 * 1024, "Largest request body accepted (bytes).", int),
    Setting("SPAMGUARD_MAX_FIELD_CHARS", 65536, "Longest single form field kept (characters).", int),
    Setting(
        "SPAMGUARD_DISCARD_TRIGGER",
        "akismet-guaranteed-discard",
        "Author name that always answers `true` + `X-akismet-pro-tip: discard` (for client tests).",
    ),
    Setting(
        "SPAMGUARD_RATE_LIMIT_KEY",
        "30000/minute;1000/second",
        "Per-API-key limit (`limits` notation, e.g. 1000/second): 500 checks/s sustained, bursts to 1000/s; sites can override.",
    ),
    Setting(
        "SPAMGUARD_RATE_LIMIT_COMMENTER_IP",
        "5/minute",
        "Comments per commenter IP before the burst counts as a spam signal (never refused).",
    ),
    Setting(
        "SPAMGUARD_REPUTATION_MIN_SITES",
        3,
        "Distinct other sites that must report a value before their reports move a site's verdict.",
        int,
    ),
    Setting("SPAMGUARD_MONTHLY_LIMIT", 0, "Default monthly call allowance per key; 0 = unlimited (`none`).", int),
    Setting(
        "SPAMGUARD_FLUSH_SECONDS",
        30.0,
        "How often usage counters are saved to the DB and unsynced feedback is replayed into Redis.",
        float,
    ),
    Setting(
        "SPAMGUARD_CHECK_WRITE_BEHIND_MS",
        100,
        "Check rows are inserted in batches by one thread per worker at most this long after the answer and on "
        "shutdown (a killed worker loses its last interval's rows); 0 = each check inserts its row before "
        "answering. Feedback is never deferred.",
        int,
    ),
    Setting(
        "SPAMGUARD_BACKGROUND_TASKS",
        True,
        "Run that flush/catch-up loop in each web worker (the `worker` command always runs it).",
        _bool,
    ),
    Setting(
        "SPAMGUARD_PROMOTE_TOLERANCE",
        0.005,
        "How much worse (AUC / recall@1%FPR) a candidate may be and still auto-promote.",
        float,
    ),
    Setting(
        "SPAMGUARD_TRIGGER_TOLERANCE",
        0.05,
        "Gate-set spam recall a candidate may lose when one word that moved toward ham is appended.",
        float,
    ),
    Setting(
        "SPAMGUARD_FEEDBACK_CAP_PER_KEY", 200, "Most labelled comments one reporting key contributes to a retrain.", int
    ),
    Setting(
        "SPAMGUARD_IMPLICIT_HAM_DAYS",
        3.0,
        "A checked comment answered ham and not reported for this many days counts as ham when retraining.",
        float,
    ),
    Setting(
        "SPAMGUARD_CHECK_RETENTION_DAYS",
        90.0,
        "Checked comments older than this are deleted (every 10 minutes per process) unless a label, callback or decision "
        "refers to them; 0 keeps them all. Never less than SPAMGUARD_IMPLICIT_HAM_DAYS.",
        float,
    ),
    Setting(
        "SPAMGUARD_SITE_ADAPTATION",
        True,
        "Let each site's own labels (submit-spam/ham, moderator decisions) correct the global model for that "
        "site only, from the next check on.",
        _bool,
    ),
    Setting(
        "SPAMGUARD_SITE_ADAPT_MIN_LABELS", 10, "Labels a site must have sent before its own correction applies.", int
    ),
    Setting("SPAMGUARD_SITE_ADAPT_MAX_LABELS", 500, "Most recent labels of a site its correction is fitted on.", int),
    Setting(
        "SPAMGUARD_SITE_ADAPT_CAP",
        4.0,
        "Most a site's own correction may move a score, in log-odds (4 = from 0.98 to 0.5).",
        float,
    ),
    Setting(
        "SPAMGUARD_SITE_ADAPT_REFIT_SECONDS",
        600.0,
        "A site's correction is refitted in the background when older than this (and after each label).",
        float,
    ),
    Setting(
        "SPAMGUARD_LOGIN_MAX_FAILURES",
        5,
        "Failed moderator logins per username and IP in 15 minutes before login is refused.",
        int,
    ),
    Setting(
        "SPAMGUARD_LOGIN_MAX_PER_IP",
        20,
        "Login attempts per client IP in 15 minutes (successes are refunded), checked before argon2.",
        int,
    ),
    Setting(
        "SPAMGUARD_LOGIN_MAX_GLOBAL",
        60,
        "Password verifications per minute across all clients and workers (bounds argon2 CPU).",
        int,
    ),
    Setting(
        "SPAMGUARD_TRUSTED_PROXIES",
        0,
        "Reverse proxies in front of SpamGuard (hops); their X-Forwarded-For/-Proto are believed. 0 = none.",
        int,
    ),
    Setting(
        "SPAMGUARD_SESSION_IDLE_HOURS", 12.0, "Hours without a request after which a moderator session expires.", float
    ),
    Setting(
        "SPAMGUARD_DELIVERY_ALLOW_PRIVATE",
        "",
        "CIDR list of private/loopback addresses callbacks and webhooks may reach (default: public only).",
    ),
    Setting("SPAMGUARD_DELIVERY_TIMEOUT", 5.0, "Seconds one callback/webhook POST may take.", float),
    Setting("SPAMGUARD_DELIVERY_MAX_ATTEMPTS", 10, "Attempts per delivery before it is marked failed.", int),
    Setting(
        "SPAMGUARD_DELIVERY_BACKOFF_SECONDS", 30.0, "First retry delay; doubles per attempt (capped at 6 h).", float
    ),
    Setting(
        "SPAMGUARD_DELIVERY_SWEEP_SECONDS",
        15.0,
        "How often `spamguard worker` sends due retries and applies the timeout policy.",
        float,
    ),
    Setting(
        "SPAMGUARD_DECISION_TIMEOUT_SECONDS",
        3600,
        "How long an `unsure` comment with an Akismet callback waits for a moderator "
        "(sent as X-akismet-recheck-after).",
        int,
    ),
    Setting(
        "SPAMGUARD_DECISION_TIMEOUT_POLICY",
        "ham",
        "Decision sent to the callback when nobody decided in time: ham (publish), spam, or none.",
        lambda v: v.strip().lower(),
    ),
    Setting("SECRET_KEY", "", "Flask session secret. Generated and kept in var/secret_key when empty."),
    Setting(
        "SPAMGUARD_KEY_SECRET",
        "",
        "Server-side secret of the API keys' HMAC-SHA256. Generated and kept in var/key_secret when empty.",
    ),
    Setting("SPAMGUARD_SECURE_COOKIES", False, "Mark session cookies Secure (set behind HTTPS).", _bool),
    Setting("SPAMGUARD_LOG_LEVEL", "INFO", "Log level; logs are one JSON object per line."),
)


# Settings read by gunicorn.conf.py, `spamguard serve`, /metrics and the worker rather than by create_app.
SETTINGS += (
    Setting(
        "SPAMGUARD_VAR_DIR",
        str(VAR_DIR),
        "Where the default SQLite file, models and generated secret live (`var/` of the checkout, "
        "else of the working directory).",
    ),
    Setting(
        "SPAMGUARD_DATA_DIR",
        "",
        "Training corpora; empty = `data/` of the checkout, else the copy installed with the package.",
    ),
    Setting(
        "SPAMGUARD_ENV_FILE",
        ".env",
        "File of `NAME=value` lines read before the environment (which wins); missing is fine.",
    ),
    Setting(
        "SPAMGUARD_BIND",
        "127.0.0.1:8000",
        "Address gunicorn listens on (`host:port`); `spamguard serve --host/--port` override it.",
    ),
    Setting("SPAMGUARD_WORKERS", 2, "gunicorn worker processes (about one per core).", int),
    Setting("SPAMGUARD_THREADS", 4, "Threads per gunicorn worker.", int),
    Setting(
        "SPAMGUARD_LISTEN_PER_WORKER",
        True,
        "Give each gunicorn worker its own listening socket (SO_REUSEPORT) for a TCP bind, so the kernel spreads "
        "connections over the workers; off: one shared socket (see Sizing and scaling out).",
        _bool,
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        "",
        "Directory where gunicorn workers write metrics for /metrics to add up (emptied when gunicorn "
        "starts; one per server); a fresh temporary "
        "directory per server when empty.",
    ),
    Setting(
        "SPAMGUARD_METRICS_TOKEN",
        "",
        "When set, /metrics answers only `Authorization: Bearer <token>` (401 otherwise).",
    ),
    Setting(
        "SPAMGUARD_QUEUE_REDIS_URL",
        "",
        "Redis for the job queue and worker heartbeats; empty = `REDIS_URL`. Set it to a plain Redis when "
        "`REDIS_URL` is a cluster (`redis+cluster://host:port`): RQ does not run on Redis Cluster.",
    ),
    Setting(
        "SPAMGUARD_WORKER_HEARTBEAT_SECONDS",
        10.0,
        "How often `spamguard worker` reports alive; it counts as down after 3 missed beats.",
        float,
    ),
)

_TYPES: dict[Any, Any] = {str: str, int: int, float: float}
# Names of what each type expects, for error messages.
_FORMS = {
    int: "a whole number, e.g. 30",
    float: "a number, e.g. 30 or 0.5 (no unit)",
    _bool: "true or false (also 1/0, yes/no, on/off)",
    _csv: "comma-separated names, e.g. a.example,b.example",
    str: "text",
}


class ConfigError(ValueError):
    """One or more settings have values SpamGuard cannot use; the message names each one."""


def _check_log_level(value: str) -> str:
    import logging

    if not isinstance(logging.getLevelName(value.upper()), int):
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value.upper()


def _check_rate_limit(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError("expected a rate limit such as 100/second or 30000/minute;1000/second") from None
    return value


def _check_database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(value)
    except ArgumentError:
        raise ValueError(
            "expected an SQLAlchemy URL such as sqlite:///var/spamguard.db or postgresql+psycopg://user@host/db"
        ) from None
    return value


def _check_redis_url(value: str) -> str:
    if not value.startswith(("redis://", "rediss://", "unix://", "redis+cluster://", "memory://")):
        raise ValueError("expected redis://host:port/db, rediss://…, unix://…, redis+cluster://host:port or memory://")
    return value


def _check_bind(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not value.startswith("unix:") and not (sep and host and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError("expected host:port, e.g. 0.0.0.0:8000 (or unix:/path)")
    return value


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "SPAMGUARD_LOG_LEVEL": _check_log_level,
    "SPAMGUARD_RATE_LIMIT_KEY": _check_rate_limit,
    "SPAMGUARD_RATE_LIMIT_COMMENTER_IP": _check_rate_limit,
    "DATABASE_URL": _check_database_url,
    "REDIS_URL": _check_redis_url,
    "SPAMGUARD_QUEUE_REDIS_URL": lambda v: v and _check_redis_url(v),
    "SPAMGUARD_BIND": _check_bind,
}
_POSITIVE = {
    "SPAMGUARD_WORKERS",
    "SPAMGUARD_THREADS",
    "SPAMGUARD_FLUSH_SECONDS",
    "SPAMGUARD_REDIS_TIMEOUT",
    "SPAMGUARD_MODEL_RELOAD_SECONDS",
    "SPAMGUARD_MAX_BODY_BYTES",
    "SPAMGUARD_MAX_FIELD_CHARS",
    "SPAMGUARD_WORKER_HEARTBEAT_SECONDS",
}


def _field(setting: Setting) -> tuple[Any, Any]:
    from typing import Annotated

    from pydantic import AfterValidator, BeforeValidator, Field
    from pydantic_settings import NoDecode

    if setting.parse is _bool:
        kind: Any = Annotated[bool, BeforeValidator(lambda v: v if isinstance(v, bool) else _bool(v))]
    elif setting.parse is _csv:
        kind = Annotated[list[str], NoDecode, BeforeValidator(lambda v: _csv(v) if isinstance(v, str) else v)]
    else:
        kind = _TYPES.get(setting.parse, str)
    constraints: dict[str, Any] = {}
    if setting.name in _POSITIVE:
        constraints["gt"] = 0
    elif kind in (int, float):
        constraints["ge"] = 0
    if setting.name in _CHECKS:
        kind = Annotated[kind, AfterValidator(_CHECKS[setting.name])]
    return kind, Field(default=setting.default, description=setting.help, **constraints)


@functools.cache
def _model(sources: str) -> Any:
    """The pydantic-settings class for SETTINGS; `sources` is "env" (environment + .env) or "init" (a dict)."""
    from pydantic import create_model
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Base(BaseSettings):
        model_config = SettingsConfigDict(
            case_sensitive=True, extra="ignore", env_ignore_empty=True, validate_default=False, protected_namespaces=()
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: Any,
            init_settings: Any,
            env_settings: Any,
            dotenv_settings: Any,
            file_secret_settings: Any,
        ) -> tuple[Any, ...]:
            return (env_settings, dotenv_settings) if sources == "env" else (init_settings,)

    # Fields built from SETTINGS at run time, which create_model's overloads cannot see.
    return create_model("Settings", __base__=Base, **{s.name: _field(s) for s in SETTINGS})  # type: ignore[call-overload]


def _describe(error: Mapping[str, Any]) -> str:
    name = str(error["loc"][0]) if error.get("loc") else "?"
    setting = next((s for s in SETTINGS if s.name == name), None)
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    if error.get("type") in ("greater_than", "greater_than_equal"):
        message = "expected a number " + message.removeprefix("Input should be ")
    if setting is not None and error.get("type") not in ("value_error", "greater_than", "greater_than_equal"):
        message = f"expected {_FORMS.get(setting.parse, 'text')}"
    value = error.get("input")
    secret = "TOKEN" in name or "SECRET" in name or "@" in str(value)  # never echo credentials
    shown = "" if value is None or setting is None or secret else f"={value!s}"
    return f"{name}{shown}: {message}"


def from_env(environ: dict[str, str] | None = None, env_file: str | None = None) -> dict[str, Any]:
    """Read and validate every setting; raise ConfigError naming each bad variable.

    With `environ=None` the process environment is read, over the `.env` file
    (`env_file`, else $SPAMGUARD_ENV_FILE, else ./.env); an explicit `environ`
    mapping is used alone (tests, tools).  Empty values mean "the default".
    """
    from pydantic import ValidationError

    try:
        if environ is None:
            path = env_file or os.environ.get("SPAMGUARD_ENV_FILE") or ".env"
            values = _model("env")(_env_file=path)
        else:
            raw = {s.name: environ[s.name] for s in SETTINGS if environ.get(s.name) not in (None, "")}
            values = _model("init")(**raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
    dumped: dict[str, Any] = values.model_dump()
    return dumped


def markdown_table() -> str:
    """The README's settings table, generated from SETTINGS."""

    def default(setting: Setting) -> str:
        value = setting.default
        if setting.name == "SECRET_KEY":
            return "(generated)"
        if value in ("", None):
            return "(empty)"
        if isinstance(value, list):
            value = ",".join(value)
        value = str(value)
        if str(VAR_DIR) in value:
            value = value.replace(str(VAR_DIR), "var")
        return f"`{value}`"

    rows = ["| Setting | Default | Meaning |", "| --- | --- | --- |"]
    rows += [f"| `{s.name}` | {default(s)} | {s.help} |" for s in SETTINGS]
    return "\n".join(rows) + "\n"


def ensure_secret_key(config: dict[str, Any]) -> str:
    """Return SECRET_KEY, creating a persistent random one on first use.

    A fixed default secret would let anyone forge moderator sessions, so an
    unset key becomes a random value stored next to the SQLite database.
    """
    return config.get("SECRET_KEY") or _stored_secret("secret_key", "SECRET_KEY")


def ensure_key_secret(config: dict[str, Any]) -> str:
    """Return SPAMGUARD_KEY_SECRET (the API keys' HMAC key), created like SECRET_KEY when unset.

    Every process that creates or checks keys (web workers, CLI) must see the same
    value: set it explicitly when they do not share SPAMGUARD_VAR_DIR.
    """
    return config.get("SPAMGUARD_KEY_SECRET") or _stored_secret("key_secret", "SPAMGUARD_KEY_SECRET")


def _stored_secret(filename: str, setting: str) -> str:
    path = VAR_DIR / filename
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
        raise RuntimeError(f"{path} is empty; delete it or set {setting}") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def main(argv: list[str] | None = None) -> int:
    """`--markdown` prints the settings table, `--update-readme [README.md]` rewrites it there;
    without arguments the current environment (and .env) is validated."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if "--markdown" in args:
        sys.stdout.write(markdown_table())
        return 0
    if "--update-readme" in args:  # rewrite the table between the README's settings-table markers
        import re

        readme = Path(
            args[args.index("--update-readme") + 1] if len(args) > args.index("--update-readme") + 1 else "README.md"
        )
        text, count = re.subn(
            r"(<!-- settings-table:start -->\n).*?(<!-- settings-table:end -->)",
            lambda m: m.group(1) + markdown_table() + m.group(2),
            readme.read_text(),
            flags=re.S,
        )
        if not count:
            print(f"{readme} has no settings-table markers", file=sys.stderr)
            return 1
        readme.write_text(text)
        return 0
    try:
        from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print("configuration is valid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

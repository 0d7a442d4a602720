"""The `spamguard` command: keys, database, serving, models, users, background worker.

Every command reads DATABASE_URL / REDIS_URL (and the other settings in
spamguard/config.py) from the environment or `.env`.  Operator mistakes end in
one line saying what to do (a bad setting, an unreachable or unmigrated
database), never a traceback; listings are for people, `--json` for scripts.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import click

from spamguard import config as settings
from spamguard import sites, storage
from spamguard.scoring.registry import Registry
from spamguard.storage.models import Site
from spamguard.storage.queries.sites import all_sites


def _config() -> dict:
    return settings.from_env()


def _key_secret() -> str:
    return settings.ensure_key_secret(_config())


def _session(check_schema: bool = True):
    """A session on DATABASE_URL; refuses (with what to run) when the schema is missing or old."""
    url = _config()["DATABASE_URL"]
    if check_schema:
        problem = storage.schema_problem(url)
        if problem:
            raise click.ClickException(problem)
    return storage.make_sessionmaker(url)()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "DATABASE_URL"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


class LazyGroup(click.Group):
    """A group whose `lazy` subcommands are imported by dotted name only when used or listed.

    `spamguard model ...` lives in the training package, which serving must not import
    (the import-linter contract in pyproject.toml); the console script still offers it.
    """

    lazy = {"model": "model_training.cli:model"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, _, attr = self.lazy[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


class OperatorErrors(LazyGroup):
    """Turns configuration, database and Redis failures into one-line errors."""

    def invoke(self, ctx: click.Context):
        import redis
        from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except settings.ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except (OperationalError, ProgrammingError) as exc:
            message = _first_line(exc)
            if "no such table" in message or "does not exist" in message and "relation" in message:
                raise click.ClickException(
                    "the database has no SpamGuard tables yet: run `spamguard db upgrade`"
                ) from None
            url = os.environ.get("DATABASE_URL") or _config()["DATABASE_URL"]
            raise click.ClickException(f"cannot use the database at {_safe_url(url)}: {message}") from None
        except DBAPIError as exc:
            raise click.ClickException(f"database error: {_first_line(exc)}") from None
        except redis.ConnectionError as exc:
            raise click.ClickException(f"cannot reach Redis (REDIS_URL): {_first_line(exc)}") from None


def _emit(data, human: str, as_json: bool) -> None:
    click.echo(json.dumps(data, default=str) if as_json else human)


@click.group(cls=OperatorErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spamguard", prog_name="spamguard")
def cli() -> None:
    """SpamGuard: a self-hosted, Akismet-compatible comment-spam filter."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to DATABASE_URL."""
    storage.upgrade(_config()["DATABASE_URL"])
    click.echo("database is up to date")


@db.command("status")
def db_status() -> None:
    """Say whether DATABASE_URL is reachable and migrated (exit 1 when it needs `db upgrade`)."""
    url = _config()["DATABASE_URL"]
    problem = storage.schema_problem(url)
    if problem:
        raise click.ClickException(problem)
    click.echo(f"{_safe_url(url)}: up to date")


@db.command("prune")
@click.option("--days", type=float, help="Retention in days (default: SPAMGUARD_CHECK_RETENTION_DAYS).")
def db_prune(days: float | None) -> None:
    """Delete the checks past the retention period now (what the maintenance loop does every 10 minutes)."""
    from spamguard.jobs.retention import CheckRetention
    from spamguard.storage.write_lock import WriteLock

    config = _config()
    if days is not None:
        config = {**config, "SPAMGUARD_CHECK_RETENTION_DAYS": days}
    url = config["DATABASE_URL"]
    retention = CheckRetention.for_config(config, WriteLock.for_url(url, config["SPAMGUARD_SQLITE_BUSY_TIMEOUT"]))
    if retention.days <= 0:
        click.echo("retention is 0 days: every check is kept")
        return
    click.echo(f"deleting checks older than {retention.days:g} days that no label, callback or decision refers to ...")
    with storage.make_sessionmaker(url)() as session:
        total = 0
        while deleted := retention.purge(session):  # a pass is bounded; repeat until none is left
            total += deleted
            click.echo(f"  {total:,} deleted so far")
    click.echo(f"{total:,} checks deleted")


@cli.group()
def keys() -> None:
    """Sites and their API keys."""


def _site_row(site: Site) -> dict:
    return {
        "id": site.id,
        "url": site.url,
        "key_hint": site.key_hint,
        "state": "revoked" if site.is_revoked else "active",
        "revoked_at": site.revoked_at.isoformat() if site.revoked_at else None,
        "thresholds": site.thresholds or None,
        "rate_limit": site.rate_limit,
        "monthly_limit": site.monthly_limit,
        "share_reputation": site.share_reputation,
    }


def _thresholds_text(thresholds: dict | None) -> str:
    if not thresholds:
        return "model"
    return ",".join(f"{name}={value:.3g}" for name, value in sorted(thresholds.items()))


@keys.command("create")
@click.option("--site", "url", required=True, help="The site's front-page URL, e.g. https://blog.example")
@click.option("--json", "as_json", is_flag=True, help="Print {site, key} as JSON.")
def keys_create(url: str, as_json: bool) -> None:
    """Create a site and print its new API key (last line of output)."""
    storage.upgrade(_config()["DATABASE_URL"])
    with _session() as session:
        site, key = sites.create_site(session, url, secret=_key_secret())
        _emit(
            {**_site_row(site), "key": key},
            f"created site {site.id} for {site.url} (hint {site.key_hint}); store this key now, it is not shown again:\n{key}",
            as_json,
        )


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of sites (no keys: only hints).")
def keys_list(as_json: bool) -> None:
    """List sites and their keys' hints (random labels shown when each key was created)."""
    with _session() as session:
        rows = all_sites(session)
        if as_json:
            click.echo(json.dumps([_site_row(site) for site in rows]))
            return
        if not rows:
            click.echo("no keys yet: spamguard keys create --site URL")
        for site in rows:
            state = f"revoked {site.revoked_at:%Y-%m-%d}" if site.is_revoked else "active"
            limits = (
                f"thresholds {_thresholds_text(site.thresholds)}, rate {site.rate_limit or 'default'}, "
                f"monthly {site.monthly_limit or 'default'}"
            )
            sharing = "shared" if site.share_reputation else "private"
            click.echo(f"{site.id:>4}  hint {site.key_hint}  {state:<18}  {sharing:<8} {site.url}  ({limits})")


@keys.command("rotate")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print {site, key} as JSON.")
def keys_rotate(key: str, as_json: bool) -> None:
    """Give KEY's site a new key (same site, settings and history); KEY answers `invalid` from now on."""
    with _session() as session:
        rotated = sites.rotate_key(session, key, secret=_key_secret())
        if rotated is None:
            raise click.ClickException("no active site has that key")
        site, new_key = rotated
        _emit(
            {**_site_row(site), "key": new_key},
            f"site {site.id} ({site.url}) has a new key; the old one no longer works. Store it now:\n{new_key}",
            as_json,
        )


@keys.command("revoke")
@click.argument("key")
def keys_revoke(key: str) -> None:
    """Revoke KEY: it answers `invalid` from now on."""
    with _session() as session:
        if not sites.revoke_key(session, key, secret=_key_secret()):
            raise click.ClickException("no active site has that key")
    click.echo("revoked")


@keys.command("configure")
@click.argument("key")
@click.option("--unsure", type=click.FloatRange(0, 1), help="Probability from which a comment is `unsure`.")
@click.option("--spam", type=click.FloatRange(0, 1), help="Probability from which a comment is `spam`.")
@click.option("--discard", type=click.FloatRange(0, 1), help="Probability from which spam is `discard`.")
@click.option("--reset-thresholds", is_flag=True, help="Use the model's thresholds again.")
@click.option("--rate-limit", help="This key's rate limit, e.g. '100/second' ('' = the default).")
@click.option("--monthly-limit", type=click.IntRange(0), help="Monthly call allowance (0 = unlimited).")
@click.option(
    "--share/--no-share",
    default=None,
    help="Take part in cross-site reputation (default), or keep this site's reports to itself "
    "and ignore other sites' reports.",
)
@click.option("--webhook", help="URL that receives this site's decisions, signed (prints the signing secret).")
@click.option("--no-webhook", is_flag=True, help="Stop sending decisions to the site's webhook.")
@click.option("--rotate-webhook-secret", is_flag=True, help="Issue a new webhook signing secret (printed).")
def keys_configure(
    key: str,
    unsure,
    spam,
    discard,
    reset_thresholds: bool,
    rate_limit,
    monthly_limit,
    share,
    webhook,
    no_webhook: bool,
    rotate_webhook_secret: bool,
) -> None:
    """Override KEY's verdict thresholds and limits (the model's and the settings' otherwise)."""
    with _session() as session:
        site = sites.find_site(session, key, secret=_key_secret())
        if site is None:
            raise click.ClickException("no active site has that key")
        try:
            changed_sharing = sites.configure_site(
                session,
                site,
                thresholds={"unsure": unsure, "spam": spam, "discard": discard},
                reset_thresholds=reset_thresholds,
                rate_limit=rate_limit,
                monthly_limit=monthly_limit,
                share=share,
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--rate-limit") from exc
        if changed_sharing:
            _replay_reports(session, site.id)
        click.echo(
            f"site {site.id}: thresholds {_thresholds_text(site.thresholds)}, "
            f"rate limit {site.rate_limit or 'default'}, monthly limit {site.monthly_limit or 'default'}, "
            f"sharing={'on' if site.share_reputation else 'off'}"
        )
        _configure_webhook(session, site, webhook, no_webhook, rotate_webhook_secret)


def _replay_reports(session, site_id: int) -> None:
    """Move the site's recent reports to the shared or private side of the reputation counters."""
    from spamguard.jobs.maintenance import build_state

    reputation = build_state(settings.from_env(), None).reputation
    marked = reputation.replay_site(session, site_id)
    if marked and not reputation.state.available:
        click.echo(f"redis unavailable: {marked} reports will be replayed by the background catch-up", err=True)


def _configure_webhook(session, site: Site, url: str | None, remove: bool, rotate: bool) -> None:
    from spamguard.delivery import webhooks
    from spamguard.delivery.settings import DeliverySettings
    from spamguard.delivery.urls import UnsafeURL

    if url is None and not remove and not rotate:
        return
    config = _config()
    config["SECRET_KEY"] = settings.ensure_secret_key(config)
    delivery_settings = DeliverySettings.from_config(config)
    if remove:
        click.echo("webhook removed" if webhooks.remove_webhook(session, site) else "no webhook was set")
        return
    try:
        secret = (
            webhooks.set_webhook(session, site, url, delivery_settings, rotate)
            if url is not None
            else webhooks.rotate_secret(session, site, delivery_settings)
        )
    except UnsafeURL as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook") from exc
    if secret is None:
        raise click.ClickException("this site has no webhook; set one with --webhook URL")
    click.echo(
        "webhook signing secret (verify X-SpamGuard-Signature with it; shown again only by "
        "--rotate-webhook-secret, which replaces it):"
    )
    click.echo(secret)


@cli.command()
@click.option("--host", default=None, help="Listen address [default: host of SPAMGUARD_BIND].")
@click.option("--port", default=None, type=int, help="Listen port [default: port of SPAMGUARD_BIND].")
@click.option("--workers", default=None, type=click.IntRange(1), help="Worker processes [default: SPAMGUARD_WORKERS].")
@click.option(
    "--threads", default=None, type=click.IntRange(1), help="Threads per worker [default: SPAMGUARD_THREADS]."
)
@click.option(
    "--train/--no-train", default=True, show_default=True, help="Train a model first when the registry has none."
)
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None, train: bool) -> None:
    """Run the service under gunicorn (migrating a fresh database first)."""
    config = _config()
    storage.upgrade(config["DATABASE_URL"])
    if Registry(config["SPAMGUARD_MODEL_DIR"]).current_version() is None:
        if not train:
            raise click.ClickException("no promoted model: run `spamguard model train` first")
        click.echo("no model yet: training one from the bundled corpora (about a minute)")
        # A child process: training code and its memory never enter the serving process.
        trained = subprocess.run(
            [sys.executable, "-m", "model_training", "--model-dir", config["SPAMGUARD_MODEL_DIR"], "train"], check=False
        )
        if trained.returncode != 0:
            raise click.ClickException("training the first model failed (see above)")
    bind_host, _, bind_port = config["SPAMGUARD_BIND"].rpartition(":")
    bind = f"{host or bind_host}:{port or bind_port}"
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:spamguard.gunicorn_conf",
        "--bind",
        bind,
        "--workers",
        str(workers or config["SPAMGUARD_WORKERS"]),
        "--threads",
        str(threads or config["SPAMGUARD_THREADS"]),
        "spamguard.wsgi:app",
    ]
    click.echo(f"serving on http://{bind}")
    os.execv(sys.executable, args)


def _add_subcommands() -> None:
    from spamguard.jobs.queue import worker, worker_health
    from spamguard.moderation.cli import users

    for command in (worker, worker_health, users):
        cli.add_command(command)


_add_subcommands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

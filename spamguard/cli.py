"""The `spamguard` command: keys, database, serving, models, users, background worker.

Every command reads DATABASE_URL / REDIS_URL (and the other settings in
spamguard/config.py) from the environment.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import click
from sqlalchemy import select

from spamguard import config as settings
from spamguard import sites, storage
from spamguard.scoring.registry import Registry
from spamguard.storage.models import Site


def _session():
    return storage.make_sessionmaker(settings.from_env()["DATABASE_URL"])()


def _key_secret() -> str:
    return settings.ensure_key_secret(settings.from_env())


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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """SpamGuard: a self-hosted, Akismet-compatible comment-spam filter."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to DATABASE_URL."""
    storage.upgrade(settings.from_env()["DATABASE_URL"])
    click.echo("database is up to date")


@cli.group()
def keys() -> None:
    """Sites and their API keys."""


@keys.command("create")
@click.option("--site", "url", required=True, help="The site's front-page URL, e.g. https://blog.example")
def keys_create(url: str) -> None:
    """Create a site and print its new API key (last line of output)."""
    storage.upgrade(settings.from_env()["DATABASE_URL"])
    with _session() as session:
        site, key = sites.create_site(session, url, secret=_key_secret())
        click.echo(f"created site {site.id} for {site.url} (hint {site.key_hint}); "
                   "store this key now, it is not shown again:")
        click.echo(key)


@keys.command("list")
def keys_list() -> None:
    """List sites and their keys' hints (random labels shown when each key was created)."""
    with _session() as session:
        rows = session.scalars(select(Site).order_by(Site.id)).all()
        if not rows:
            click.echo("no keys yet: spamguard keys create --site URL")
        for site in rows:
            state = f"revoked {site.revoked_at:%Y-%m-%d}" if site.is_revoked else "active"
            sharing = "shared" if site.share_reputation else "private"
            click.echo(f"{site.id:>4}  hint {site.key_hint}  {state:<18}  {sharing:<8} {site.url}")


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
@click.option("--share/--no-share", default=None,
              help="Take part in cross-site reputation (default), or keep this site's reports to itself "
                   "and ignore other sites' reports.")
@click.option("--webhook", help="URL that receives this site's decisions, signed (prints the signing secret).")
@click.option("--no-webhook", is_flag=True, help="Stop sending decisions to the site's webhook.")
@click.option("--rotate-webhook-secret", is_flag=True, help="Issue a new webhook signing secret (printed).")
def keys_configure(key: str, unsure, spam, discard, reset_thresholds: bool, rate_limit, monthly_limit,
                   share, webhook, no_webhook: bool, rotate_webhook_secret: bool) -> None:
    """Override KEY's verdict thresholds and limits (the model's and the settings' otherwise)."""
    from limits import parse_many

    with _session() as session:
        site = sites.find_site(session, key, secret=_key_secret())
        if site is None:
            raise click.ClickException("no active site has that key")
        thresholds = {} if reset_thresholds else dict(site.thresholds or {})
        thresholds.update({name: value for name, value in
                           (("unsure", unsure), ("spam", spam), ("discard", discard)) if value is not None})
        site.thresholds = thresholds or None
        if rate_limit is not None:
            rate_limit = rate_limit.strip()
            if rate_limit:
                try:
                    parse_many(rate_limit)
                except ValueError as exc:
                    raise click.BadParameter(str(exc), param_hint="--rate-limit") from exc
            site.rate_limit = rate_limit or None
        if monthly_limit is not None:
            site.monthly_limit = monthly_limit or None
        changed_sharing = share is not None and share != site.share_reputation
        if share is not None:
            site.share_reputation = share
        session.commit()
        if changed_sharing:
            _replay_reports(session, site.id)
        click.echo(f"thresholds={site.thresholds or 'model'} rate_limit={site.rate_limit or 'default'} "
                   f"monthly_limit={site.monthly_limit or 'default'} "
                   f"sharing={'on' if site.share_reputation else 'off'}")
        _configure_webhook(session, site, webhook, no_webhook, rotate_webhook_secret)


def _replay_reports(session, site_id: int) -> None:
    """Move the site's recent reports to the shared or private side of the reputation counters."""
    from spamguard.limits.maintenance import build_services

    reputation = build_services(settings.from_env(), None).reputation
    marked = reputation.replay_site(session, site_id)
    if marked and not reputation.state.available:
        click.echo(f"redis unavailable: {marked} reports will be replayed by the background catch-up", err=True)


def _configure_webhook(session, site: Site, url: str | None, remove: bool, rotate: bool) -> None:
    from spamguard.delivery import webhooks
    from spamguard.delivery.settings import DeliverySettings
    from spamguard.delivery.urls import UnsafeURL

    if url is None and not remove and not rotate:
        return
    config = settings.from_env()
    config["SECRET_KEY"] = settings.ensure_secret_key(config)
    delivery_settings = DeliverySettings.from_config(config)
    if remove:
        click.echo("webhook removed" if webhooks.remove_webhook(session, site) else "no webhook was set")
        return
    try:
        secret = (webhooks.set_webhook(session, site, url, delivery_settings, rotate) if url is not None
                  else webhooks.rotate_secret(session, site, delivery_settings))
    except UnsafeURL as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook") from exc
    if secret is None:
        raise click.ClickException("this site has no webhook; set one with --webhook URL")
    click.echo("webhook signing secret (verify X-SpamGuard-Signature with it; shown again only by "
               "--rotate-webhook-secret, which replaces it):")
    click.echo(secret)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--train/--no-train", default=True, show_default=True,
              help="Train a model first when the registry has none.")
def serve(host: str, port: int, workers: int, train: bool) -> None:
    """Run the service under gunicorn (migrating a fresh database first)."""
    config = settings.from_env()
    storage.upgrade(config["DATABASE_URL"])
    if Registry(config["SPAMGUARD_MODEL_DIR"]).current_version() is None:
        if not train:
            raise click.ClickException("no promoted model: run `spamguard model train` first")
        click.echo("no model yet: training one from the bundled corpora (about a minute)")
        # A child process: training code and its memory never enter the serving process.
        trained = subprocess.run([sys.executable, "-m", "model_training", "--model-dir",
                                  config["SPAMGUARD_MODEL_DIR"], "train"], check=False)
        if trained.returncode != 0:
            raise click.ClickException("training the first model failed (see above)")
    conf = settings.PROJECT_ROOT / "gunicorn.conf.py"
    args = [sys.executable, "-m", "gunicorn", "-c", str(conf), "--bind", f"{host}:{port}",
            "--workers", str(workers), "spamguard.wsgi:app"]
    click.echo(f"serving on http://{host}:{port}")
    os.execv(sys.executable, args)


def _add_subcommands() -> None:
    from spamguard.limits.jobs import worker
    from spamguard.moderation.cli import users

    for command in (worker, users):
        cli.add_command(command)


_add_subcommands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

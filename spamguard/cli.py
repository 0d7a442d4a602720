"""The `spamguard` command: keys, database, serving, models, users, background worker.

Every command reads DATABASE_URL / REDIS_URL (and the other settings in
spamguard/config.py) from the environment.
"""
from __future__ import annotations

import os
import sys

import click
from sqlalchemy import select

from spamguard import config as settings
from spamguard import sites, storage
from spamguard.storage.models import Site


def _session():
    return storage.make_sessionmaker(settings.from_env()["DATABASE_URL"])()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
        site, key = sites.create_site(session, url)
        click.echo(f"created site {site.id} for {site.url}; store this key now, it is not shown again:")
        click.echo(key)


@keys.command("list")
def keys_list() -> None:
    """List sites and the first characters of their keys."""
    with _session() as session:
        rows = session.scalars(select(Site).order_by(Site.id)).all()
        if not rows:
            click.echo("no keys yet: spamguard keys create --site URL")
        for site in rows:
            state = f"revoked {site.revoked_at:%Y-%m-%d}" if site.is_revoked else "active"
            click.echo(f"{site.id:>4}  {site.key_hint}…  {state:<18}  {site.url}")


@keys.command("revoke")
@click.argument("key")
def keys_revoke(key: str) -> None:
    """Revoke KEY: it answers `invalid` from now on."""
    with _session() as session:
        if not sites.revoke_key(session, key):
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
@click.option("--webhook", help="URL that receives this site's decisions, signed (prints the signing secret).")
@click.option("--no-webhook", is_flag=True, help="Stop sending decisions to the site's webhook.")
@click.option("--rotate-webhook-secret", is_flag=True, help="Issue a new webhook signing secret (printed).")
def keys_configure(key: str, unsure, spam, discard, reset_thresholds: bool, rate_limit, monthly_limit,
                   webhook, no_webhook: bool, rotate_webhook_secret: bool) -> None:
    """Override KEY's verdict thresholds and limits (the model's and the settings' otherwise)."""
    from limits import parse_many

    with _session() as session:
        site = sites.find_site(session, key)
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
        session.commit()
        click.echo(f"thresholds={site.thresholds or 'model'} rate_limit={site.rate_limit or 'default'} "
                   f"monthly_limit={site.monthly_limit or 'default'}")
        _configure_webhook(session, site, webhook, no_webhook, rotate_webhook_secret)


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
    from model_training.registry import Registry

    if Registry(config["SPAMGUARD_MODEL_DIR"]).current_version() is None:
        if not train:
            raise click.ClickException("no promoted model: run `spamguard model train` first")
        from model_training.train import train_and_register

        click.echo("no model yet: training one from the bundled corpora (about a minute)")
        train_and_register(config["SPAMGUARD_MODEL_DIR"])
    conf = settings.PROJECT_ROOT / "gunicorn.conf.py"
    args = [sys.executable, "-m", "gunicorn", "-c", str(conf), "--bind", f"{host}:{port}",
            "--workers", str(workers), "spamguard.wsgi:app"]
    click.echo(f"serving on http://{host}:{port}")
    os.execv(sys.executable, args)


def _add_subcommands() -> None:
    from model_training.cli import model
    from spamguard.limits.jobs import worker
    from spamguard.moderation.cli import users

    for command in (model, worker, users):
        cli.add_command(command)


_add_subcommands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

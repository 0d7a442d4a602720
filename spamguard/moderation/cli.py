"""`spamguard users ...`: moderator and admin accounts for the web UI."""
from __future__ import annotations

import sys

import click
from sqlalchemy import select

from spamguard import config as settings
from spamguard import storage
from spamguard.moderation import passwords
from spamguard.storage.models import AuditLog, User


def _session():
    url = settings.from_env()["DATABASE_URL"]
    storage.upgrade(url)
    return storage.make_sessionmaker(url)()


@click.group()
def users() -> None:
    """Web UI accounts (moderators and admins)."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["moderator", "admin"]), default="moderator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def users_create(username: str, role: str, password_stdin: bool) -> None:
    """Create an account; the password is prompted for (hidden, twice) unless --password-stdin."""
    username = username.strip()
    if not username or len(username) > 150:
        raise click.ClickException("username must be 1 to 150 characters")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = passwords.check_password_policy(password)
    if problem:
        raise click.ClickException(problem)
    with _session() as session:
        if session.scalar(select(User).where(User.username == username)) is not None:
            raise click.ClickException(f"user {username!r} already exists")
        user = User(username=username, password_hash=passwords.hash_password(password), role=role)
        session.add(user)
        session.flush()
        session.add(AuditLog(user_id=None, action="user_create", target=username, details={"role": role, "via": "cli"}))
        session.commit()
        click.echo(f"created {role} {username}")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set USERNAME's password; every session they have open ends."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    problem = passwords.check_password_policy(password)
    if problem:
        raise click.ClickException(problem)
    with _session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        user.password_hash = passwords.hash_password(password)
        user.session_epoch = User.session_epoch + 1  # atomic: a copied session cookie dies with the old password
        session.add(AuditLog(user_id=None, action="user_password", target=username, details={"via": "cli"}))
        session.commit()
        click.echo(f"password of {username} changed; their sessions are ended")


@users.command("list")
def users_list() -> None:
    """List accounts."""
    with _session() as session:
        rows = session.scalars(select(User).order_by(User.id)).all()
        if not rows:
            click.echo("no users yet: spamguard users create --username NAME --role admin")
        for user in rows:
            state = "disabled" if user.disabled else "active"
            click.echo(f"{user.id:>4}  {user.username:<24} {user.role:<10} {state}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable USERNAME: their sessions stop working on the next request."""
    with _session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        user.disabled = True
        session.add(AuditLog(user_id=None, action="user_disable", target=username, details={"via": "cli"}))
        session.commit()
        click.echo(f"disabled {username}")

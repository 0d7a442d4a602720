"""`spamguard users ...`: moderator and admin accounts for the web UI."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from spamguard import config as settings
from spamguard import storage
from spamguard.moderation import accounts, passwords
from spamguard.storage.queries import users as user_queries


def _session():
    url = settings.from_env()["DATABASE_URL"]
    storage.upgrade(url)
    return storage.make_sessionmaker(url)()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = passwords.check_password_policy(password)  # before the prompt is forgotten, not after the lookup
    if problem:
        raise click.ClickException(problem)
    return password


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def users() -> None:
    """Web UI accounts (moderators and admins)."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(list(accounts.ROLES)), default="moderator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def users_create(username: str, role: str, password_stdin: bool) -> None:
    """Create an account; the password is prompted for (hidden, twice) unless --password-stdin."""
    username = username.strip()
    if not username or len(username) > accounts.MAX_USERNAME:
        raise click.ClickException(f"username must be 1 to {accounts.MAX_USERNAME} characters")
    password = _read_password(password_stdin)
    with _session() as session, _refusals():
        accounts.create_user(session, username, password, role, via="cli")
    click.echo(f"created {role} {username}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of accounts.")
def users_list(as_json: bool) -> None:
    """List accounts."""
    with _session() as session:
        rows = user_queries.all_users(session)
        if as_json:
            click.echo(
                json.dumps(
                    [
                        {
                            "id": u.id,
                            "username": u.username,
                            "role": u.role,
                            "disabled": u.disabled,
                            "created_at": u.created_at.isoformat() if u.created_at else None,
                        }
                        for u in rows
                    ]
                )
            )
            return
        if not rows:
            click.echo("no users yet: spamguard users create --username NAME --role admin")
        for user in rows:
            state = "disabled" if user.disabled else "active"
            click.echo(f"{user.id:>4}  {user.username:<24} {user.role:<10} {state}")


def _set_disabled(username: str, disabled: bool) -> None:
    with _session() as session, _refusals():
        accounts.set_disabled(session, username, disabled, via="cli")
    click.echo(f"{'disabled' if disabled else 'enabled'} {username}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable USERNAME: their sessions stop working on the next request."""
    _set_disabled(username, True)


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Enable USERNAME again."""
    _set_disabled(username, False)


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def users_passwd(username: str, password_stdin: bool) -> None:
    """Set USERNAME's password (prompted for, hidden, twice, unless --password-stdin); their sessions end."""
    with _session() as session:
        with _refusals():
            if user_queries.by_name(session, username) is None:  # say so before asking for a password
                raise accounts.AccountError(f"no user {username!r} (see `spamguard users list`)")
        password = _read_password(password_stdin)
        with _refusals():
            accounts.set_password(session, username, password, via="cli")
    click.echo(f"password changed for {username}; their open sessions are ended")

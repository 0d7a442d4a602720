"""The `spamguard` command on fresh, missing and misconfigured databases, and the account/key chores."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from spamguard.cli import cli

UNMIGRATED = "the database has no SpamGuard tables yet: run `spamguard db upgrade`"


def invoke(args, env, input=None):
    return CliRunner().invoke(cli, args, env={"SPAMGUARD_ENV_FILE": os.devnull, **env}, input=input)


@pytest.fixture
def env(tmp_path):
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "list"],
        ["keys", "revoke", "0123456789ab"],
        ["keys", "configure", "0123456789ab", "--spam", "0.9"],
        ["keys", "rotate", "0123456789ab"],
        ["db", "status"],
    ],
)
def test_fresh_database_says_what_to_run(env, args):
    result = invoke(args, env)
    assert result.exit_code == 1
    assert result.output == f"Error: {UNMIGRATED}\n"  # one line, no traceback
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unreachable_database_and_bad_settings_are_one_line(env):
    result = invoke(["keys", "list"], {"DATABASE_URL": "postgresql+psycopg://sg:hunter2@127.0.0.1:9/none"})
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "cannot use the database at postgresql+psycopg://sg:***@127.0.0.1:9/none" in result.output
    assert "hunter2" not in result.output

    result = invoke(["keys", "list"], {**env, "SPAMGUARD_FLUSH_SECONDS": "30s"})
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: invalid configuration: SPAMGUARD_FLUSH_SECONDS=30s: expected a number, e.g. 30 or 0.5 (no unit)"
    )


def test_version():
    result = invoke(["--version"], {})
    assert result.exit_code == 0 and result.output.startswith("spamguard, version ")


def test_keys_rotate_json_and_readable_thresholds(env):
    assert invoke(["db", "upgrade"], env).exit_code == 0
    assert invoke(["db", "status"], env).output.strip().endswith("up to date")
    created = json.loads(invoke(["keys", "create", "--site", "https://blog.example", "--json"], env).output)
    old_key = created["key"]
    assert invoke(["keys", "configure", old_key, "--spam", "0.812345678"], env).exit_code == 0
    assert "spam=0.812" in invoke(["keys", "list"], env).output  # not 16 decimals, not a dict

    rotated = invoke(["keys", "rotate", old_key], env)
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.strip().splitlines()[-1]
    assert len(new_key) == 12 and new_key != old_key
    listing = json.loads(invoke(["keys", "list", "--json"], env).output)
    hint = listing[0].pop("key_hint")
    assert len(hint) == 4 and hint != created["key_hint"]  # a fresh random hint, never derived from the key
    assert listing == [
        {
            "id": created["id"],
            "url": "https://blog.example",
            "state": "active",
            "revoked_at": None,
            "thresholds": {"spam": 0.812345678},
            "rate_limit": None,
            "monthly_limit": None,
            "share_reputation": True,
        }
    ]
    assert "no active site" in invoke(["keys", "rotate", old_key], env).output  # the old key is dead
    assert invoke(["keys", "revoke", new_key], env).exit_code == 0


def test_users_passwd_disable_enable_list(env, make_app):
    assert invoke(["users", "list"], env).output.startswith("no users yet")  # works on a fresh database
    assert (
        invoke(
            ["users", "create", "--username", "ann", "--password-stdin"], env, input="first long password\n"
        ).exit_code
        == 0
    )
    assert invoke(["users", "passwd", "ann", "--password-stdin"], env, input="short\n").exit_code == 1
    changed = invoke(["users", "passwd", "ann", "--password-stdin"], env, input="second long password\n")
    assert changed.exit_code == 0, changed.output
    assert invoke(["users", "disable", "ann"], env).exit_code == 0
    assert json.loads(invoke(["users", "list", "--json"], env).output)[0]["disabled"] is True
    assert invoke(["users", "enable", "ann"], env).exit_code == 0
    assert json.loads(invoke(["users", "list", "--json"], env).output)[0]["disabled"] is False
    assert invoke(["users", "passwd", "bob", "--password-stdin"], env, input="x\n").output.startswith(
        "Error: no user 'bob'"
    )

    # The new password logs in through the real UI; the old one does not.
    app = make_app(env["DATABASE_URL"])
    client = app.test_client()
    import re

    def login(password):
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return client.post("/login", data={"username": "ann", "password": password, "csrf_token": token})

    assert login("first long password").status_code != 302
    assert login("second long password").status_code == 302


def test_serve_honours_bind_workers_threads(env, monkeypatch, model_dir):
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, args: calls.append(args))
    settings = {
        **env,
        "SPAMGUARD_MODEL_DIR": str(model_dir),
        "SPAMGUARD_BIND": "0.0.0.0:9123",
        "SPAMGUARD_WORKERS": "3",
        "SPAMGUARD_THREADS": "5",
    }
    assert invoke(["serve"], settings).exit_code == 0
    args = calls[-1]
    assert args[args.index("--bind") + 1] == "0.0.0.0:9123"
    assert args[args.index("--workers") + 1] == "3" and args[args.index("--threads") + 1] == "5"
    assert invoke(["serve", "--port", "9200", "--workers", "1"], settings).exit_code == 0
    args = calls[-1]
    assert args[args.index("--bind") + 1] == "0.0.0.0:9200" and args[args.index("--workers") + 1] == "1"


def test_db_prune_deletes_old_unreferenced_checks(env):
    from datetime import timedelta

    from spamguard import storage
    from spamguard.storage.models import Check, Site, utcnow

    assert invoke(["db", "upgrade"], env).exit_code == 0
    with storage.make_sessionmaker(env["DATABASE_URL"])() as session:
        site = Site(url="https://blog.example", key_hash="f" * 64, key_hint="abcd")
        session.add(site)
        session.flush()
        for i, age in enumerate((1, 40, 200)):
            session.add(
                Check(
                    guid=f"{i:032x}",
                    site_id=site.id,
                    created_at=utcnow() - timedelta(days=age),
                    content_hash="0" * 64,
                    fields={},
                    score=0.1,
                    verdict="ham",
                    reasons=[],
                )
            )
        session.commit()
    pruned = invoke(["db", "prune", "--days", "30"], env)
    assert pruned.exit_code == 0, pruned.output
    assert pruned.output.splitlines()[0] == (
        "deleting checks older than 30 days that no label, callback or decision refers to ..."
    )
    assert pruned.output.splitlines()[-1] == "2 checks deleted"
    assert invoke(["db", "prune"], env).output.splitlines()[-1] == "0 checks deleted"  # 90 days: none left
    assert invoke(["db", "prune", "--days", "0"], env).output == "retention is 0 days: every check is kept\n"
    with storage.make_sessionmaker(env["DATABASE_URL"])() as session:
        assert session.query(Check).count() == 1

"""The `spamguard` command as an operator uses it."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from spamguard import sites, storage
from spamguard.cli import cli
from spamguard.storage.models import Site


def run(args, env):
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return result


def test_keys_create_list_revoke(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "SPAMGUARD_KEY_SECRET": "cli-test-secret"}
    assert "up to date" in run(["db", "upgrade"], env).output

    created = run(["keys", "create", "--site", "https://blog.example"], env)
    assert created.exit_code == 0
    key = created.output.strip().splitlines()[-1]
    assert len(key) == 12 and int(key, 16) >= 0

    listing = run(["keys", "list"], env).output
    hint = created.output.split("(hint ")[1][:4]
    assert f"hint {hint}" in listing and "active" in listing and "https://blog.example" in listing
    assert key not in listing  # the whole key is shown once, at creation

    configured = run(
        ["keys", "configure", key, "--spam", "0.8", "--rate-limit", "50/second", "--monthly-limit", "1000"], env
    )
    assert configured.exit_code == 0, configured.output
    bad = CliRunner().invoke(cli, ["keys", "configure", key, "--rate-limit", "lots"], env=env)
    assert bad.exit_code != 0
    session = storage.make_sessionmaker(env["DATABASE_URL"])()
    site = session.scalar(select(Site))
    assert (site.thresholds, site.rate_limit, site.monthly_limit) == ({"spam": 0.8}, "50/second", 1000)
    session.close()
    run(["keys", "configure", key, "--reset-thresholds", "--rate-limit", "", "--monthly-limit", "0"], env)
    session = storage.make_sessionmaker(env["DATABASE_URL"])()
    site = session.scalar(select(Site))
    assert (site.thresholds, site.rate_limit, site.monthly_limit) == (None, None, None)
    session.close()

    assert run(["keys", "revoke", key], env).exit_code == 0
    assert "revoked" in run(["keys", "list"], env).output
    again = CliRunner().invoke(cli, ["keys", "revoke", key], env=env)
    assert again.exit_code != 0 and "no active site" in again.output

    session = storage.make_sessionmaker(env["DATABASE_URL"])()
    site = session.scalar(select(Site))
    assert site.revoked_at is not None and sites.find_site(session, key, secret="cli-test-secret") is None
    session.close()


def test_every_command_has_help():
    def walk(group, path):
        yield path
        for name, command in getattr(group, "commands", {}).items():
            yield from walk(command, path + [name])

    for path in walk(cli, []):
        result = CliRunner().invoke(cli, path + ["--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output

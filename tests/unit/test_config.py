"""Typed settings: bad values are refused with the variable's name and the expected form."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spamguard import config
from spamguard.config import ConfigError, from_env


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("SPAMGUARD_FLUSH_SECONDS", "30s", "SPAMGUARD_FLUSH_SECONDS=30s: expected a number"),
        ("SPAMGUARD_BACKGROUND_TASKS", "ture", "SPAMGUARD_BACKGROUND_TASKS=ture: expected true or false"),
        ("SPAMGUARD_MAX_BODY_BYTES", "1.5", "SPAMGUARD_MAX_BODY_BYTES=1.5: expected a whole number"),
        ("SPAMGUARD_WORKERS", "0", "SPAMGUARD_WORKERS=0: expected a number greater than 0"),
        ("SPAMGUARD_RATE_LIMIT_KEY", "lots", "SPAMGUARD_RATE_LIMIT_KEY=lots: expected a rate limit"),
        ("SPAMGUARD_LOG_LEVEL", "loud", "SPAMGUARD_LOG_LEVEL=loud: expected DEBUG, INFO"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL=localhost:6379: expected redis://"),
        ("SPAMGUARD_BIND", "8000", "SPAMGUARD_BIND=8000: expected host:port"),
    ],
)
def test_bad_values_name_the_variable_and_the_form(name, value, expected):
    with pytest.raises(ConfigError) as error:
        from_env({name: value})
    assert expected in str(error.value)


def test_every_problem_is_reported_at_once_and_secrets_are_not_echoed():
    with pytest.raises(ConfigError) as error:
        from_env(
            {
                "SPAMGUARD_FLUSH_SECONDS": "soon",
                "SPAMGUARD_THREADS": "many",
                "SPAMGUARD_METRICS_TOKEN": "x",
                "SPAMGUARD_SECURE_COOKIES": "sure",
            }
        )
    message = str(error.value)
    assert "SPAMGUARD_FLUSH_SECONDS=soon" in message and "SPAMGUARD_THREADS=many" in message
    assert "SPAMGUARD_SECURE_COOKIES=sure" in message


def test_values_are_typed_and_empty_means_default():
    values = from_env(
        {
            "SPAMGUARD_BACKGROUND_TASKS": "off",
            "SPAMGUARD_FLUSH_SECONDS": "2.5",
            "SPAMGUARD_BASE_HOSTS": "A.example, b.example",
            "SPAMGUARD_WORKERS": "",
            "SPAMGUARD_LOG_LEVEL": "debug",
        }
    )
    assert values["SPAMGUARD_BACKGROUND_TASKS"] is False and values["SPAMGUARD_FLUSH_SECONDS"] == 2.5
    assert values["SPAMGUARD_BASE_HOSTS"] == ["a.example", "b.example"]
    assert values["SPAMGUARD_WORKERS"] == 2 and values["SPAMGUARD_LOG_LEVEL"] == "DEBUG"
    assert set(values) == {s.name for s in config.SETTINGS}


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / "spamguard.env"
    env_file.write_text("SPAMGUARD_FLUSH_SECONDS=7\nSPAMGUARD_REDIS_PREFIX=fromfile:\nUNRELATED=1\n")
    monkeypatch.setenv("SPAMGUARD_ENV_FILE", str(env_file))
    monkeypatch.setenv("SPAMGUARD_REDIS_PREFIX", "fromenv:")
    values = from_env()
    assert values["SPAMGUARD_FLUSH_SECONDS"] == 7.0 and values["SPAMGUARD_REDIS_PREFIX"] == "fromenv:"
    env_file.write_text("SPAMGUARD_BACKGROUND_TASKS=ture\n")
    with pytest.raises(ConfigError, match="SPAMGUARD_BACKGROUND_TASKS=ture"):
        from_env()


def test_the_app_refuses_to_start_on_bad_configuration(monkeypatch):
    from spamguard.app import create_app

    monkeypatch.setenv("SPAMGUARD_FLUSH_SECONDS", "30s")
    with pytest.raises(ConfigError, match="SPAMGUARD_FLUSH_SECONDS"):
        create_app({"TESTING": True})


def test_gunicorn_refuses_to_start_and_names_the_variable(tmp_path):
    env = {**os.environ, "SPAMGUARD_WORKERS": "two", "SPAMGUARD_ENV_FILE": str(tmp_path / "none.env")}
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:spamguard.gunicorn_conf", "spamguard.wsgi:app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "SPAMGUARD_WORKERS=two: expected a whole number" in proc.stderr


def test_config_module_prints_the_table_and_checks_the_environment(tmp_path):
    env = {**os.environ, "SPAMGUARD_ENV_FILE": str(tmp_path / "none.env")}
    table = subprocess.run(
        [sys.executable, "-m", "spamguard.config", "--markdown"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert table == config.markdown_table() and "| `SPAMGUARD_BIND` |" in table
    bad = subprocess.run(
        [sys.executable, "-m", "spamguard.config"],
        env={**env, "SPAMGUARD_THREADS": "x"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "SPAMGUARD_THREADS=x" in bad.stderr


@pytest.mark.parametrize(
    "word, expected",
    [
        ("1", True),
        ("TRUE", True),
        (" yes ", True),
        ("On", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ],
)
def test_booleans_accept_the_usual_words(word, expected):
    assert from_env({"SPAMGUARD_SECURE_COOKIES": word})["SPAMGUARD_SECURE_COOKIES"] is expected


@pytest.mark.parametrize(
    "name, value",
    [
        ("REDIS_URL", "http://user:hunter2@cache.example:6379"),  # a URL with credentials
        ("SPAMGUARD_QUEUE_REDIS_URL", "tcp://:hunter2@queue.example"),
    ],
)
def test_a_bad_value_carrying_credentials_is_named_but_not_echoed(name, value):
    with pytest.raises(ConfigError) as error:
        from_env({name: value})
    assert f"{name}: expected redis://" in str(error.value) and "hunter2" not in str(error.value)


def test_an_empty_queue_url_means_the_main_redis():
    assert from_env({"SPAMGUARD_QUEUE_REDIS_URL": ""})["SPAMGUARD_QUEUE_REDIS_URL"] == ""


def test_a_missing_env_file_is_fine(tmp_path, monkeypatch):
    for setting in config.SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    values = from_env(env_file=str(tmp_path / "absent.env"))
    assert values["SPAMGUARD_FLUSH_SECONDS"] == 30.0 and values["SPAMGUARD_BIND"] == "127.0.0.1:8000"


def test_the_markdown_table_shows_defaults_as_an_operator_types_them():
    rows = {line.split(" | ")[0].strip("| `"): line for line in config.markdown_table().splitlines()[2:]}
    assert set(rows) == {s.name for s in config.SETTINGS}
    assert "(generated)" in rows["SECRET_KEY"] and "(empty)" in rows["SPAMGUARD_METRICS_TOKEN"]
    assert "`rest.akismet.com,akismet.local,localhost`" in rows["SPAMGUARD_BASE_HOSTS"]
    assert str(config.VAR_DIR) not in rows["SPAMGUARD_MODEL_DIR"] and "`var/models`" in rows["SPAMGUARD_MODEL_DIR"]


def test_update_readme_rewrites_only_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- settings-table:start -->\nstale\n<!-- settings-table:end -->\noutro\n")
    assert config.main(["--update-readme", str(readme)]) == 0
    assert readme.read_text() == (
        "intro\n<!-- settings-table:start -->\n" + config.markdown_table() + "<!-- settings-table:end -->\noutro\n"
    )
    unmarked = tmp_path / "OTHER.md"
    unmarked.write_text("no table here\n")
    assert config.main(["--update-readme", str(unmarked)]) == 1 and unmarked.read_text() == "no table here\n"


def test_an_empty_stored_secret_is_an_error_not_an_empty_key(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "VAR_DIR", tmp_path)
    (tmp_path / "secret_key").write_text("")  # another process created it and died before writing
    with pytest.raises(RuntimeError, match="secret_key is empty"):
        config.ensure_secret_key({"SECRET_KEY": ""})
    assert config.ensure_secret_key({"SECRET_KEY": "given"}) == "given"

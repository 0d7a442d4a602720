"""The README is the front door: it must document every setting and the two commands."""

import re
from pathlib import Path

from spamguard.config import SETTINGS, markdown_table

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_table():
    missing = [s.name for s in SETTINGS if f"| `{s.name}` |" not in README]
    assert not missing


def test_the_readme_table_is_the_generated_one():
    found = re.search(r"<!-- settings-table:start -->\n(.*?)<!-- settings-table:end -->", README, re.S)
    assert found, "README lost its settings-table markers"
    assert found.group(1) == markdown_table(), "regenerate with: python -m spamguard.config --markdown"


def test_the_two_commands_are_there():
    assert "make run" in README and "make test" in README

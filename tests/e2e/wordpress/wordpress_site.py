"""A throwaway WordPress site for the end-to-end tests: files, database, and ways to drive it."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent / "wordpress"
WP_SOURCE = Path("/usr/share/wordpress")
ADMIN_PASSWORD = "e2e-" + uuid.uuid4().hex


def mariadb(*sql: str) -> None:
    result = subprocess.run(
        ["mariadb", "--host=127.0.0.1", "--user=root", "-e", "; ".join(sql)], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        pytest.fail(f"MariaDB: {result.stderr.strip()}")


def form_fields(page: str, marker: str) -> dict[str, str]:
    """What a browser would submit from the form containing `marker` (defaults, ticked boxes, chosen radios)."""
    start = page.rindex("<form", 0, page.index(marker))
    form = page[start : page.index("</form>", start)]
    fields: dict[str, str] = {}
    for tag in re.findall(r"<(?:input|textarea)\b[^>]*>", form):
        attrs = {m[0]: m[2] for m in re.findall(r"""\b([a-z_-]+)=(["'])(.*?)\2""", tag)}
        if "name" not in attrs or attrs.get("type") == "submit":
            continue
        if attrs.get("type") in ("checkbox", "radio") and not re.search(r"\bchecked\b", tag):
            continue  # a browser sends no unticked box
        fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
    return fields


class WordPress:
    """One throwaway site: its URL, its document root, and ways to drive it."""

    def __init__(self, docroot: Path, url: str, log: Path) -> None:
        self.docroot, self.url, self.log = docroot, url, log

    def php(self, op: str, **args) -> dict:
        """Run one operation through WordPress's own API (tests/e2e/wordpress/wordpress/driver.php)."""
        command = json.dumps({"op": op, "home": self.url, **args})
        result = subprocess.run(
            ["php", str(HERE / "driver.php"), str(self.docroot), command], capture_output=True, text=True, timeout=120
        )
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            pytest.fail(f"driver {op} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return json.loads(lines[-1])

    def comments(self) -> list[dict]:
        return self.php("comments")["comments"]

    def comment_by_author(self, author: str) -> dict | None:
        return next((c for c in self.comments() if c["author"] == author), None)

    def post_comment(self, author: str, email: str, text: str, ip: str, post_id: int = 1) -> httpx.Response:
        """What a visitor's browser does: load the post, fill in its comment form, submit it to
        wp-comments-post.php (hidden fields, Akismet's nonce, honeypot and ak_js included)."""
        headers = {
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Accept-Language": "en-GB,en;q=0.8",
            "X-E2E-Client-IP": ip,
        }
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as browser:
            page = browser.get(f"/?p={post_id}")
            assert page.status_code == 200, page.text[-2000:]
            fields = form_fields(page.text, 'id="commentform"')
            fields.update(
                {"author": author, "email": email, "url": "", "comment": text, "ak_js": str(int(time.time() * 1000))}
            )  # what Akismet's inline script sets
            return browser.post("/wp-comments-post.php", data=fields, headers={"Referer": str(page.url)})


def write_site(docroot: Path, url: str, database: str, spamguard_url: str) -> None:
    shutil.copytree(
        WP_SOURCE,
        docroot,
        symlinks=False,
        ignore=lambda _dir, names: [n for n in names if n in ("wp-config.php", ".htaccess")],
    )
    salts = "\n".join(
        f"define( '{name}', '{uuid.uuid4().hex}' );"
        for name in (
            "AUTH_KEY",
            "SECURE_AUTH_KEY",
            "LOGGED_IN_KEY",
            "NONCE_KEY",
            "AUTH_SALT",
            "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT",
            "NONCE_SALT",
        )
    )
    (docroot / "wp-config.php").write_text(f"""<?php
define( 'DB_NAME', '{database}' );
define( 'DB_USER', 'root' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', '127.0.0.1:3306' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
{salts}
$table_prefix = 'wp_';
define( 'WP_HOME', '{url}' );
define( 'WP_SITEURL', '{url}' );
define( 'WP_CONTENT_DIR', __DIR__ . '/wp-content' );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_DEBUG', false );
define( 'SPAMGUARD_URL', '{spamguard_url}' );
if ( ! defined( 'ABSPATH' ) ) {{ define( 'ABSPATH', __DIR__ . '/' ); }}
require_once ABSPATH . 'wp-settings.php';
""")
    content = docroot / "wp-content"
    (content / "mu-plugins").mkdir(exist_ok=True)
    shutil.copy(ROOT / "integrations" / "wordpress" / "akismet-spamguard.php", content / "mu-plugins")
    shutil.copy(HERE / "e2e-harness.php", content / "mu-plugins")
    (content / "plugins" / "spamguard-decisions").mkdir(parents=True)
    shutil.copy(
        ROOT / "integrations" / "wordpress" / "spamguard-decisions.php", content / "plugins" / "spamguard-decisions"
    )
    shutil.copytree(HERE / "theme", content / "themes" / "sg-e2e")

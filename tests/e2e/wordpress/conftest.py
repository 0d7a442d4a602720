"""A real WordPress (Debian's 6.1.x with its bundled Akismet 5.0.2) talking to a real SpamGuard.

`scripts/ensure-wordpress.sh` installs the Debian packages when missing and starts MariaDB; when
that fails the tests fail (never skip). Each run gets its own MariaDB database and its own copy of
WordPress, served by PHP's built-in server on a free loopback port; both are removed afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest
from live_server import free_port
from wordpress_site import ADMIN_PASSWORD, ROOT, WordPress, mariadb, write_site

# SpamGuard itself is the session's `live_server` fixture (tests/conftest.py).


@pytest.fixture(scope="session")
def wordpress_packages() -> None:
    """Debian's WordPress, PHP and a running MariaDB, installed by the project's script (fail, never skip)."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "ensure-wordpress.sh")], capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/ensure-wordpress.sh failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


@pytest.fixture(scope="session")
def wordpress(wordpress_packages, live_server, tmp_path_factory):
    """A fresh WordPress site on `php -S`, its mu-plugin pointing at the live SpamGuard."""
    work = tmp_path_factory.mktemp("wordpress")
    docroot = work / "site"
    database = f"sg_wp_{uuid.uuid4().hex[:10]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mariadb(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    log_path = work / "php-server.log"
    server = None
    try:
        write_site(docroot, url, database, live_server["url"])
        site = WordPress(docroot, url, log_path)
        installed = site.php("install", password=ADMIN_PASSWORD)
        assert installed["activated"] == {"akismet": None, "decisions": None}, installed
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                ["php", "-S", f"127.0.0.1:{port}", "-t", str(docroot)],
                cwd=docroot,
                env={**os.environ, "PHP_CLI_SERVER_WORKERS": "4"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                pytest.fail(f"php -S exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/wp-login.php", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"php -S did not answer:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        site.versions = installed["versions"]
        yield site
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        mariadb(f"DROP DATABASE IF EXISTS `{database}`")

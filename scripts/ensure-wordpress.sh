#!/usr/bin/env bash
# The WordPress end-to-end tests drive Debian's WordPress 6.1.x (bundling Akismet 5.0.2) under PHP's built-in
# server, with a throwaway database in MariaDB. Installs what is missing and makes sure MariaDB is running.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for pkg in wordpress php-cli php-mysql mariadb-server; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]} for the WordPress tests" >&2
    $SUDO apt-get update -qq
    # Debian's wordpress package recommends apache2; PHP's built-in server is all the tests need.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! mariadb-admin --host=127.0.0.1 --user=root ping >/dev/null 2>&1; then
    echo "starting MariaDB" >&2
    $SUDO service mariadb start >/dev/null 2>&1 || $SUDO service mysql start
    for _ in $(seq 1 30); do
        mariadb-admin --host=127.0.0.1 --user=root ping >/dev/null 2>&1 && break
        sleep 1
    done
fi
test -f /usr/share/wordpress/wp-includes/version.php
test -f /usr/share/wordpress/wp-content/plugins/akismet/akismet.php
php -r 'exit(extension_loaded("mysqli") ? 0 : 1);'
mariadb-admin --host=127.0.0.1 --user=root ping >/dev/null

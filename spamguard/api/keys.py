"""Where an Akismet client put its API key (spec §1.2).

Only *finding* the key lives here; `sites.find_site` decides whether it is
valid.  Nothing is guessed: a request whose key cannot be found is "missing".
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Request
from werkzeug.datastructures import MultiDict

ALWAYS_BASE_HOSTS = ("rest.akismet.com",)


def key_from_host(host: str | None, base_hosts: Iterable[str]) -> str:
    """`<KEY>.rest.akismet.com[:port]` → `key` (lower-cased); any other host → ''."""
    host = (host or "").strip().lower()
    if not host or host.startswith("["):  # IPv6 literal: never carries a key
        return ""
    name, _, port = host.rpartition(":")
    if name and port.isdigit():
        host = name
    label, _, rest = host.partition(".")
    bases = set(ALWAYS_BASE_HOSTS) | {b.strip().lower() for b in base_hosts}
    return label if label and rest in bases else ""


def key_from_basic_auth(request: Request) -> str:
    """npm `akismet-api` with `host: '@ip:port'` sends Basic `<key>.:undefined` (§6.2 trick 3)."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return ""
    return auth.username.strip().rstrip(".")


def verify_key_candidate(fields: MultiDict[str, str]) -> str:
    """verify-key and the WordPress account calls: `key` wins over `api_key` (they may differ)."""
    return (fields.get("key") or "").strip() or (fields.get("api_key") or "").strip()


def api_key_candidate(request: Request, fields: MultiDict[str, str], base_hosts: Iterable[str]) -> str:
    """Every other endpoint: body/query `api_key` → Host subdomain → Basic username → ''."""
    return (
        (fields.get("api_key") or "").strip()
        or key_from_host(request.headers.get("Host"), base_hosts)
        or key_from_basic_auth(request)
    )

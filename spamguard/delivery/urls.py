"""Where SpamGuard may POST: http(s) URLs without credentials, to public addresses only.

Callback and webhook URLs come from API clients, so without these checks
SpamGuard would be a proxy into the operator's network (SSRF).  A URL is checked
twice: by its shape when it is accepted (cheap, no DNS in the request path),
and by the addresses its host resolves to right before every attempt; the
request then goes to the address that was checked (see sender.py), so a DNS
answer that changes in between (rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_URL_CHARS = 2048
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why (shown to operators, stored on the delivery)."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # as written (IDNA-encoded), for Host / SNI / certificate checks
    port: int
    address: str  # the checked IP the request is sent to


def parse_networks(value: str | Iterable[str]) -> list[Network]:
    """`10.0.0.0/8, 127.0.0.1` → networks; raises ValueError on a bad entry (a typo must not open everything)."""
    items = value.split(",") if isinstance(value, str) else value
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def address_allowed(address: str, allow: Iterable[Network]) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return _is_public(ip) or any(ip in net for net in allow)


def check_shape(url: str, allow: Iterable[Network] = ()) -> str:
    """The URL stripped, or UnsafeURL: scheme, credentials, host, port, and literal IPs (no DNS here)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL_CHARS or any(ch in url for ch in "\r\n\t\x00 "):
        raise UnsafeURL("not a usable URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a usable URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("only http and https URLs are allowed")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURL("URLs with credentials are not allowed")
    host = parts.hostname or ""
    if not host:
        raise UnsafeURL("the URL has no host")
    if port == 0:
        raise UnsafeURL("port 0 is not allowed")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not address_allowed(str(literal), allow):
        raise UnsafeURL(f"{host} is a private, loopback or link-local address")
    if literal is None:
        try:
            host.encode("idna")
        except UnicodeError:
            raise UnsafeURL("the host name is not valid") from None
        if host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
            if not any(ipaddress.ip_address("127.0.0.1") in net for net in allow):
                raise UnsafeURL("localhost is not allowed")
    return url


def resolve(url: str, allow: Iterable[Network] = (), resolver: Callable[..., Any] = socket.getaddrinfo) -> Target:
    """Check the URL and pick an address to call.  Every address the host resolves to must be allowed:
    a host that also points inside the network is refused rather than tried half-way."""
    allow = list(allow)
    url = check_shape(url, allow)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        ascii_host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
        infos = resolver(ascii_host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"cannot resolve {host}: {exc}") from None
    addresses = sorted({info[4][0] for info in infos}, key=lambda a: ":" in a)  # IPv4 first
    if not addresses:
        raise UnsafeURL(f"{host} has no address")
    for address in addresses:
        if not address_allowed(address, allow):
            raise UnsafeURL(f"{host} resolves to {address}, a private, loopback or link-local address")
    return Target(url=url, scheme=parts.scheme, host=ascii_host, port=port, address=addresses[0])


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True

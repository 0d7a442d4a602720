"""Which URLs SpamGuard may call: shapes, allow-listed private networks, every resolved address."""

from __future__ import annotations

import pytest

from spamguard.delivery.urls import UnsafeURL, check_shape, parse_networks, resolve

LOOPBACK = parse_networks("127.0.0.1/32")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://203.0.113.5/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "//203.0.113.5/x",
        "http:///x",
        "http://user@203.0.113.5/",
        "http://u:p@203.0.113.5/",
        "http://127.0.0.1/",
        "http://127.1.2.3:8080/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://localhost/",
        "http://a.localhost/",
        "http://203.0.113.5:0/",
        "http://203.0.113.5/\r\nX: y",
        "http://" + "a" * 2100 + ".example/",
    ],
)
def test_refused_shapes(url):
    with pytest.raises(UnsafeURL):
        check_shape(url)


def test_public_and_allow_listed_addresses_pass():
    assert check_shape(" https://8.8.8.8/wp-json/akismet/v1/webhook ") == "https://8.8.8.8/wp-json/akismet/v1/webhook"
    assert check_shape("http://hooks.example.net:8443/x") == "http://hooks.example.net:8443/x"
    assert check_shape("http://127.0.0.1:8080/x", LOOPBACK)
    with pytest.raises(UnsafeURL):
        check_shape("http://127.0.0.2/", LOOPBACK)  # only what the list names
    with pytest.raises(ValueError):
        parse_networks("127.0.0.1/33")  # a typo must not silently open everything


def test_resolve_refuses_a_name_with_any_private_address():
    both = lambda host, port, **kw: [(2, 1, 6, "", ("93.184.215.14", port)), (2, 1, 6, "", ("10.0.0.7", port))]  # noqa: E731
    with pytest.raises(UnsafeURL, match="10.0.0.7"):
        resolve("https://hooks.example.net/x", resolver=both)

    def public(host, port, **kw):
        return [(10, 1, 6, "", ("2606:2800:21f:cb07::1", port, 0, 0)), (2, 1, 6, "", ("93.184.215.14", port))]

    target = resolve("https://hooks.example.net/x", resolver=public)
    assert (target.address, target.host, target.port, target.scheme) == (
        "93.184.215.14",
        "hooks.example.net",
        443,
        "https",
    )

"""Which URLs SpamGuard may call, and undoing WordPress's wp_slash() on comment-check bodies."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from spamguard.api.wordpress import is_plugin, stripslashes
from spamguard.delivery.urls import UnsafeURL, check_shape, parse_networks, resolve
from spamguard.storage.models import Check

LOOPBACK = parse_networks("127.0.0.1/32")


@pytest.mark.parametrize("url", [
    "ftp://203.0.113.5/", "file:///etc/passwd", "javascript:alert(1)", "//203.0.113.5/x", "http:///x",
    "http://user@203.0.113.5/", "http://u:p@203.0.113.5/", "http://127.0.0.1/", "http://127.1.2.3:8080/",
    "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/", "http://169.254.169.254/latest",
    "http://[::1]/", "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/",
    "http://localhost/", "http://a.localhost/", "http://203.0.113.5:0/", "http://203.0.113.5/\r\nX: y",
    "http://" + "a" * 2100 + ".example/",
])
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
    public = lambda host, port, **kw: [(10, 1, 6, "", ("2606:2800:21f:cb07::1", port, 0, 0)),  # noqa: E731
                                       (2, 1, 6, "", ("93.184.215.14", port))]
    target = resolve("https://hooks.example.net/x", resolver=public)
    assert (target.address, target.host, target.port, target.scheme) == ("93.184.215.14", "hooks.example.net", 443,
                                                                         "https")


def test_a_bad_allow_list_stops_the_app(make_app):
    with pytest.raises(ValueError):
        make_app(SPAMGUARD_DELIVERY_ALLOW_PRIVATE="10.0.0.0/8, nonsense")


def test_stripslashes_semantics():
    assert stripslashes(r"We\'d say \"hi\" to C:\\dir") == 'We\'d say "hi" to C:\\dir'
    assert stripslashes("no slashes") == "no slashes"
    assert stripslashes("trailing\\") == "trailing"
    assert stripslashes("a\\0b") == "ab"  # PHP makes \0 a NUL byte; SpamGuard never stores NULs
    assert stripslashes("\\" * 200001) == "\\" * 100000  # one linear pass
    assert is_plugin("WordPress/6.1.9 | Akismet/5.0.2")
    assert not is_plugin("WordPress/6.1.9; https://blog.example") and not is_plugin("akismet.py/25.10.1 | Python/3.11")


def _stored(app, author):
    with app.extensions["spamguard.db"]() as db:
        return db.scalar(select(Check).where(Check.comment_author == author))


def test_only_first_checks_from_the_wordpress_plugin_are_unslashed(app, key):
    client = app.test_client()
    base = {"api_key": key, "blog": "https://blog.example", "user_ip": "198.51.100.9"}
    plugin = {"User-Agent": "WordPress/6.1.9 | Akismet/5.0.2"}
    client.post("/1.1/comment-check", headers=plugin,
                data={**base, "comment_author": r"Dana O\'Neill", "comment_content": r"We\'d use C:\\tmp",
                      "POST_comment": r"We\'d use C:\\tmp"})
    check = _stored(app, "Dana O'Neill")
    assert check.comment_content == r"We'd use C:\tmp" and check.fields["extra"]["POST_comment"] == r"We'd use C:\tmp"
    # A recheck of a stored row is sent unslashed by the plugin: leave it alone.
    client.post("/1.1/comment-check", headers=plugin,
                data={**base, "comment_author": "Rechecked", "comment_content": r"C:\tmp", "recheck_reason": "recheck_queue"})
    assert _stored(app, "Rechecked").comment_content == r"C:\tmp"
    # Other clients' backslashes are the visitor's own.
    client.post("/1.1/comment-check", headers={"User-Agent": "akismet.py/25.10.1 | Python/3.11"},
                data={**base, "comment_author": "Py", "comment_content": r"We\'d"})
    assert _stored(app, "Py").comment_content == r"We\'d"


def test_the_plugins_own_honeypot_counts_as_a_honeypot(app, key):
    client = app.test_client()
    base = {"api_key": key, "blog": "https://blog.example", "user_ip": "198.51.100.9",
            "comment_content": "Thanks for the post, very useful.", "POST_ak_js": "1795859301337"}
    filled = client.post("/1.1/comment-check", data={**base, "comment_author": "Bot", "POST_ak_hp_textarea": "buy"})
    assert filled.get_data(as_text=True) == "true" and filled.headers["X-akismet-pro-tip"] == "discard"
    empty = client.post("/1.1/comment-check", data={**base, "comment_author": "Person", "POST_ak_hp_textarea": ""})
    assert empty.headers["X-Spamguard-Verdict"] != "discard"
    assert _stored(app, "Person").fields["honeypot_field_name"] == "POST_ak_hp_textarea"


def test_a_wordpress_report_matches_its_slashed_check_without_a_guid(app, key):
    from spamguard.storage.models import Feedback

    client = app.test_client()
    base = {"api_key": key, "blog": "https://blog.example", "user_ip": "198.51.100.9", "comment_author": "Dana"}
    client.post("/1.1/comment-check", headers={"User-Agent": "WordPress/6.1.9 | Akismet/5.0.2"},
                data={**base, "comment_content": r"We\'d like \"that\""})
    client.post("/1.1/submit-spam", headers={"User-Agent": "WordPress/6.1.9 | Akismet/5.0.2"},
                data={**base, "comment_content": 'We\'d like "that"', "reporter": "admin"})
    with app.extensions["spamguard.db"]() as db:
        report = db.scalar(select(Feedback))
        assert report.check_id == _stored(app, "Dana").id

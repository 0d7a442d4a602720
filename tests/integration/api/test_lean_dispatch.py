"""comment-check's lean dispatch (spamguard.api.fast_path) answers exactly as the Flask view does.

Each case is sent twice to the same app: once through the lean path, once with it switched off (Flask's
dispatch), and the two answers must match in status, body and headers (the GUID and a generated request
id differ by nature; they are checked for shape).  `served` tells which path answered.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlencode

import pytest
from akismet_wire import CASE8, B, K, add_site

from spamguard.api.fast_path import CommentCheckFastPath
from spamguard.metrics import HTTP_REQUESTS, REFUSALS

VOLATILE = {"x-akismet-guid", "x-request-id"}


def fast_path_of(app) -> CommentCheckFastPath:
    wsgi = app.wsgi_app
    while not isinstance(wsgi, CommentCheckFastPath):
        wsgi = wsgi.app  # ProxyFix
    return wsgi


def both(api_app, api, monkeypatch, path="/1.1/comment-check", **kwargs):
    """(lean answer, Flask answer) to the same request."""
    fast = fast_path_of(api_app)
    served = fast.served
    lean = api.post(path, **kwargs)
    assert fast.served == served + 1, "the lean path did not answer"
    with monkeypatch.context() as patch:
        patch.setattr(fast, "_usable", False)
        flask = api.post(path, **kwargs)
    assert fast.served == served + 1, "the lean path answered with itself switched off"
    return lean, flask


def assert_same(lean, flask) -> None:
    assert lean.status_code == flask.status_code
    assert lean.get_data() == flask.get_data()
    strip = lambda r: [(k, v) for k, v in r.headers.items() if k.lower() not in VOLATILE]  # noqa: E731
    assert strip(lean) == strip(flask)
    assert [k for k, _ in lean.headers.items()] == [k for k, _ in flask.headers.items()]  # same names, same order
    for response in (lean, flask):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
        if "X-akismet-guid" in flask.headers:
            assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-akismet-guid"])


FORM = "application/x-www-form-urlencoded"
TEST = {**CASE8, "is_test": "1"}  # is_test: neither path's check changes the reputation the other one reads


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": TEST},
        {"data": {**TEST, "comment_content": "BUY CHEAP VIAGRA http://cheap-pills.example/buy now!!!"}},
        {"data": {**TEST, "api_key": ""}},
        {"data": {**TEST, "api_key": "ffffffffffff"}},
        {"data": {**TEST, "blog": " "}},
        {"data": {**TEST, "user_ip": ""}},
        {"data": urlencode({**TEST, "blog_charset": "utf-7"}), "content_type": FORM},
        {"data": urlencode(TEST).encode(), "content_type": f"{FORM}; charset=iso-8859-1"},
        {"data": b"{}", "content_type": "application/json"},
        {"data": {**TEST, "api_key": ""}, "headers": {"Host": f"{K}.rest.akismet.com"}},
        {"data": {**TEST, "comment_content": "We\\'d"}, "headers": {"User-Agent": "WordPress/6.1.9 | Akismet/5.0.2"}},
        {"data": {**TEST, "POST_ak_hp_textarea": "filled"}},
        {"data": "", "content_type": FORM},
    ],
    ids=lambda kwargs: str(kwargs.get("data"))[:40],
)
def test_same_answers(api_app, api, monkeypatch, kwargs):
    assert_same(*both(api_app, api, monkeypatch, **kwargs))


def test_same_answer_under_1_2_and_with_a_query_string(api_app, api, monkeypatch):
    assert_same(*both(api_app, api, monkeypatch, path=f"/1.2/comment-check?api_key={K}&blog={B}", data=TEST))


def test_a_recorded_check_is_answered_alike(api_app, api, monkeypatch):
    """Without is_test: both write reputation and usage; what a reader sees stays the same shape."""
    data = {**CASE8, "user_ip": "198.51.100.77"}
    lean, flask = both(api_app, api, monkeypatch, data=data)
    assert lean.status_code == flask.status_code == 200
    assert lean.get_data() == flask.get_data()
    assert [k for k, _ in lean.headers.items()] == [k for k, _ in flask.headers.items()]


def test_body_over_the_limit_is_413_alike(api_app, api, monkeypatch):
    body = b"api_key=" + K.encode() + b"&comment_content=" + b"x" * (api_app.config["SPAMGUARD_MAX_BODY_BYTES"] + 1)
    refused = REFUSALS.labels("body_too_large")
    before = refused._value.get()
    lean, flask = both(api_app, api, monkeypatch, data=body, content_type=FORM)
    assert lean.status_code == 413
    assert_same(lean, flask)
    assert refused._value.get() == before + 2  # counted by each path once


def test_request_id_is_echoed_and_on_log_records(api_app, api, monkeypatch):
    from spamguard.logs import RequestContextFilter

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RequestContextFilter())
    checks = logging.getLogger("spamguard.checks")
    monkeypatch.setattr(checks, "level", logging.INFO)
    checks.addHandler(handler)
    try:
        lean, flask = both(api_app, api, monkeypatch, data=TEST, headers={"X-Request-ID": "req-42.a:b"})
    finally:
        checks.removeHandler(handler)
    assert lean.headers["X-Request-ID"] == flask.headers["X-Request-ID"] == "req-42.a:b"
    assert [r.request_id for r in records if r.getMessage() == "check"] == ["req-42.a:b", "req-42.a:b"]
    lean, _ = both(api_app, api, monkeypatch, data=TEST, headers={"X-Request-ID": "bad id!"})
    assert re.fullmatch(r"[0-9a-f]{32}", lean.headers["X-Request-ID"])


def test_requests_are_counted_by_route(api_app, api, monkeypatch):
    counter = HTTP_REQUESTS.labels("/1.2/comment-check", "POST", "200")
    before = counter._value.get()
    both(api_app, api, monkeypatch, path="/1.2/comment-check", data=TEST)
    assert counter._value.get() == before + 2


def test_errors_are_answered_by_flasks_handlers(api_app, api, monkeypatch):
    """A database outage (503 in the Akismet form), no model (503), anything else (500 text)."""
    from sqlalchemy.exc import OperationalError

    from spamguard.scoring.model import NoModelError
    from spamguard.services import services

    checks = services(api_app).checks
    for error in (OperationalError("SELECT 1", {}, Exception("down")), NoModelError("none", 7), RuntimeError("boom")):

        def failing(*_args, error=error, **_kwargs):
            raise error

        with monkeypatch.context() as patch:
            patch.setattr(type(checks), "check", failing)
            lean, flask = both(api_app, api, monkeypatch, data=TEST)
        assert lean.status_code in (500, 503)
        assert_same(lean, flask)


def test_what_it_cannot_vouch_for_goes_to_flask(api_app, api):
    fast = fast_path_of(api_app)
    served = fast.served
    with_cookie = api_app.test_client()
    with_cookie.set_cookie("session", "x")
    assert with_cookie.post("/1.1/comment-check", data=TEST).text in ("true", "false")
    assert api.get("/1.1/comment-check").status_code == 405
    assert api.post("/1.1/comment-check/", data=TEST).status_code == 404
    assert api.post("/1.1/verify-key", data={"key": K, "blog": B}).text == "valid"
    assert fast.served == served


def test_trusted_hosts_send_every_request_to_flask(make_app):
    """Flask refuses an untrusted Host while routing (400): the lean path does not check it, so it steps aside."""
    app = make_app(TRUSTED_HOSTS=["spam.example"])
    add_site(app, K)
    client = app.test_client()
    assert client.post("/1.1/comment-check", data=TEST).status_code == 400  # the test client's Host is localhost
    answer = client.post("/1.1/comment-check", data=TEST, headers={"Host": "spam.example"})
    assert answer.status_code == 200 and answer.text in ("true", "false")
    assert fast_path_of(app).served == 0


def test_an_unknown_hook_sends_every_request_to_flask(make_app):
    app = make_app()
    add_site(app, K)
    calls = []
    app.before_request(lambda: calls.append(1))
    client = app.test_client()
    answer = client.post("/1.1/comment-check", data={"api_key": K, "blog": B, "user_ip": "203.0.113.9"})
    assert answer.status_code == 200 and answer.text in ("true", "false")
    assert calls == [1] and fast_path_of(app).served == 0


def test_behind_proxy_fix_the_fast_path_is_inside_it(make_app):
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = make_app(SPAMGUARD_TRUSTED_PROXIES=1)
    add_site(app, K)
    assert isinstance(app.wsgi_app, ProxyFix)
    environs = []
    fast = fast_path_of(app)
    original = fast.serve
    fast.serve = lambda environ, start_response: environs.append(dict(environ)) or original(environ, start_response)  # type: ignore[method-assign]
    answer = app.test_client().post(
        "/1.1/comment-check",
        data={"api_key": K, "blog": B, "user_ip": "203.0.113.9"},
        headers={"X-Forwarded-For": "192.0.2.7"},
    )
    assert answer.status_code == 200 and fast.served == 1
    assert environs[0]["REMOTE_ADDR"] == "192.0.2.7"  # what Flask's view would have seen

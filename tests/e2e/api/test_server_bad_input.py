"""Hostile input against the real gunicorn server: never a 5xx, never a hang, and it keeps answering."""

from __future__ import annotations

import socket
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from akismet_wire import B

pytestmark = pytest.mark.slow


def raw_exchange(url: str, payload: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, return whatever comes back before the server closes or goes quiet."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and len(b"".join(chunks)) > 12:
                    sock.settimeout(1.0)  # headers are in: collect the rest briefly
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1."), raw[:200]
    return int(raw.split(b" ", 2)[1])


def still_answering(server) -> None:
    assert httpx.get(f"{server['url']}/healthz", timeout=5).status_code == 200
    response = httpx.post(
        f"{server['url']}/1.1/comment-check",
        timeout=5,
        data={
            "api_key": server["key"],
            "blog": B,
            "user_ip": "203.0.113.5",
            "comment_author": "akismet-guaranteed-spam",
        },
    )
    assert response.status_code == 200 and response.text == "true"


@pytest.fixture
def server(live_server):
    yield live_server
    still_answering(live_server)


def form(server, **extra) -> dict:
    return {"api_key": server["key"], "blog": B, "user_ip": "203.0.113.5", **extra}


def test_ten_megabyte_body(server):
    body = urlencode(form(server)).encode() + b"&comment_content=" + b"x" * (10 * 1024 * 1024)
    head = (
        f"POST /1.1/comment-check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    raw = raw_exchange(server["url"], head + body)
    assert status_of(raw) == 413
    assert b"X-akismet-debug-help: Request body larger than" in raw


def test_ten_megabyte_body_keep_alive(server):
    body = urlencode(form(server)).encode() + b"&comment_content=" + b"x" * (10 * 1024 * 1024)
    with httpx.Client(timeout=30) as http:  # one keep-alive connection, reused after the refusal
        response = http.post(
            f"{server['url']}/1.1/comment-check",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413 and response.text == "Request Entity Too Large"
        assert http.post(f"{server['url']}/1.1/verify-key", data={"key": server["key"], "blog": B}).text == "valid"


def test_ten_megabyte_chunked_body(server):
    with httpx.Client(timeout=30) as http:

        def chunks():
            yield urlencode(form(server)).encode() + b"&comment_content="
            for _ in range(10):
                yield b"x" * (1024 * 1024)

        response = http.post(
            f"{server['url']}/1.1/comment-check",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413  # refused, not silently truncated


def test_invalid_utf8_body(server):
    body = urlencode(form(server)).encode() + b"&comment_content=\xff\xfe\xc3\x28%FF%00&comment_author=%C0%AF"
    response = httpx.post(
        f"{server['url']}/1.1/comment-check",
        content=body,
        timeout=5,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert response.status_code == 200 and response.text in ("true", "false")
    assert len(response.headers["X-akismet-guid"]) == 32


def test_huge_header(server):
    response = httpx.post(
        f"{server['url']}/1.1/comment-check", data=form(server), timeout=5, headers={"X-Huge": "h" * 100_000}
    )
    assert 400 <= response.status_code < 500


def test_too_many_headers(server):
    headers = "".join(f"X-H{i}: v\r\n" for i in range(500))
    raw = raw_exchange(server["url"], f"GET /1.1/test HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    assert 400 <= status_of(raw) < 500


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02garbage\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /1.1/comment-check HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /1.1/comment-check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_socket_garbage(server, garbage):
    raw = raw_exchange(server["url"], garbage, timeout=5)
    if raw:  # gunicorn may also just close the connection
        assert 400 <= status_of(raw) < 500


def test_wrong_method_unknown_path_json_and_multipart(server):
    url = server["url"]
    assert httpx.get(f"{url}/1.1/comment-check", timeout=5).status_code == 405
    assert httpx.post(f"{url}/1.1/nope", timeout=5).status_code == 404
    response = httpx.post(f"{url}/1.1/comment-check", json=form(server), timeout=5)
    assert response.status_code == 200 and response.text == "invalid"
    response = httpx.post(f"{url}/1.1/comment-check", files={"f": ("a.txt", b"x")}, data=form(server), timeout=5)
    assert response.status_code == 200 and response.text == "invalid"


def test_wordpress_http10_request(server):
    body = urlencode(form(server, comment_content="Nice post", is_test="true")).encode() + b"&referrer&user_role"
    raw = raw_exchange(
        server["url"],
        (
            "POST /1.1/comment-check HTTP/1.0\r\nHost: rest.akismet.com\r\nUser-Agent: WordPress/6.5.3 | Akismet/5.3.2\r\n"
            "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body,
    )
    assert status_of(raw) == 200 and raw.endswith(b"\r\n\r\nfalse")


def test_body_of_exactly_the_limit(server):
    from spamguard.config import from_env

    limit = from_env()["SPAMGUARD_MAX_BODY_BYTES"]
    base = urlencode(form(server, comment_content="Nice post")).encode() + b"&pad="
    body = base + b"p" * (limit - len(base))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    ok = httpx.post(f"{server['url']}/1.1/comment-check", content=body, headers=headers, timeout=10)
    assert ok.status_code == 200 and ok.text in ("true", "false")
    over = httpx.post(f"{server['url']}/1.1/comment-check", content=body + b"p", headers=headers, timeout=10)
    assert over.status_code == 413

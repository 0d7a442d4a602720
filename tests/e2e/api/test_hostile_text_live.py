"""A 64 KB comment built to make regexes backtrack, through the real gunicorn (issue 8, item 1).

Before issue 8 such a comment kept a worker busy for minutes (gunicorn killed it
with WORKER TIMEOUT), and an ordinary check sent meanwhile waited behind it.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from akismet_wire import B

pytestmark = pytest.mark.slow

QUARTER = 16384
HOSTILE = ("a." * QUARTER)[:QUARTER] + "<br" + " " * (QUARTER - 3) + ("1a$" * QUARTER)[:QUARTER] + "-a" * (QUARTER // 2)
TIMEOUT = 10.0  # generous: both answers take well under a second of CPU


def check(server, **fields) -> httpx.Response:
    return httpx.post(
        f"{server['url']}/1.1/comment-check",
        timeout=TIMEOUT,
        data={"api_key": server["key"], "blog": B, "user_ip": "203.0.113.5", **fields},
    )


def test_hostile_comment_is_answered_and_a_concurrent_check_is_not_held_up(live_server):
    assert len(HOSTILE) == 65536
    answers: dict[str, httpx.Response | Exception] = {}
    finished: list[str] = []  # completion order

    def send(name: str, **fields) -> None:
        try:
            answers[name] = check(live_server, **fields)
        except httpx.HTTPError as exc:  # a timeout or a killed worker's reset
            answers[name] = exc
        finished.append(name)

    hostile = threading.Thread(
        target=send,
        args=("hostile",),
        kwargs={
            "comment_content": HOSTILE,
            "comment_author": HOSTILE[:4096],
            "comment_author_url": "http://" + HOSTILE[:4096],
        },
    )
    hostile.start()
    send("ordinary", comment_author="Jane", comment_content="Thanks, this fixed my build.")
    hostile.join(TIMEOUT + 5)

    assert sorted(finished) == ["hostile", "ordinary"], answers
    for name in ("ordinary", "hostile"):
        response = answers[name]
        assert isinstance(response, httpx.Response), f"{name}: {response!r}"
        assert response.status_code == 200 and response.text in ("true", "false"), (name, response.text[:200])
    assert "WORKER TIMEOUT" not in live_server["log"].read_text()

"""comment-check talks to Redis once: one round trip, a bounded number of commands (issue 10.2).

Counted events, not timings: redis-py's connection is wrapped to count what the
check sends (one `send_packed_command` per round trip) and Redis's own
`INFO commandstats` counts what it ran, including the commands inside the script.
"""

from __future__ import annotations

from akismet_wire import CASE8

from spamguard.services import services


class SendCounter:
    """Counts round trips and commands sent on every connection of one client's pool."""

    def __init__(self, monkeypatch, client) -> None:
        self.round_trips = 0
        self.commands = 0
        self.sent: list = []
        pool_class = client.connection_pool.connection_class
        original = pool_class.send_packed_command
        counter = self

        def send_packed_command(conn, command, check_health=True):
            counter.round_trips += 1
            counter.sent.append(bytes(command if isinstance(command, bytes) else b"".join(command))[:60])
            # A pipeline sends a list of packed commands in one write; a single command is one.
            counter.commands += len(command) if isinstance(command, list) else 1
            return original(conn, command, check_health)

        monkeypatch.setattr(pool_class, "send_packed_command", send_packed_command)


def server_calls(client) -> int:
    return sum(int(v["calls"]) for v in client.info("commandstats").values())


def test_a_check_for_a_known_key_is_one_round_trip(api_app, api, monkeypatch):
    state = services(api_app).state
    body = {
        **CASE8,
        "comment_content": "Visit http://cheap.example/pills and http://more.example now",
        "comment_author_email": "x@spam.example",
        "comment_author_url": "http://author.example",
    }
    assert api.post("/1.1/comment-check", data=body).status_code == 200  # warm: script loaded, site cached
    before = server_calls(state.client)
    counter = SendCounter(monkeypatch, state.client)
    answer = api.post("/1.1/comment-check", data=body)
    round_trips, commands, sent = counter.round_trips, counter.commands, list(counter.sent)
    after = server_calls(state.client)
    assert answer.status_code == 200 and answer.data in (b"true", b"false")
    assert round_trips == 1, sent
    assert commands == 1  # one EVALSHA: limit, usage, reputation read and write
    # What Redis ran for it (other clients share the server, so this is an upper bound of ours):
    # EVALSHA + the script's INCR/HINCRBY/SADD/MGET/SET per signal and the INFO
    # (tests/integration/backends/test_gate_work.py counts them exactly).
    assert after - before >= 2


def test_a_refused_check_counts_no_usage_and_records_nothing(api_app, api, db, monkeypatch):
    from akismet_wire import add_site

    from spamguard.storage.models import Site

    key = "bbbbbbbbbbbb"
    site_id = add_site(api_app, key)
    site = db.get(Site, site_id)
    site.rate_limit = "1/minute"
    db.commit()
    body = {**CASE8, "api_key": key}
    assert api.post("/1.1/comment-check", data=body).headers.get("X-akismet-error") is None
    counter = SendCounter(monkeypatch, services(api_app).state.client)
    refused = api.post("/1.1/comment-check", data=body)
    round_trips = counter.round_trips
    assert refused.headers["X-akismet-error"] == "Rate limit exceeded"
    assert round_trips == 1
    usage = services(api_app).quota.usage
    assert usage.counters(site_id, __import__("spamguard.quota", fromlist=["month_of"]).month_of())["api_calls"] == 1

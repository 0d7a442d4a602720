"""What one comment-check costs Redis: one round trip, and few commands inside the gate script.

Counted with MONITOR on the real server (the commands Lua runs show up as `lua` clients), keeping only
this test's keys, so other users of the shared server do not count.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from spamguard.comment import Comment
from spamguard.gate import CheckGate
from spamguard.quota import KeyRateLimiter, Quota, UsageCounter
from spamguard.reputation import ReputationStore

NOW = 1_800_000_000.0
COMMON = Comment(  # IP, e-mail, author URL and a link: four reputation signals
    blog="https://blog.example",
    user_ip="198.51.100.7",
    comment_author_email="a@mail.example",
    comment_author_url="https://author.example",
    comment_content="see http://pills.example/buy",
)


def commands_of(state, action) -> list[tuple[str, str]]:
    """(client type, command name) of every command touching `state`'s keys while `action` runs."""
    marker = f"end-of-{uuid.uuid4().hex}"
    seen: list[tuple[str, str]] = []
    with state.client.monitor() as monitor:
        action()
        state.client.echo(marker)
        for _ in range(100_000):
            event = monitor.next_command()
            if marker in event["command"]:
                break
            if state.prefix in event["command"]:
                seen.append((event["client_type"], event["command"].split(" ", 1)[0].upper()))
    return seen


def test_a_common_check_is_one_round_trip_of_at_most_ten_commands(state):
    gate = CheckGate(
        state, Quota(KeyRateLimiter(state, "30000/minute;1000/second"), UsageCounter(state)), ReputationStore(state)
    )
    site = SimpleNamespace(id=1, rate_limit=None, monthly_limit=None, share_reputation=True)
    gate.enter(site, COMMON, now=NOW)  # the first check of the month also sets TTLs
    for i in (1, 2):
        seen = commands_of(state, lambda i=i: gate.enter(site, COMMON, now=NOW + i))
        sent = [name for client, name in seen if client != "lua"]
        inside = sorted(name for client, name in seen if client == "lua")
        assert sent == ["EVALSHA"]
        # Two rate windows, usage and its dirty mark, one read of the four strings, one write each.
        assert inside == ["HINCRBY", "INCR", "INCR", "MGET", "SADD", "SET", "SET", "SET", "SET"]
    assert gate.enter(site, COMMON, now=NOW + 3).reputation.detail["burst"]["count"] == 4

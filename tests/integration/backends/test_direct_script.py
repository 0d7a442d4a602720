"""`ThreadScript`: the check gate's script on one connection per thread, against the real server."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from spamguard.backends import RedisState
from spamguard.backends.direct import ThreadScript, direct_ok

# A fresh script text per test: the server has never seen its SHA, so the first call takes the load path.
ECHO = "-- {tag}\nredis.call('INCR', KEYS[1]); return {{ARGV[1], redis.call('GET', KEYS[1])}}"


def script_for(state: RedisState) -> ThreadScript:
    return ThreadScript(state.client, ECHO.format(tag=uuid.uuid4().hex))


def test_loads_the_script_once_then_runs_it_on_its_own_connection(state):
    script = script_for(state)
    key = state.key("direct")
    assert script(state.client, [key], ["a"]) == ["a", "1"]  # NOSCRIPT → SCRIPT LOAD → EVALSHA
    assert state.client.script_exists(script.sha) == [True]
    assert script(state.client, [key], ["b"]) == ["b", "2"]
    conn = script._local.conn
    assert script(state.client, [key], ["c"]) == ["c", "3"]
    assert script._local.conn is conn  # kept for the thread
    assert conn not in state.client.connection_pool._available_connections  # never the pool's


def test_each_thread_has_its_own_connection(state):
    script = script_for(state)
    key = state.key("threads")
    conns, answers = [], []

    def run():
        answers.extend(script(state.client, [key], ["x"]) for _ in range(20))
        conns.append(script._local.conn)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in conns}) == 4
    assert sorted(int(n) for _, n in answers) == list(range(1, 81))  # every INCR answered to its caller


def test_a_dropped_connection_reconnects_on_the_next_call(state):
    script = script_for(state)
    key = state.key("reconnect")
    script(state.client, [key], ["a"])
    script._local.conn.disconnect()
    assert script(state.client, [key], ["b"]) == ["b", "2"]


def test_a_server_error_leaves_the_connection_usable(state):
    script = ThreadScript(state.client, "return redis.error_reply('nope')")
    with pytest.raises(redis.ResponseError, match="nope"):
        script(state.client, [], [])
    conn = script._local.conn
    with pytest.raises(redis.ResponseError, match="nope"):
        script(state.client, [], [])
    assert script._local.conn is conn


def test_an_unreachable_server_raises_for_the_fail_open_guard_and_counts_it():
    dead = RedisState("redis://127.0.0.1:1/0", f"sgdead:{uuid.uuid4().hex}:", timeout=0.05)
    script = ThreadScript(dead.client, "return 1")
    with pytest.raises(redis.ConnectionError):
        script(dead.client, [], [])
    assert dead.call("check", lambda r: script(r, [], []), "default") == "default"  # breaker now open
    assert not dead.available


def test_another_client_gets_another_connection(state):
    script = script_for(state)
    key = state.key("swap")
    script(state.client, [key], ["a"])
    first = script._local.conn
    other = RedisState(state.url, state.prefix, timeout=1.0).client
    assert script(other, [key], ["b"]) == ["b", "2"]
    assert script._local.conn is not first and first._sock is None  # the old one closed


def test_clients_it_cannot_talk_for_run_the_script_the_ordinary_way():
    memory = RedisState(f"memory://{uuid.uuid4().hex}", "sgmem:", timeout=1.0)
    assert not direct_ok(memory.client)
    script = ThreadScript(memory.client, ECHO.format(tag="memory"))
    assert script(memory.client, ["k"], ["a"]) == ["a", "1"]
    assert script._local.conn is None


def test_the_command_is_packed_as_the_connection_packs_it(state):
    script = script_for(state)
    key = state.key("packed")
    assert script(state.client, [key], ["a"]) == ["a", "1"]
    conn = script._local.conn
    command = (b"EVALSHA", script.sha, 2, key, "k2", "", "é", 0, -7, 10**20, 1.5, repr(1.8e9 + 0.25), b"\x00raw")
    assert script._pack(conn, command) == conn.pack_command(*command)
    if script._local.hiredis:  # redis-py's own packer with hiredis turns the bad argument into a DataError
        with pytest.raises(redis.DataError):
            script._pack(conn, (b"EVALSHA", script.sha, 1, key, None))
        with pytest.raises(redis.DataError):
            conn.pack_command(b"EVALSHA", script.sha, 1, key, None)

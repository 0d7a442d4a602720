"""A Lua script sent straight down one Redis connection per thread: the check gate's call.

redis-py's command path costs more than the round trip itself for one EVALSHA a request: a pool
checkout and release under a lock with a fork check each way, the retry wrapper, per-command
operation metrics and the response-callback look-up: ≈ 12 % of a worker's GIL-holding samples under
`wrk -c16`, ≈ 2 % this way (`CheckGate.enter` in process on a loaded box: 189 → 110 µs of CPU).
Here each serving thread keeps its own connection, built like the pool's (same class, timeouts, TLS),
and the script's call is one packed write and one read.  Clients this does not apply to (the
`memory://` twin, Redis Cluster, client-side caching) run the script the ordinary way.

Errors are the caller's, as with redis-py (`RedisState.call` fails open): a reply error leaves the
connection in step; anything else drops it, and the next call reconnects.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.connection import Connection, HiredisRespSerializer, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError, NoScriptError, ResponseError

try:
    from hiredis import pack_command as hiredis_pack
except ImportError:  # redis-py then packs in Python, and so does `ThreadScript`
    hiredis_pack = None  # type: ignore[assignment]

DIRECT_CONNECTIONS = (Connection, SSLConnection, UnixDomainSocketConnection)


def direct_ok(client: Any) -> bool:
    """A plain Redis client with a plain connection pool: what `ThreadScript` can talk for."""
    pool = getattr(client, "connection_pool", None)
    return (
        type(client) is redis.Redis
        and getattr(client, "connection", None) is None  # not a single-connection client
        and pool is not None
        and pool.connection_class in DIRECT_CONNECTIONS
        and getattr(pool, "cache", None) is None
    )


class ThreadScript:
    """`script(client, keys, args)`: EVALSHA on this thread's connection to `client`'s server
    (SCRIPT LOAD once when the server does not know the script)."""

    def __init__(self, client: Any, script: str) -> None:
        self.script = script
        self.sha = hashlib.sha1(script.encode("utf-8")).hexdigest()
        self._ordinary = client.register_script(script)  # for the clients `direct_ok` refuses
        self._local = threading.local()

    def __call__(self, client: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        conn = self._connection(client)
        if conn is None:
            return self._ordinary(keys=keys, args=args, client=client)
        command = self._pack(conn, (b"EVALSHA", self.sha, len(keys), *keys, *args))
        try:
            try:
                conn.send_packed_command(command, check_health=False)
                return conn.read_response()
            except NoScriptError:  # a restarted or flushed server: load it, then once more
                conn.send_command("SCRIPT", "LOAD", self.script, check_health=False)
                conn.read_response()
                conn.send_packed_command(command, check_health=False)
                return conn.read_response()
        except ResponseError:
            raise  # the server answered: the connection is still in step
        except BaseException:
            conn.disconnect()  # a timeout may leave a reply unread: never reuse the socket
            raise

    def _pack(self, conn: Connection, command: tuple) -> Any:
        """`conn.pack_command(*command)`, byte for byte.  With hiredis (redis-py's packer when it is
        installed) that method only turns bytearray/memoryview arguments into bytes, a generator step
        and type check per argument, before `hiredis.pack_command`: callers here pass str, bytes, int
        and float, so hiredis is called directly."""
        if not self._local.hiredis:
            return conn.pack_command(*command)
        try:
            return [hiredis_pack(command)]
        except TypeError as exc:  # as redis-py reports it: a DataError, which the caller fails open on
            raise DataError(exc) from exc

    def _connection(self, client: Any) -> Connection | None:
        """This thread's connection for `client` (None: not a client to talk for directly).

        Rebuilt after a fork (the parent's socket is not this process's to use) or when the caller
        passes another client (the old connection is closed)."""
        local = self._local
        if getattr(local, "client", None) is client and local.pid == os.getpid():
            return local.conn
        old = getattr(local, "conn", None)
        if old is not None and local.pid == os.getpid():
            old.disconnect()
        conn = None
        if direct_ok(client):
            pool = client.connection_pool
            conn = pool.connection_class(**pool.connection_kwargs)
        local.client, local.conn, local.pid = client, conn, os.getpid()
        local.hiredis = hiredis_pack is not None and isinstance(
            getattr(conn, "_command_packer", None), HiredisRespSerializer
        )
        return conn

"""gunicorn under the packaged settings: a listening socket per worker, a taken port still refused, and the
shared socket back when SPAMGUARD_LISTEN_PER_WORKER is off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from live_server import LiveServer

pytestmark = pytest.mark.slow


def tcp_inodes(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local `port` in `state` (/proc/net/tcp: 0A listening, 01 established)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return sorted(int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split())


def start(tmp_path: Path, model_dir, redis_prefix: str, **extra: str) -> tuple[LiveServer, dict[str, str]]:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SPAMGUARD_MODEL_DIR": str(model_dir),
        "SPAMGUARD_VAR_DIR": str(tmp_path),
        "SPAMGUARD_REDIS_PREFIX": f"{redis_prefix}sockets:",
        "SECRET_KEY": "sockets",
        "SPAMGUARD_LOG_LEVEL": "INFO",
        **extra,
    }
    return LiveServer(env, tmp_path, workers=3, name="sockets").wait_ready(), env


@pytest.fixture
def server(tmp_path, model_dir, redis_prefix):
    live, env = start(tmp_path, model_dir, redis_prefix)
    try:
        yield live, env
    finally:
        live.stop()


def test_each_worker_listens_on_its_own_socket(server):
    """The master holds no listener; each worker one of its own, so the kernel spreads connections over them."""
    live, _ = server
    workers = children(live.process.pid)
    assert len(workers) == 3
    listeners = tcp_inodes(live.port, "0A")
    assert len(listeners) == 3
    assert not sockets_of(live.process.pid) & listeners
    owned = [sockets_of(pid) & listeners for pid in workers]
    assert all(len(mine) == 1 for mine in owned)
    assert len(set().union(*owned)) == 3
    # 30 kept-alive connections, each hashed to one of the three sockets: every worker holds some
    # (all on two of them or fewer: p ≈ 3 × (2/3)³⁰ ≈ 2e-5).
    clients = [httpx.Client() for _ in range(30)]
    try:
        assert {client.get(f"{live.url}/healthz").status_code for client in clients} == {200}
        held = [len(sockets_of(pid) & tcp_inodes(live.port, "01")) for pid in workers]
    finally:
        for client in clients:
            client.close()
    assert sum(held) == 30
    assert min(held) >= 1
    assert "with its own socket (SO_REUSEPORT)" in live.log()


def test_a_port_already_served_is_refused_not_shared(server, tmp_path):
    """Without a socket in the master, SO_REUSEPORT would let a second instance join the first one's port."""
    live, env = server
    second = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:spamguard.gunicorn_conf"]
        + ["--bind", f"127.0.0.1:{live.port}", "--workers", "1", "spamguard.wsgi:app"],
        env={**os.environ, "SPAMGUARD_ENV_FILE": os.devnull, **env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{live.port}: already in use" in second.stderr
    assert len(tcp_inodes(live.port, "0A")) == 3  # the first instance's, untouched
    assert httpx.get(f"{live.url}/healthz").status_code == 200


def test_switched_off_the_workers_share_the_masters_socket(tmp_path, model_dir, redis_prefix):
    live, _ = start(tmp_path, model_dir, redis_prefix, SPAMGUARD_LISTEN_PER_WORKER="false")
    try:
        listeners = tcp_inodes(live.port, "0A")
        assert len(listeners) == 1
        assert listeners <= sockets_of(live.process.pid)
        assert all(listeners <= sockets_of(pid) for pid in children(live.process.pid))
        assert "SO_REUSEPORT" not in live.log()
    finally:
        live.stop()

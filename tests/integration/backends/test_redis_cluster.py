"""Rate limits, usage and reputation on a real 3-master Redis Cluster (Debian's redis-server, started here)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import redis

from spamguard.services import services

pytestmark = pytest.mark.slow
SPAM = {
    "blog": "https://cluster.example",
    "user_ip": "203.0.113.77",
    "comment_author": "Spammer",
    "comment_content": "cheap pills http://pills.example/buy http://pills.example/now",
}


def _free_ports(n: int) -> list[int]:
    """`n` ports that are free together with their cluster-bus ports (port + 10000, which must fit in 16 bits).

    Redis Cluster nodes also listen on port + 10000; an ephemeral port above 55535 has no bus port and
    the node exits at once, so ports are drawn from a range where both can be bound.
    """
    import random
    import socket

    rng = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        # Bus ports end below 32768, where Linux's ephemeral ports start: no outgoing connection takes one.
        port = rng.randrange(20000, 22768)
        if port in ports:
            continue
        socks = [socket.socket(), socket.socket()]
        try:
            socks[0].bind(("127.0.0.1", port))
            socks[1].bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        ports.append(port)
    return ports


def redis_failures(client) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = client.get("/metrics").get_data(as_text=True)
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "spamguard_redis_failures_total"
    )


def _cluster_state(port: int) -> str:
    """CLUSTER INFO's cluster_state (redis-py parses the reply into a dict; older versions return text)."""
    info = redis.Redis(port=port, decode_responses=True).execute_command("CLUSTER INFO")
    if isinstance(info, dict):
        return str(info.get("cluster_state", ""))
    return next(
        (line.split(":", 1)[1].strip() for line in str(info).splitlines() if line.startswith("cluster_state:")), ""
    )


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory):
    server = shutil.which("redis-server")
    cli = shutil.which("redis-cli")
    if not server or not cli:  # a failure, not a skip: CI must have Debian's redis-server
        pytest.fail("redis-server and redis-cli are required (apt-get install redis-server)")
    work = tmp_path_factory.mktemp("redis-cluster")
    ports = _free_ports(3)
    processes = []
    try:
        for port in ports:
            node = work / str(port)
            node.mkdir()
            processes.append(
                subprocess.Popen(
                    [
                        server,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node / "nodes.conf"),
                        "--dir",
                        str(node),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        for port, process in zip(ports, processes, strict=True):
            for _ in range(300):
                try:
                    redis.Redis(port=port).ping()
                    break
                except redis.ConnectionError:
                    if process.poll() is not None:
                        pytest.fail(f"redis-server on port {port} exited with {process.returncode}")
                    time.sleep(0.05)
            else:
                pytest.fail(f"redis-server on port {port} did not answer within 15 s")
        created = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *[f"127.0.0.1:{p}" for p in ports],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=120,
        )
        if created.returncode != 0:
            pytest.fail(
                f"redis-cli --cluster create failed:\n{created.stdout.decode()[-2000:]}"
                f"{created.stderr.decode()[-2000:]}"
            )
        for _ in range(600):  # every node must agree the cluster is up before the app connects
            if all(_cluster_state(p) == "ok" for p in ports):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the cluster did not reach cluster_state:ok within 30 s")
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


def test_limits_usage_and_reputation_on_redis_cluster(make_app, cluster_url, redis_url):
    from spamguard import sites, storage
    from spamguard.storage.models import Site

    app = make_app(REDIS_URL=cluster_url, SPAMGUARD_QUEUE_REDIS_URL=redis_url, SPAMGUARD_REDIS_TIMEOUT=0.5)
    state = services(app).state
    assert type(state.client).__name__ == "RedisCluster" and state.prefix.startswith("{")
    with app.app_context():
        site, key = sites.create_site(
            storage.get_session(), "https://cluster.example", secret=app.config["SPAMGUARD_KEY_SECRET"]
        )
        storage.get_session().get(Site, site.id).rate_limit = "4/day"
        storage.get_session().commit()
    client = app.test_client()
    failures_before = redis_failures(client)  # the counter is per process: other tests may have moved it

    answers = [client.post("/1.1/comment-check", data={"api_key": key, **SPAM}) for _ in range(5)]
    assert [bool(a.headers.get("X-akismet-error")) for a in answers] == [False] * 4 + [True]
    # Reports share the key's rate limit (one window in the cluster): refused, never "Thanks".
    report = client.post("/1.1/submit-spam", data={"api_key": key, **SPAM})
    assert report.status_code == 429 and not report.data.startswith(b"Thanks")

    # Nothing failed open: every counter really went to the cluster.
    assert redis_failures(client) == failures_before
    usage = services(app).quota.usage
    with app.app_context():
        report = usage.usage_report(
            sites.find_site(storage.get_session(), key, secret=app.config["SPAMGUARD_KEY_SECRET"]),
            False,
            storage.get_session(),
        )
    assert report["usage"] == 4  # the refused fifth call is not usage
    with app.app_context():
        assert usage.flush_usage(storage.get_session()) >= 1  # SUNIONSTORE + Lua, one hash slot
    keys = [
        k
        for node in state.client.get_nodes()
        for k in state.client.get_redis_connection(node).keys(f"*{state.prefix}*")
    ]
    assert any("rep:" in k for k in keys) and any("usage:" in k for k in keys)
    assert any("rl:" in k for k in keys)  # the rate-limit windows

"""Which binds get a listening socket per worker (spamguard.gunicorn_conf.tcp_addresses)."""

from __future__ import annotations

import importlib

import pytest


@pytest.fixture
def conf(monkeypatch, tmp_path):
    # Set before the import: the module would otherwise pick a metrics directory for this whole process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    return importlib.import_module("spamguard.gunicorn_conf")


@pytest.mark.parametrize(
    ("binds", "expected"),
    [
        (["127.0.0.1:8000"], [("127.0.0.1", 8000)]),
        (["0.0.0.0:80", "[::1]:8080"], [("0.0.0.0", 80), ("::1", 8080)]),
        (["127.0.0.1:0"], None),  # each worker would bind a port of its own
        (["unix:/run/spamguard.sock"], None),  # each worker would replace the socket file
        (["127.0.0.1:8000", "unix:/run/spamguard.sock"], None),
        (["fd://3"], None),
    ],
)
def test_only_fixed_tcp_ports_get_a_socket_per_worker(conf, binds, expected):
    assert conf.tcp_addresses(binds) == expected

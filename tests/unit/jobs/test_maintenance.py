"""The background loop that saves usage counters and replays feedback: counted runs, no clock.

The two tasks are stand-ins that count their calls (their own Redis behaviour is tested in
tests/integration/quota, reputation and backends); what is under test here is the loop: both tasks every
pass, a failing task never stops the other, one thread per process, and a last flush at shutdown.
"""

from __future__ import annotations

import logging
import os
import threading

import pytest

from spamguard import storage
from spamguard.jobs import maintenance
from spamguard.jobs.maintenance import Maintenance, build_state

WAIT = 30.0  # seconds before a test gives up waiting for an event; never a measurement


class Task:
    """Counts calls, checks it got a session, and signals when it has run `until` times."""

    def __init__(self, result: int = 1, error: Exception | None = None, until: int = 1) -> None:
        self.calls = 0
        self.result, self.error, self.until = result, error, until
        self.reached = threading.Event()
        self.sessions: list[object] = []

    def __call__(self, session) -> int:
        self.calls += 1
        self.sessions.append(session)
        if self.calls >= self.until:
            self.reached.set()
        if self.error is not None:
            raise self.error
        return self.result


class Usage:
    def __init__(self, task: Task) -> None:
        self.flush_usage = task


class Reputation:
    def __init__(self, task: Task) -> None:
        self.catch_up = task


@pytest.fixture
def session_factory(tmp_path):
    return storage.make_sessionmaker(f"sqlite:///{tmp_path / 'maintenance.db'}")


@pytest.fixture
def exits(monkeypatch):
    """What the loop registers to run at interpreter exit (recorded, not left behind by the test)."""
    registered: list[object] = []
    monkeypatch.setattr(maintenance.atexit, "register", registered.append)
    return registered


def test_one_pass_runs_both_tasks_each_in_its_own_session(session_factory):
    usage, feedback = Task(result=3), Task(result=5)
    loop = Maintenance(Usage(usage), Reputation(feedback), session_factory)
    assert loop.run_once() == {"usage_rows": 3, "feedback_rows": 5}
    assert (usage.calls, feedback.calls) == (1, 1)
    assert usage.sessions[0] is not feedback.sessions[0]


def test_a_failing_task_is_logged_and_does_not_stop_the_other(session_factory, caplog):
    usage, feedback = Task(error=ConnectionError("redis down")), Task(result=2)
    loop = Maintenance(Usage(usage), Reputation(feedback), session_factory)
    with caplog.at_level(logging.WARNING, logger="spamguard.jobs.maintenance"):
        assert loop.run_once() == {"usage_rows": 0, "feedback_rows": 2}
    [record] = caplog.records
    assert (record.event, record.task, record.error) == ("maintenance_error", "usage_rows", "ConnectionError")


def test_the_thread_starts_once_per_process_and_repeats_the_pass(session_factory, exits):
    usage, feedback = Task(until=3), Task(until=3)
    loop = Maintenance(Usage(usage), Reputation(feedback), session_factory, interval=0.001)
    loop.ensure_started()
    first = loop._thread
    loop.ensure_started()
    assert loop._thread is first and exits == [loop.stop]
    assert usage.reached.wait(WAIT) and feedback.reached.wait(WAIT)
    loop.stop()
    assert not first.is_alive()


def test_stop_flushes_one_last_time_and_the_loop_ends(session_factory, exits):
    usage, feedback = Task(), Task()
    loop = Maintenance(Usage(usage), Reputation(feedback), session_factory, interval=3600)
    loop.ensure_started()
    assert usage.calls == 0  # the first periodic pass is an interval away
    loop.stop()
    assert (usage.calls, feedback.calls) == (1, 1)
    assert not loop._thread.is_alive()


def test_a_forked_child_starts_its_own_thread_and_leaves_the_parent_s_alone(session_factory, exits):
    usage = Task()
    loop = Maintenance(Usage(usage), Reputation(Task()), session_factory, interval=3600)
    loop.ensure_started()
    parent_thread, parent_stop = loop._thread, loop._stop
    loop._pid = os.getpid() + 1  # what a child sees after gunicorn forks: the thread belongs to the parent
    loop.stop()  # not this process's loop: nothing to stop or flush
    assert usage.calls == 0
    loop.ensure_started()
    assert loop._thread is not parent_thread and loop._pid == os.getpid()
    loop.stop()
    assert usage.calls == 1
    parent_stop.set()  # in a real child the parent's thread does not exist; end it for the test's sake
    parent_thread.join(WAIT)
    assert not parent_thread.is_alive()


def test_services_are_built_from_the_settings_without_connecting(session_factory):
    config = {
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "SPAMGUARD_REDIS_PREFIX": "unit:",
        "SPAMGUARD_REDIS_TIMEOUT": 0.2,
        "SPAMGUARD_MONTHLY_LIMIT": 1000,
        "SPAMGUARD_RATE_LIMIT_COMMENTER_IP": "7/minute",
        "SPAMGUARD_REPUTATION_MIN_SITES": 4,
    }
    services = build_state(config, session_factory)
    assert (services.state.prefix, services.state.timeout) == ("unit:", 0.2)
    assert services.usage.state is services.state and services.usage.default_limit == 1000
    assert services.reputation.state is services.state and services.reputation.min_sites == 4
    assert (services.reputation.burst_amount, services.reputation.burst_window) == (7, 60)
    assert services.session_factory is session_factory

"""The SQLite writer queue: one holder at a time across threads and processes, nothing for other databases."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading

import pytest

from spamguard.storage.write_lock import WriteLock


def test_only_sqlite_files_get_a_lock_file(tmp_path):
    assert WriteLock.for_url("postgresql+psycopg://u@localhost/db") is None
    assert WriteLock.for_url("sqlite://").path is None
    assert WriteLock.for_url("sqlite:///:memory:").path is None
    assert WriteLock.for_url(f"sqlite:///{tmp_path}/sg.db").path == f"{tmp_path}/sg.db-writer.lock"


def _can_take(path: str) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock this descriptor took
    return True


def test_a_holder_excludes_other_processes_until_it_leaves(tmp_path):
    lock = WriteLock.for_url(f"sqlite:///{tmp_path}/sg.db")
    assert lock is not None and lock.path is not None
    with lock():
        assert not _can_take(lock.path)  # another open file description: another process's view
    assert _can_take(lock.path)


def _child(lock: WriteLock, answer) -> None:
    fd = lock._file()  # this process's descriptor: must not share the parent's lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        answer.put("took it beside the parent")
        return
    except BlockingIOError:
        answer.put("blocked")
    with lock():  # the thread lock a forking parent held is not inherited as held
        answer.put("held")


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_worker_opens_its_own_descriptor(tmp_path):
    """A descriptor inherited over fork would share the parent's lock, letting both write at once."""
    lock = WriteLock.for_url(f"sqlite:///{tmp_path}/sg.db")
    assert lock is not None
    context = multiprocessing.get_context("fork")
    answer = context.Queue()
    with lock():
        child = context.Process(target=_child, args=(lock, answer))
        child.start()
        assert answer.get(timeout=30) == "blocked"
    assert answer.get(timeout=30) == "held"
    child.join(30)
    assert child.exitcode == 0


def test_a_writer_waits_no_longer_than_the_busy_timeout(tmp_path):
    """A stuck holder elsewhere: after the timeout the write goes ahead and SQLite's own busy handling decides."""
    lock = WriteLock.for_url(f"sqlite:///{tmp_path}/sg.db", timeout=0.05)
    assert lock is not None and lock.path is not None
    other = os.open(lock.path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process's holder that never lets go
        entered = []
        with lock():
            entered.append(True)
        assert entered == [True]
    finally:
        os.close(other)
    with lock():
        assert not _can_take(lock.path)  # free again: taken normally


def test_a_waiting_writer_gets_the_lock_the_moment_the_other_process_lets_go(tmp_path):
    """The wait blocks in flock (a helper thread) instead of polling, and still hands the lock over."""
    lock = WriteLock.for_url(f"sqlite:///{tmp_path}/sg.db", timeout=30)
    assert lock is not None and lock.path is not None
    other = os.open(lock.path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)
    timer = threading.Timer(0.05, os.close, args=(other,))  # the other process's writer finishes
    timer.start()
    with lock():
        assert not _can_take(lock.path)  # held by this process now
    timer.join()
    assert _can_take(lock.path)


def test_a_writer_that_gave_up_does_not_leave_the_lock_taken(tmp_path):
    """The helper still blocked when its caller timed out drops the flock on getting it; the next writer takes it."""
    lock = WriteLock.for_url(f"sqlite:///{tmp_path}/sg.db", timeout=0.02)
    assert lock is not None and lock.path is not None
    other = os.open(lock.path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)
    with lock():
        pass  # gave up after 20 ms; the helper is still waiting
    os.close(other)
    lock.timeout = 30
    with lock():  # waits for that same helper, which hands the flock over
        assert not _can_take(lock.path)
    assert _can_take(lock.path)

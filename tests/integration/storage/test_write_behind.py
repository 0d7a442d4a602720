"""Check rows written behind the answer: batched by size or interval (injected clock), never dropped.

The buffer runs without its thread here (`background=False`, `tick()` called by the test) except where the
thread itself is the subject; the CheckService tests run the app with SPAMGUARD_CHECK_WRITE_BEHIND_MS set.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from spamguard import storage
from spamguard.storage.models import Check, Feedback
from spamguard.storage.write_behind import WriteBehind, close_all


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'wb.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = storage.make_engine(url)
    rows.drop(engine, checkfirst=True)
    rows.create(engine)
    yield engine
    rows.drop(engine)
    engine.dispose()


metadata = MetaData()
rows = Table("wb_rows", metadata, Column("id", Integer, primary_key=True), Column("name", String(20)))


def stored(engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(rows.c.name).order_by(rows.c.id)))


def make(engine, clock, **options) -> WriteBehind:
    return WriteBehind(engine, insert(rows), interval=0.1, clock=clock, background=False, **options)


def test_rows_wait_for_the_interval_then_go_in_one_batch(engine):
    clock = Clock()
    buffer = make(engine, clock, batch=100)
    for name in ("a", "b", "c"):
        buffer.add({"name": name})
    clock.now += 0.09
    assert buffer.tick() == 0 and stored(engine) == [] and buffer.pending == 3
    clock.now += 0.01
    assert buffer.tick() == 3
    assert stored(engine) == ["a", "b", "c"] and buffer.batches == 1 and buffer.pending == 0
    assert buffer.tick() == 0  # nothing pending: nothing due


def test_a_full_batch_is_due_before_the_interval(engine):
    clock = Clock()
    buffer = make(engine, clock, batch=3)
    buffer.add({"name": "a"})
    buffer.add({"name": "b"})
    assert not buffer.due()
    buffer.add({"name": "c"})
    assert buffer.due() and buffer.tick() == 3 and stored(engine) == ["a", "b", "c"]


def test_a_full_buffer_makes_the_request_write_its_own_row_and_loses_nothing(engine):
    clock = Clock()
    buffer = make(engine, clock, batch=2, capacity=2)
    for name in ("a", "b", "c", "d"):
        buffer.add({"name": name})
    assert buffer.direct_writes == 2 and stored(engine) == ["c", "d"] and buffer.pending == 2
    assert buffer.close() == 2
    assert sorted(stored(engine)) == ["a", "b", "c", "d"]


def test_close_writes_what_is_pending_and_later_rows_are_written_directly(engine):
    clock = Clock()
    buffer = make(engine, clock)
    buffer.add({"name": "a"})
    assert close_all() >= 1  # the shutdown hook (gunicorn's worker_exit, atexit) reaches every open buffer
    assert stored(engine) == ["a"]
    buffer.add({"name": "b"})
    assert buffer.pending == 0 and buffer.direct_writes == 1 and stored(engine) == ["a", "b"]


def test_a_failed_batch_stays_pending_and_is_written_by_the_next_one(engine):
    clock = Clock()
    failures = []

    @contextlib.contextmanager
    def flaky_lock():
        if not failures:
            failures.append(1)
            raise RuntimeError("database down")
        yield

    buffer = make(engine, clock, write_lock=flaky_lock)
    buffer.add({"name": "a"})
    clock.now += 0.1
    with pytest.raises(RuntimeError):
        buffer.tick()
    assert buffer.pending == 1 and stored(engine) == [] and buffer.failing
    buffer.add({"name": "b"})  # while batches fail, a request writes its own row (and would see the error)
    assert buffer.direct_writes == 1 and buffer.pending == 1 and stored(engine) == ["b"]
    assert buffer.due()  # the failed rows keep their age: retried at the next wake-up
    assert buffer.tick() == 1 and stored(engine) == ["b", "a"] and not buffer.failing
    buffer.add({"name": "c"})
    assert buffer.pending == 1  # buffered again


def test_the_writer_thread_writes_rows_without_being_asked(engine):
    # The interval is long enough that "a" and "b" go in one batch even on a loaded machine; the waits
    # include the batch count because rows are visible (committed) just before it is counted.
    buffer = WriteBehind(engine, insert(rows), interval=0.3)

    def settled(names: list[str], batches: int) -> bool:
        deadline = time.monotonic() + 10
        while (stored(engine), buffer.batches) != (names, batches) and time.monotonic() < deadline:
            time.sleep(0.01)
        return (stored(engine), buffer.batches) == (names, batches)

    for name in ("a", "b"):
        buffer.add({"name": name})
    assert settled(["a", "b"], 1)
    buffer.add({"name": "c"})  # an idle writer (nothing pending) wakes for the next row
    assert settled(["a", "b", "c"], 2)
    buffer.close()
    assert buffer._thread is not None
    buffer._thread.join(timeout=10)
    assert not buffer._thread.is_alive()  # close() ends the thread


# --- the comment-check pipeline with the buffer on ----------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def buffered_app(request, make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'buffered.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    app = make_app(url, SPAMGUARD_CHECK_WRITE_BEHIND_MS=60_000)  # never due by time: only flushes write
    yield app
    close_all()


@pytest.fixture
def api_key_for():
    from spamguard import sites

    def factory(app) -> str:
        with app.app_context():
            _site, key = sites.create_site(
                storage.get_session(), "https://blog.example", secret=app.config["SPAMGUARD_KEY_SECRET"]
            )
        return key

    return factory


def count_checks(app) -> int:
    with app.app_context():
        return storage.get_session().scalar(select(func.count()).select_from(Check))


def test_a_check_answers_before_its_row_is_written_and_a_report_still_matches_it(buffered_app, api_key_for):
    from spamguard.services import services

    key = api_key_for(buffered_app)
    client = buffered_app.test_client()
    comment = {"api_key": key, "blog": "https://blog.example", "user_ip": "203.0.113.9", "comment_content": "hi there"}
    rows = services(buffered_app).checks.rows
    answer = client.post("/1.1/comment-check", data=comment)
    guid = answer.headers["X-akismet-guid"]
    assert rows.pending == 1 and rows.batches == 0
    assert client.post("/1.1/submit-spam", data=comment).get_data(as_text=True).startswith("Thanks")
    assert rows.pending == 0 and rows.read_flushes == 1  # the report's look-up wrote the row first
    with buffered_app.app_context():
        session = storage.get_session()
        feedback = session.scalars(select(Feedback).order_by(Feedback.id.desc()).limit(1)).one()
        assert feedback.check_id is not None and session.get(Check, feedback.check_id).guid == guid


def test_a_read_of_the_checks_table_in_this_process_writes_the_pending_rows_first(buffered_app, api_key_for):
    from spamguard.services import services

    key = api_key_for(buffered_app)
    rows = services(buffered_app).checks.rows
    before = count_checks(buffered_app)
    client = buffered_app.test_client()
    for n in range(3):
        client.post(
            "/1.1/comment-check", data={"api_key": key, "blog": "https://blog.example", "user_ip": f"192.0.2.{n}"}
        )
    assert rows.pending == 3
    with buffered_app.app_context():
        session = storage.get_session()
        session.scalar(select(func.count()).select_from(Feedback))  # another table: nothing written
        assert rows.pending == 3 and rows.read_flushes == 0
    assert count_checks(buffered_app) == before + 3 and rows.pending == 0 and rows.read_flushes == 1


def test_a_check_whose_id_is_needed_is_written_before_the_answer(buffered_app, api_key_for):
    from spamguard.services import services

    key = api_key_for(buffered_app)
    before = count_checks(buffered_app)
    with buffered_app.app_context():
        site = services().site_cache.find(storage.get_session(), key)
        from spamguard.comment import Comment

        comment = Comment(blog="https://blog.example", user_ip="203.0.113.9", comment_content="hello")
        result = services().checks.check(storage.get_session(), site, comment, "akismet", need_id=True).result
    assert result is not None and result.check_id is not None
    assert count_checks(buffered_app) == before + 1 and services(buffered_app).checks.rows.pending == 0


def test_a_report_that_misses_looks_again_after_other_processes_wrote(buffered_app, api_key_for):
    """Another worker's pending row is not in this process: the look-up waits one interval and retries."""
    from spamguard.comment import Comment
    from spamguard.services import services

    key = api_key_for(buffered_app)
    checks = services(buffered_app).checks
    comment = Comment(blog="https://blog.example", user_ip="203.0.113.7", comment_content="from elsewhere")
    with buffered_app.app_context():
        session = storage.get_session()
        site = services().site_cache.find(session, key)
        other_worker = checks.rewired(rows=None)  # writes its row at once, like a worker whose batch went in
        waits: list[float] = []

        def sleep(seconds: float) -> None:  # the other worker's batch lands while this one waits
            waits.append(seconds)
            other_worker.check(storage.get_session(), site, comment, "akismet")

        found = checks.rewired(clock_sleep=sleep).find_original(session, site, comment)
        assert found is not None and found.comment_content == "from elsewhere"
        assert waits == [checks.rows.interval + 0.1]
        assert checks.find_original(session, site, comment) is not None  # a hit does not wait
        assert len(waits) == 1


def test_a_locked_database_answers_errors_once_a_batch_has_failed(make_app, tmp_path, api_key_for):
    """Checks answered before the failure was seen keep their rows (written after the lock); later ones
    write synchronously and answer 503 like without the buffer, until a batch goes in again."""
    import sqlite3

    from spamguard.services import services

    app = make_app(
        f"sqlite:///{tmp_path / 'locked.db'}", SPAMGUARD_CHECK_WRITE_BEHIND_MS=60_000, SPAMGUARD_SQLITE_BUSY_TIMEOUT=0.5
    )
    key = api_key_for(app)
    rows = services(app).checks.rows
    client = app.test_client()

    def check(n: int):
        data = {"api_key": key, "blog": "https://blog.example", "user_ip": f"192.0.2.{n}"}
        return client.post("/1.1/comment-check", data=data)

    assert check(1).status_code == 200
    lock = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        assert check(2).status_code == 200 and rows.pending == 2  # the failure is not known yet
        with pytest.raises(Exception, match="locked"):
            rows.flush()
        assert rows.failing and rows.pending == 2
        assert check(3).status_code == 503
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert rows.flush() == 2 and not rows.failing
    assert check(4).status_code == 200 and rows.pending == 1
    with app.app_context():
        ips = set(storage.get_session().scalars(select(Check.user_ip)))
    assert ips == {"192.0.2.1", "192.0.2.2", "192.0.2.4"}  # the read wrote the pending row first
    close_all()

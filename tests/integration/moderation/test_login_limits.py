"""Login under attack: limits before argon2, atomic counting, trusted proxies, session invalidation, idle expiry.

Password verifications are counted by wrapping `passwords.verify_password` (it still runs argon2).
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from moderation_helpers import UI
from sqlalchemy import select

from spamguard.moderation import passwords
from spamguard.storage.models import AuditLog


@pytest.fixture
def verifications(monkeypatch):
    """How many password verifications (argon2 runs) the app has done."""
    original = passwords.verify_password
    lock = threading.Lock()
    count = [0]

    def counted(stored_hash, password):
        with lock:
            count[0] += 1
        return original(stored_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counted)
    return lambda: count[0]


def post_login(client, username, password="wrong password!", ip="192.0.2.10", **headers):
    return client.post(
        "/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": ip}, headers=headers
    )


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_concurrent_guesses_never_exceed_the_limit(make_app, pg_url, verifications, database):
    """16 simultaneous wrong guesses at one account: exactly SPAMGUARD_LOGIN_MAX_FAILURES reach argon2."""
    app = make_app(pg_url if database == "postgresql" else None, WTF_CSRF_ENABLED=False)
    username = f"victim-{uuid.uuid4().hex[:8]}"
    UI(app).add_user(username)
    barrier = threading.Barrier(16)

    def guess(_):
        client = app.test_client()
        barrier.wait()
        return post_login(client, username, ip="198.51.100.77").status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(guess, range(16)))
    assert verifications() == 5
    assert sorted(statuses) == [401] * 5 + [429] * 11


def test_per_ip_limit_is_checked_before_argon2(make_app, verifications):
    """Spraying many usernames (unknown ones included) from one IP stops at the per-IP limit."""
    app = make_app(WTF_CSRF_ENABLED=False, SPAMGUARD_LOGIN_MAX_PER_IP=6)
    client = app.test_client()
    statuses = [post_login(client, f"user{i}").status_code for i in range(10)]
    assert statuses == [401] * 6 + [429] * 4 and verifications() == 6
    # Another address is not affected.
    assert post_login(client, "user0", ip="192.0.2.11").status_code == 401 and verifications() == 7


def test_global_limit_bounds_argon2_across_clients(make_app, verifications):
    app = make_app(WTF_CSRF_ENABLED=False, SPAMGUARD_LOGIN_MAX_GLOBAL=3)
    client = app.test_client()
    statuses = [post_login(client, "someone", ip=f"192.0.2.{i}").status_code for i in range(1, 7)]
    assert statuses == [401] * 3 + [429] * 3 and verifications() == 3
    with app.extensions["spamguard.db"]() as db:
        locked = db.scalars(select(AuditLog).where(AuditLog.action == "login_locked")).all()
    assert [row.details["limit"] for row in locked] == ["global"]  # audited once per window, not per request


def test_unknown_users_cost_one_verification_like_known_ones(make_app, verifications):
    app = make_app(WTF_CSRF_ENABLED=False)
    UI(app).add_user("alice")
    client = app.test_client()
    assert post_login(client, "alice").status_code == 401 and verifications() == 1
    assert post_login(client, "nobody-here").status_code == 401 and verifications() == 2


def _audit_ips(app, action):
    with app.extensions["spamguard.db"]() as db:
        return [row.details.get("ip") for row in db.scalars(select(AuditLog).where(AuditLog.action == action))]


def test_trusted_proxy_hops_give_the_client_address(make_app):
    """Behind one trusted proxy the client is the last X-Forwarded-For entry, for throttling and audit."""
    app = make_app(WTF_CSRF_ENABLED=False, SPAMGUARD_TRUSTED_PROXIES=1, SPAMGUARD_LOGIN_MAX_PER_IP=2)
    client = app.test_client()
    proxy = "10.0.0.2"
    for client_addr in ("203.0.113.1", "203.0.113.2"):
        for _ in range(2):  # each client has its own per-IP budget although all come through the proxy
            assert post_login(client, "x", ip=proxy, **{"X-Forwarded-For": client_addr}).status_code == 401
    # A spoofed first entry does not help: the proxy appended the real address last.
    spoofed = post_login(client, "x", ip=proxy, **{"X-Forwarded-For": "1.2.3.4, 203.0.113.1"})
    assert spoofed.status_code == 429
    assert _audit_ips(app, "login_failed") == ["203.0.113.1"] * 2 + ["203.0.113.2"] * 2


def test_without_trusted_proxies_forwarded_headers_are_ignored(make_app):
    app = make_app(WTF_CSRF_ENABLED=False, SPAMGUARD_LOGIN_MAX_PER_IP=2)
    client = app.test_client()
    statuses = [
        post_login(client, "x", ip="192.0.2.50", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(3)
    ]
    assert statuses == [401, 401, 429]
    assert _audit_ips(app, "login_failed") == ["192.0.2.50"] * 2


def test_a_copied_session_cookie_dies_at_logout(ui, app):
    ui.add_user("alice")
    client = app.test_client()
    assert ui.login(client, "alice").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get("/moderation").status_code == 200
    client.post("/logout", data={"csrf_token": ui.token(client)})
    assert thief.get("/moderation").status_code == 302
    # Logging in again works, with a new session.
    assert ui.login(client, "alice").status_code == 302 and client.get("/moderation").status_code == 200
    assert thief.get("/moderation").status_code == 302


def test_a_password_change_ends_every_session(ui, app):
    from spamguard.cli import cli

    ui.add_user("alice")
    client = app.test_client()
    ui.login(client, "alice")
    assert client.get("/moderation").status_code == 200
    result = CliRunner().invoke(
        cli,
        ["users", "passwd", "alice", "--password-stdin"],
        input="a brand new password\n",
        env={"DATABASE_URL": app.config["DATABASE_URL"]},
    )
    assert result.exit_code == 0, result.output
    assert client.get("/moderation").status_code == 302
    assert ui.login(client, "alice").status_code == 401
    assert ui.login(client, "alice", "a brand new password").status_code == 302


def test_sessions_expire_after_the_idle_lifetime(make_app, monkeypatch):
    """A session cookie last refreshed 13 h ago is refused; one from 11 h ago works (injected signer clock)."""
    import itsdangerous.timed

    app = make_app(SPAMGUARD_SESSION_IDLE_HOURS=12)
    ui = UI(app)
    ui.add_user("alice")
    client = app.test_client()
    ui.login(client, "alice")
    with client.session_transaction() as sess:
        data = dict(sess)
    serializer = app.session_interface.get_signing_serializer(app)
    real = itsdangerous.timed.TimestampSigner.get_timestamp

    def cookie_from(hours_ago):
        monkeypatch.setattr(
            itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: int(real(self) - hours_ago * 3600)
        )
        value = serializer.dumps(data)
        monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", real)
        return value

    for hours_ago, status in ((11, 200), (13, 302)):
        other = app.test_client()
        other.set_cookie("session", cookie_from(hours_ago))
        assert other.get("/moderation").status_code == status
    # Every request re-issues the cookie, so the lifetime counts from the last request.
    response = client.get("/moderation")
    assert "Expires=" in response.headers.get("Set-Cookie", "")

"""Login, logout, throttling, session hygiene, passwords, roles on every view, CSRF, headers."""

from __future__ import annotations

import re

import pytest
from moderation_helpers import PASSWORD, csrf_from
from sqlalchemy import func, select

from spamguard.moderation import passwords
from spamguard.storage.models import AuditLog, User


def test_login_and_logout(ui, app):
    ui.add_user("alice")
    client = app.test_client()
    assert client.get("/moderation").status_code == 302
    response = ui.login(client, "alice")
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/moderation").status_code == 200
    token = ui.token(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/moderation").status_code == 302
    with ui.db() as db:
        actions = db.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["login", "logout"]


def test_login_clears_the_previous_session(ui, app):
    """Session fixation: anything planted in the session before login is gone afterwards."""
    ui.add_user("alice")
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "attacker"
    ui.login(client, "alice")
    with client.session_transaction() as sess:
        assert "planted" not in sess and sess["user_id"]


def test_wrong_password_unknown_user_and_disabled_user_are_refused(ui, app):
    ui.add_user("alice")
    ui.add_user("bob", disabled=True)
    client = app.test_client()
    assert ui.login(client, "alice", "wrong password!").status_code == 401
    assert ui.login(client, "nobody").status_code == 401
    assert ui.login(client, "bob").status_code == 401
    assert client.get("/moderation").status_code == 302


def test_disabling_a_user_ends_their_session(ui, app, moderator):
    assert moderator.get("/moderation").status_code == 200
    with ui.db() as db:
        db.scalar(select(User).where(User.username == "mod")).disabled = True
        db.commit()
    assert moderator.get("/moderation").status_code == 302


def test_failed_logins_lock_the_username_for_that_ip(ui, app):
    ui.add_user("alice")
    client = app.test_client()
    for _ in range(5):
        assert ui.login(client, "alice", "not the password").status_code == 401
    locked = ui.login(client, "alice")  # even the right password is not tried now
    # Retry-After: until the 15-minute window that began with the first failure ends.
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 900
    # Another IP is not locked out by this one's failures.
    other = app.test_client()
    page = other.get("/login", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    ok = other.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert ok.status_code == 302
    with ui.db() as db:
        assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "login_failed")) == 5
        assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "login_locked")) == 1


def test_a_successful_login_resets_the_failure_count(ui, app):
    ui.add_user("alice")
    client = app.test_client()
    for _ in range(4):
        ui.login(client, "alice", "not the password")
    assert ui.login(client, "alice").status_code == 302
    client = app.test_client()
    for _ in range(4):
        assert ui.login(client, "alice", "not the password").status_code == 401
    assert ui.login(client, "alice").status_code == 302


def test_open_redirect_after_login_is_ignored(ui, app):
    ui.add_user("alice")
    client = app.test_client()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.headers["Location"] == "/moderation"


def test_passwords_are_argon2_and_rehashed_when_parameters_change(ui, app):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with ui.db() as db:
        db.add(User(username="old", password_hash=weak, role="moderator"))
        db.commit()
    assert passwords.needs_rehash(weak)
    assert ui.login(app.test_client(), "old").status_code == 302
    with ui.db() as db:
        stored = db.scalar(select(User.password_hash).where(User.username == "old"))
    assert stored.startswith("$argon2id$") and stored != weak and not passwords.needs_rehash(stored)


# -- roles on every view ---------------------------------------------------------------------------------
MODERATOR_VIEWS = [
    ("GET", "/moderation"),
    ("GET", "/moderation/checks/{check}"),
    ("GET", "/stats"),
    ("POST", "/moderation/checks/{check}/decide"),
    ("POST", "/moderation/bulk"),
    ("POST", "/moderation/undo"),
]
ADMIN_VIEWS = [
    ("GET", "/admin"),
    ("GET", "/admin/models"),
    ("GET", "/admin/sites"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/models/promote"),
    ("POST", "/admin/models/rollback"),
    ("POST", "/admin/models/retrain"),
    ("POST", "/admin/sites"),
    ("POST", "/admin/sites/{site}/revoke"),
]


def _call(ui, client, method, url):
    site = ui.site()
    check = ui.add_check(site)
    url = url.format(site=site, check=check)
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": ui.token(client), "label": "ham", "ids": [check]})


@pytest.mark.parametrize("method,url", MODERATOR_VIEWS + ADMIN_VIEWS)
def test_anonymous_is_sent_to_login(ui, app, method, url):
    response = _call(ui, app.test_client(), method, url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("method,url", ADMIN_VIEWS)
def test_moderator_gets_403_on_admin_views(ui, moderator, method, url):
    assert _call(ui, moderator, method, url).status_code == 403


@pytest.mark.parametrize(
    "method,url", [v for v in MODERATOR_VIEWS if v[0] == "GET"] + [v for v in ADMIN_VIEWS if v[0] == "GET"]
)
def test_admin_reaches_every_page(ui, admin, method, url):
    response = _call(ui, admin, method, url)
    if url == "/admin":  # the admin index is the models page
        assert response.status_code == 302 and response.headers["Location"] == "/admin/models"
    else:
        assert response.status_code == 200


# -- CSRF -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_post_without_a_valid_csrf_token_is_refused(ui, moderator, token):
    check = ui.add_check(ui.site())
    data = {"label": "ham"}
    if token is not None:
        data["csrf_token"] = token
    assert moderator.post(f"/moderation/checks/{check}/decide", data=data).status_code == 400
    assert moderator.post("/logout", data=data).status_code == 400
    # ...and nothing was decided.
    assert f"check-{check}" in moderator.get("/moderation").get_data(as_text=True)


def test_login_form_needs_a_csrf_token_too(ui, app):
    ui.add_user("alice")
    response = app.test_client().post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400


def test_csrf_does_not_touch_the_akismet_api(app, key):
    """The Akismet form endpoints are POSTs without a session: CSRF must not apply to them."""
    response = app.test_client().post("/1.1/verify-key", data={"key": key, "blog": "https://blog.example"})
    assert response.status_code == 200 and response.get_data(as_text=True) == "valid"
    response = app.test_client().post(
        "/1.1/comment-check",
        data={"api_key": key, "blog": "https://blog.example", "user_ip": "192.0.2.9", "comment_content": "hello"},
    )
    assert response.status_code == 200


def test_csrf_is_on_in_this_app(app):
    assert app.config["WTF_CSRF_ENABLED"] is True


# -- headers ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/login", "/moderation", "/stats", "/admin/audit", "/ui-static/ui.css"])
def test_security_headers_on_every_ui_response(admin, path):
    response = admin.get(path)
    assert response.status_code == (302 if path == "/login" else 200)
    csp = response.headers["Content-Security-Policy"]
    # Scripts only from our own static files (ui.js), never inline; fetch only to ourselves.
    assert csp == (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_headers_on_redirects_and_403(ui, moderator, app):
    for response in (app.test_client().get("/moderation"), moderator.get("/admin/models")):
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"


def test_templates_have_no_inline_script_or_style():
    from pathlib import Path

    import spamguard.moderation as moderation

    root = Path(moderation.__file__).parent / "templates"
    for template in root.rglob("*.html"):
        text = template.read_text()
        # The only script is our own static file (script-src 'self'): no inline script, no handlers.
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", text, flags=re.S)
        assert all(body == "" for body in scripts), template
        own = r"<script src=\"\{\{ url_for\('moderation\.static', filename='[a-z]+\.js'\) \}\}\" defer>"
        assert all(re.fullmatch(own, tag) for tag in re.findall(r"<script\b[^>]*>", text)), template
        assert not re.search(r"\son[a-z]+=", text), template
        assert "<style" not in text and " style=" not in text, template
        assert "|safe" not in text and "Markup" not in text and "autoescape false" not in text, template


HOSTILE_NEXT = [
    "/%09/evil.example",
    "/\t/evil.example",
    "\\\\evil.example",
    "/\\evil",
    "https:evil",
    "//evil",
    "https://evil.example/",
    " //evil.example",
    "/\r\nSet-Cookie: x=1",
    "/moderation\r\n",
    "/\n/evil",
    "/\x00/evil",
    "/\x7f/evil",
    "http://[oops",
    "javascript:alert(1)",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_never_leaves_the_site(ui, app, target):
    ui.add_user("alice")
    client = app.test_client()
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"


def test_a_local_next_is_followed(ui, app):
    ui.add_user("alice")
    client = app.test_client()
    page = client.get("/login?next=/stats%3Fsite%3D1")
    response = client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "next": "/stats?site=1",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.headers["Location"] == "/stats?site=1"


@pytest.mark.parametrize("back", ["//evil.example", "/moderation\r\nX: y", "/moderation/\t/evil", "https://evil"])
def test_hostile_back_after_a_decision_stays_on_the_queue(ui, moderator, back):
    check = ui.add_check(ui.site())
    response = moderator.post(
        f"/moderation/checks/{check}/decide", data={"label": "ham", "back": back, "csrf_token": ui.token(moderator)}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"

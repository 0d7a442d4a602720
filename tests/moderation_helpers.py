"""Helpers for the moderation UI tests: users, logins, seeded checks, CSRF tokens."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from spamguard.comment import Comment
from spamguard.moderation import passwords
from spamguard.storage.models import Check, Site, User

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class UI:
    """Helpers bound to one app."""

    def __init__(self, app):
        self.app = app

    def db(self):
        return self.app.extensions["spamguard.db"]()

    def add_user(self, username: str, role: str = "moderator", password: str = PASSWORD, disabled: bool = False) -> int:
        with self.db() as db:
            user = User(
                username=username, password_hash=passwords.hash_password(password), role=role, disabled=disabled
            )
            db.add(user)
            db.commit()
            return user.id

    def site(self, url: str = "https://blog.example") -> int:
        with self.db() as db:
            site = Site(url=url, key_hash=uuid.uuid4().hex + uuid.uuid4().hex, key_hint="abcd")
            db.add(site)
            db.commit()
            return site.id

    def add_check(
        self,
        site_id: int,
        *,
        verdict: str = "spam",
        score: float = 0.95,
        content: str = "buy pills",
        author: str = "spammer",
        email: str = "s@example.com",
        ip: str = "192.0.2.1",
        created_at: datetime | None = None,
        is_test: bool = False,
        reviewed: bool = False,
        **extra_fields,
    ) -> int:
        comment = Comment(
            comment_content=content,
            comment_author=author,
            comment_author_email=email,
            user_ip=ip,
            is_test=is_test,
            **extra_fields,
        )
        with self.db() as db:
            check = Check(
                guid=uuid.uuid4().hex,
                site_id=site_id,
                blog="https://blog.example",
                user_ip=ip,
                comment_author=author,
                comment_author_email=email,
                comment_content=content,
                content_hash=uuid.uuid4().hex,
                fields=comment.to_json(),
                is_test=is_test,
                score=score,
                verdict=verdict,
                reasons=["links: 3", "new author"],
                model_version="test-v1",
                created_at=created_at or datetime.now(UTC),
                reviewed_at=datetime.now(UTC) if reviewed else None,
                review_label="spam" if reviewed else None,
            )
            db.add(check)
            db.commit()
            return check.id

    def login(self, client, username: str, password: str = PASSWORD):
        page = client.get("/login")
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_from(page.get_data(as_text=True))},
        )

    def token(self, client, path: str = "/moderation") -> str:
        return csrf_from(client.get(path, follow_redirects=True).get_data(as_text=True))


# From the OWASP XSS filter-evasion cheat sheet (plus template injection). Each one that could run
# script sets window.__xss, which the browser test asserts is never set.
XSS_PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    "<img src=x onerror=window.__xss=1;alert(1)>",
    "<svg/onload=window.__xss=1;alert(1)>",
    '"><script>window.__xss=1</script>',
    "'><img src=x onerror=window.__xss=1>",
    "<iframe src=javascript:window.__xss=1;alert(1)></iframe>",
    '<a href="jav&#x09;ascript:alert(1)">click</a>',
    "<body onload=window.__xss=1>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1></style></mglyph></table></mtext></math>",
    "{{7*7}} {% raw %}${7*7}{% endraw %} <%= 7*7 %>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    '<div style="background:url(javascript:alert(1))">styled</div>',
    "<style>@import 'http://evil.example/x.css';</style>",
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">',
    '<base href="http://evil.example/">',
    '<form action="http://evil.example"><button>go</button></form>',
    "</textarea></pre></title><script>window.__xss=1</script>",
    '<object data="javascript:window.__xss=1"></object>',
    "<details open ontoggle=window.__xss=1>",
    "<svg><animate onbegin=window.__xss=1 attributeName=x dur=1s>",
]
XSS_URLS = [
    "javascript:window.__xss=1;alert(1)",
    "jav&#x09;ascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]
XSS_EMAIL = '"><script>window.__xss=1</script>@evil.example'
XSS_AGENT = "<svg/onload=window.__xss=1> Mozilla/5.0"


def xss_comment_fields(i: int, key: str) -> dict[str, str]:
    """Akismet form fields for comment i, every text field hostile."""
    payload = XSS_PAYLOADS[i % len(XSS_PAYLOADS)]
    return {
        "api_key": key,
        "blog": "https://blog.example",
        "user_ip": f"192.0.2.{i % 250 + 1}",
        "comment_content": payload,
        "comment_author": payload,
        "comment_author_url": XSS_URLS[i % len(XSS_URLS)],
        "comment_author_email": XSS_EMAIL,
        "user_agent": XSS_AGENT,
        "referrer": XSS_URLS[0],
        "permalink": XSS_URLS[1],
        "custom_extra": payload,
    }


def flag_everything(app, key: str) -> None:
    """Make the key's site flag every comment (site threshold override), so all reach the queue."""
    from sqlalchemy import select

    from spamguard.sites import hash_key
    from spamguard.storage.models import Site

    with app.extensions["spamguard.db"]() as db:
        site = db.scalar(select(Site).where(Site.key_hash == hash_key(key, app.config["SPAMGUARD_KEY_SECRET"])))
        site.thresholds = {"unsure": 0.0}
        db.commit()

"""Helpers for the delivery tests: one app and site, checking comments, moderators, the outbox."""

from __future__ import annotations

import re
import uuid

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Env:
    """One app, one site (every comment `unsure`), helpers to check comments and decide them."""

    def __init__(self, app):
        from spamguard import sites

        self.app = app
        with app.app_context():
            from spamguard import storage

            site, self.key = sites.create_site(
                storage.get_session(), "https://blog.example", secret=app.config["SPAMGUARD_KEY_SECRET"]
            )
            site.thresholds = {"unsure": 0.0, "spam": 1.0, "discard": 1.0}
            storage.get_session().commit()
            self.site_id = site.id
        self.api = app.test_client()

    def session(self):
        return self.app.extensions["spamguard.db"]()

    def settings(self):
        return self.app.extensions["spamguard.delivery"]

    def check(self, callback: str | None = None, text: str = "Thanks, the recipe worked well.", **extra):
        data = {
            "api_key": self.key,
            "blog": "https://blog.example",
            "user_ip": "198.51.100.7",
            "comment_author": "Reader",
            "comment_content": text,
            "comment_post_ID": "42",
            **extra,
        }
        if callback is not None:
            data["callback"] = callback
        return self.api.post("/1.1/comment-check", data=data)

    def check_id(self, guid: str) -> int:
        from sqlalchemy import select

        from spamguard.storage.models import Check

        with self.session() as db:
            return db.scalar(select(Check.id).where(Check.guid == guid))

    def moderator(self, role: str = "moderator"):
        from spamguard.moderation import passwords
        from spamguard.storage.models import User

        name = f"mod-{uuid.uuid4().hex[:6]}"
        with self.session() as db:
            db.add(User(username=name, password_hash=passwords.hash_password(PASSWORD), role=role))
            db.commit()
        client = self.app.test_client()
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        assert (
            client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token}).status_code == 302
        )
        return client

    def decide(self, client, check_id: int, label: str):
        token = CSRF.search(client.get(f"/moderation/checks/{check_id}").get_data(as_text=True)).group(1)
        return client.post(f"/moderation/checks/{check_id}/decide", data={"label": label, "csrf_token": token})

    def process(self, now=None):
        from spamguard.delivery.outbox import process_due

        with self.session() as db:
            return process_due(db, self.settings(), now=now)

    def deliveries(self):
        from sqlalchemy import select

        from spamguard.delivery.models import Delivery

        with self.session() as db:
            return db.scalars(select(Delivery).order_by(Delivery.id)).all()

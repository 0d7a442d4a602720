"""Account changes are domain operations: each with its audit row, refusals worded for the operator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from spamguard import storage
from spamguard.moderation import accounts, passwords
from spamguard.storage.models import AuditLog, User

PASSWORD = "a long enough password"


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    storage.upgrade(url)
    session = storage.make_sessionmaker(url, storage.Timeouts())()
    yield session
    session.close()


def test_create_disable_and_change_password_each_audited(db):
    user = accounts.create_user(db, " carol ", PASSWORD, "admin", via="cli")
    assert (user.username, user.role) == ("carol", "admin")
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_user(db, "carol", PASSWORD, "moderator", via="cli")
    with pytest.raises(accounts.AccountError, match="role"):
        accounts.create_user(db, "dave", PASSWORD, "root", via="cli")
    with pytest.raises(accounts.AccountError, match="at least"):
        accounts.create_user(db, "dave", "short", "moderator", via="cli")
    assert accounts.set_disabled(db, "carol", True, via="cli").disabled
    epoch = user.session_epoch
    accounts.set_password(db, "carol", "another long password", via="cli")
    db.expire_all()
    stored = db.scalar(select(User).where(User.username == "carol"))
    assert stored.session_epoch == epoch + 1
    assert passwords.verify_password(stored.password_hash, "another long password")
    with pytest.raises(accounts.AccountError, match="no user"):
        accounts.set_disabled(db, "nobody", True, via="cli")
    actions = [r.action for r in db.scalars(select(AuditLog).order_by(AuditLog.id)).all()]
    assert actions == ["user_create", "user_disable", "user_passwd"]

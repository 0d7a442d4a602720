"""Fixtures for the moderation UI: users, logged-in clients, seeded checks."""

from __future__ import annotations

import pytest
from moderation_helpers import UI


@pytest.fixture
def ui(app) -> UI:
    return UI(app)


@pytest.fixture
def moderator(ui, app):
    ui.add_user("mod", "moderator")
    client = app.test_client()
    assert ui.login(client, "mod").status_code == 302
    return client


@pytest.fixture
def admin(ui, app):
    ui.add_user("root", "admin")
    client = app.test_client()
    assert ui.login(client, "root").status_code == 302
    return client

"""Fixtures for the delivery tests: an app allowed to reach loopback, a site that finds everything
`unsure`, a logged-in moderator, and a real HTTP receiver."""

from __future__ import annotations

import pytest
from delivery_helpers import Env
from delivery_receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def delivery_app(make_app):
    return make_app(SPAMGUARD_DELIVERY_ALLOW_PRIVATE="127.0.0.1/32")


@pytest.fixture
def env(delivery_app) -> Env:
    return Env(delivery_app)

"""SpamGuard: a self-hosted comment-spam filter that speaks the Akismet API."""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m spamguard.config` does not import the whole app first.
    if name == "create_app":
        from spamguard.app import create_app

        return create_app
    raise AttributeError(name)

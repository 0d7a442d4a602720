"""SpamGuard: a self-hosted comment-spam filter that speaks the Akismet API."""
from spamguard.app import create_app

__all__ = ["create_app"]

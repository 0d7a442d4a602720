"""Secrets of the delivery feature, all derived from the server's SECRET_KEY.

* Per-site webhook secrets: HMAC(SECRET_KEY, site id + random salt).  Nothing
  secret is stored, so a database leak does not let anyone forge webhooks;
  rotating SECRET_KEY (or `keys configure --rotate-webhook-secret`) changes them.
* Signatures: `X-SpamGuard-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
  with `X-SpamGuard-Timestamp: <unix seconds>`; the receiver recomputes it and
  refuses old timestamps (replays).
* Akismet callback bodies carry the caller's API key, which SpamGuard only
  stores hashed: the key is kept sealed (AES-GCM) until the check is settled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_HEADER = "X-SpamGuard-Signature"
TIMESTAMP_HEADER = "X-SpamGuard-Timestamp"


def _derive(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def new_salt() -> str:
    return secrets.token_hex(16)


def webhook_secret(secret_key: str, site_id: int, salt: str) -> str:
    return hmac.new(
        _derive(secret_key, "spamguard-webhook-secret"), f"{site_id}:{salt}".encode(), hashlib.sha256
    ).hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(secret: str, timestamp: str, body: bytes, header: str, now: float, tolerance: float = 300) -> bool:
    """What a receiver does (used by the tests and documented in the README)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header or "")


def seal(secret_key: str, plaintext: str) -> str:
    nonce = secrets.token_bytes(12)
    box = AESGCM(_derive(secret_key, "spamguard-callback-key")).encrypt(nonce, plaintext.encode(), b"callback")
    return base64.urlsafe_b64encode(nonce + box).decode()


def unseal(secret_key: str, sealed: str) -> str | None:
    """The plaintext, or None when it cannot be opened (SECRET_KEY changed, row wiped or tampered)."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return AESGCM(_derive(secret_key, "spamguard-callback-key")).decrypt(raw[:12], raw[12:], b"callback").decode()
    except (ValueError, InvalidTag):
        return None

"""Sites and their API keys.

Keys use Akismet's format (12 lowercase hex characters; WordPress rejects any
other length) and are stored only as SHA-256 digests.  A plain digest rather
than a slow password hash is deliberate: every API call looks the key up, and
the lookup must be one indexed equality query.
"""
from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from spamguard.storage.models import Site, utcnow

KEY_PATTERN = re.compile(r"^[0-9a-f]{12}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.strip().lower().encode()).hexdigest()


def create_site(session: Session, url: str) -> tuple[Site, str]:
    """Create a site and return it with its new plaintext key (shown once)."""
    key = secrets.token_hex(6)
    site = Site(url=url.strip(), key_hash=hash_key(key), key_hint=key[:4])
    session.add(site)
    session.commit()
    return site, key


def find_site(session: Session, key: str | None) -> Site | None:
    """The active site owning `key` (case-insensitive), or None."""
    key = (key or "").strip().lower()
    if not KEY_PATTERN.match(key):
        return None
    site = session.scalar(select(Site).where(Site.key_hash == hash_key(key)))
    return None if site is None or site.is_revoked else site


def revoke_key(session: Session, key: str) -> bool:
    site = session.scalar(select(Site).where(Site.key_hash == hash_key(key)))
    if site is None or site.is_revoked:
        return False
    site.revoked_at = utcnow()
    session.commit()
    return True


def rotate_key(session: Session, key: str) -> tuple[Site, str] | None:
    """Give the active site owning `key` a new key (same id, settings and history); None if none."""
    site = find_site(session, key)
    if site is None:
        return None
    new_key = secrets.token_hex(6)
    site.key_hash, site.key_hint = hash_key(new_key), new_key[:4]
    session.commit()
    return site, new_key


def revoke_site(session: Session, site_id: int) -> bool:
    site = session.get(Site, site_id)
    if site is None or site.is_revoked:
        return False
    site.revoked_at = utcnow()
    session.commit()
    return True

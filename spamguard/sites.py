"""Sites and their API keys.

Keys use Akismet's format (12 lowercase hex characters = 48 bits; WordPress
rejects any other length), so a plain digest of a leaked row could be brute-forced.
They are stored as HMAC-SHA256 under a server-side secret (SPAMGUARD_KEY_SECRET,
kept outside the database), next to a random hint that says nothing about the key.
A keyed fast hash rather than a slow password hash is deliberate: every API call
looks the key up, and the lookup must be one indexed equality query.

Rows from before the HMAC (`key_scheme = 'sha256'`, plain SHA-256) still match:
the lookup asks for both digests in one `IN` on the unique index, and a legacy
row is re-hashed to HMAC the first time its key is used.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from spamguard.storage.models import Site, utcnow

KEY_PATTERN = re.compile(r"^[0-9a-f]{12}$")
HMAC, LEGACY_SHA256 = "hmac", "sha256"


def _normal(key: str) -> str:
    return key.strip().lower()


def hash_key(key: str, secret: str) -> str:
    """What is stored for `key`: HMAC-SHA256 under the server-side secret, hex."""
    return hmac.new(secret.encode(), _normal(key).encode(), hashlib.sha256).hexdigest()


def legacy_hash(key: str) -> str:
    """The unkeyed SHA-256 stored before the HMAC; only matched, never written."""
    return hashlib.sha256(_normal(key).encode()).hexdigest()


def new_hint() -> str:
    """A random label for `keys list` and the admin page, shown next to the key when it is created."""
    return secrets.token_hex(2)


def create_site(session: Session, url: str, *, secret: str) -> tuple[Site, str]:
    """Create a site and return it with its new plaintext key (shown once)."""
    key = secrets.token_hex(6)
    site = Site(url=url.strip(), key_hash=hash_key(key, secret), key_scheme=HMAC, key_hint=new_hint())
    session.add(site)
    session.commit()
    return site, key


def _lookup(session: Session, key: str, secret: str) -> Site | None:
    """The site whose stored digest is `key`'s, any scheme; a legacy row is upgraded (and committed)."""
    digest, legacy = hash_key(key, secret), legacy_hash(key)
    site = session.scalar(select(Site).where(Site.key_hash.in_((digest, legacy))))
    if site is None:
        return None
    if site.key_scheme == LEGACY_SHA256 and site.key_hash == legacy:
        site.key_hash, site.key_scheme = digest, HMAC
        session.commit()
    elif site.key_scheme != HMAC or site.key_hash != digest:
        return None  # a digest of the wrong scheme
    return site


def find_site(session: Session, key: str | None, *, secret: str) -> Site | None:
    """The active site owning `key` (case-insensitive), or None."""
    key = _normal(key or "")
    if not KEY_PATTERN.match(key):
        return None
    site = _lookup(session, key, secret)
    return None if site is None or site.is_revoked else site


def revoke_key(session: Session, key: str, *, secret: str) -> bool:
    site = _lookup(session, _normal(key), secret) if KEY_PATTERN.match(_normal(key)) else None
    if site is None or site.is_revoked:
        return False
    site.revoked_at = utcnow()
    session.commit()
    return True


def rotate_key(session: Session, key: str, *, secret: str) -> tuple[Site, str] | None:
    """Give the active site owning `key` a new key (same id, settings and history); None if none."""
    site = find_site(session, key, secret=secret)
    if site is None:
        return None
    new_key = secrets.token_hex(6)
    site.key_hash, site.key_scheme, site.key_hint = hash_key(new_key, secret), HMAC, new_hint()
    session.commit()
    return site, new_key


def revoke_site(session: Session, site_id: int) -> bool:
    site = session.get(Site, site_id)
    if site is None or site.is_revoked:
        return False
    site.revoked_at = utcnow()
    session.commit()
    return True


THRESHOLD_KEYS = ("unsure", "spam", "discard")


def configure_site(
    session: Session,
    site: Site,
    *,
    thresholds: dict[str, float | None] | None = None,
    reset_thresholds: bool = False,
    rate_limit: str | None = None,
    monthly_limit: int | None = None,
    share: bool | None = None,
) -> bool:
    """Override a site's thresholds and limits (None leaves a setting as it is) and commit.

    `rate_limit=''` and `monthly_limit=0` go back to the defaults; a rate limit that
    the `limits` library cannot parse raises ValueError before anything changes.
    Returns True when reputation sharing changed (the caller replays the site's reports).
    """
    if rate_limit:
        from limits import parse_many

        parse_many(rate_limit.strip())  # ValueError names what is wrong
    merged = {} if reset_thresholds else dict(site.thresholds or {})
    merged.update(
        {name: value for name, value in (thresholds or {}).items() if name in THRESHOLD_KEYS and value is not None}
    )
    site.thresholds = merged or None
    if rate_limit is not None:
        site.rate_limit = rate_limit.strip() or None
    if monthly_limit is not None:
        site.monthly_limit = monthly_limit or None
    changed_sharing = share is not None and share != site.share_reputation
    if share is not None:
        site.share_reputation = share
    session.commit()
    return changed_sharing

"""Per-site webhook configuration (used by `spamguard keys configure --webhook`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from spamguard.storage.models import Site

from . import signing, urls
from .models import SiteWebhook
from .settings import DeliverySettings


def set_webhook(session: Session, site: Site, url: str, settings: DeliverySettings, rotate: bool = False) -> str:
    """Validate (resolving the host now, and again before every delivery) and save; returns the secret.
    Raises urls.UnsafeURL."""
    url = urls.resolve(url, settings.allow_private).url
    hook = session.get(SiteWebhook, site.id)
    if hook is None:
        hook = SiteWebhook(site_id=site.id, url=url, salt=signing.new_salt())
        session.add(hook)
    else:
        hook.url = url
        if rotate:
            hook.salt = signing.new_salt()
    session.commit()
    return signing.webhook_secret(settings.secret_key, site.id, hook.salt)


def rotate_secret(session: Session, site: Site, settings: DeliverySettings) -> str | None:
    hook = session.get(SiteWebhook, site.id)
    if hook is None:
        return None
    hook.salt = signing.new_salt()
    session.commit()
    return signing.webhook_secret(settings.secret_key, site.id, hook.salt)


def remove_webhook(session: Session, site: Site) -> bool:
    hook = session.get(SiteWebhook, site.id)
    if hook is None:
        return False
    session.delete(hook)
    session.commit()
    return True

"""Site listings (the sites/keys admin page, `spamguard keys list`, names on the stats page)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from spamguard.storage.models import Site


def all_sites(db: Session) -> list[Site]:
    return list(db.scalars(select(Site).order_by(Site.id)).all())


def sites_by_id(db: Session, ids: list[int]) -> dict[int, Site]:
    return {s.id: s for s in db.scalars(select(Site).where(Site.id.in_(ids))).all()} if ids else {}

"""Key → site without a database read on the hot path.

Every API call names its key; looking the site up costs a query per call.  This
per-process cache holds a detached snapshot of each active site, keyed by the
key's HMAC digest, for at most `ttl` seconds (2 s): a key revoked, rotated or
reconfigured by another process (CLI, another worker) stops working within that
time.  A change made through the ORM in *this* process (admin revoke, rotate)
clears every cache at once via a mapper event.  Unknown keys are not cached, so
a key created elsewhere works at once.

Hits hand out the shared detached snapshot itself, read-only: the API views only
read a site's columns (changes go through `spamguard.sites` on a row their own
session loaded), and attaching a per-request copy (`session.merge`) cost more
CPU than the rest of the look-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from spamguard import sites
from spamguard.storage.models import Site

TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000  # bounded: a flood of distinct valid keys cannot grow it without limit

_generation = 0  # bumped by any ORM change of a Site in this process


def _site_changed(*_args) -> None:
    global _generation
    _generation += 1


for _name in ("after_insert", "after_update", "after_delete"):
    event.listen(Site, _name, _site_changed)


def _snapshot(site: Site) -> Site:
    """A detached copy of `site`'s column values, safe to share between threads and sessions."""
    copy = Site(**{attr.key: getattr(site, attr.key) for attr in inspect(Site).column_attrs})
    make_transient_to_detached(copy)
    return copy


class SiteCache:
    def __init__(self, secret: str, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.secret = secret
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, tuple[float, int, Site]] = {}
        self._lock = threading.Lock()

    def find(self, session: Session, key: str | None) -> Site | None:
        """Same answer as `sites.find_site`, from memory when a fresh snapshot is held (never write to it)."""
        normal = (key or "").strip().lower()
        if not sites.KEY_PATTERN.match(normal):
            return None
        digest = sites.hash_key(normal, self.secret)
        now = self.clock()
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > now and entry[1] == _generation:
            return entry[2]
        generation = _generation
        site = sites.find_site(session, normal, secret=self.secret)
        with self._lock:
            if site is None:
                self._entries.pop(digest, None)
            else:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[digest] = (now + self.ttl, generation, _snapshot(site))
        return site

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

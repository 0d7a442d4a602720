"""Row lookups shared by the UI views."""

from __future__ import annotations

from typing import TypeVar

from flask import abort
from sqlalchemy.orm import Session

T = TypeVar("T")


def get_or_404(db: Session, model: type[T], ident: int) -> T:
    """The row of `model` with primary key `ident`, or a 404 answer."""
    row = db.get(model, ident)
    if row is None:
        abort(404)
    return row

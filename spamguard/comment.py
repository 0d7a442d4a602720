"""The comment value object shared by the APIs, scoring, storage and training.

One `Comment` is what a client told us about one piece of user content, already
normalised (strings stripped of NULs, dates parsed, `comment_context` shapes
merged).  Everything that is not a named Akismet field stays in `extra`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

# Akismet's named comment fields (spec §2.2), in the order clients document them.
TEXT_FIELDS = (
    "blog",
    "user_ip",
    "user_agent",
    "referrer",
    "permalink",
    "comment_type",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "comment_content",
    "blog_lang",
    "blog_charset",
    "user_role",
    "recheck_reason",
    "honeypot_field_name",
)
DATE_FIELDS = ("comment_date_gmt", "comment_post_modified_gmt")


@dataclass
class Comment:
    blog: str = ""
    user_ip: str = ""
    user_agent: str = ""
    referrer: str = ""
    permalink: str = ""
    comment_type: str = ""
    comment_author: str = ""
    comment_author_email: str = ""
    comment_author_url: str = ""
    comment_content: str = ""
    blog_lang: str = ""
    blog_charset: str = ""
    user_role: str = ""
    recheck_reason: str = ""
    honeypot_field_name: str = ""
    # Value of the field named by honeypot_field_name; None when not sent.
    honeypot_value: str | None = None
    comment_date_gmt: datetime | None = None
    comment_post_modified_gmt: datetime | None = None
    comment_context: list[str] = field(default_factory=list)
    is_test: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def honeypot_hit(self) -> bool:
        """A filled honeypot: the field named by ``honeypot_field_name``, or the WordPress plugin's own
        ``POST_ak_hp_textarea``, which it sends *without* ``honeypot_field_name``."""
        if self.honeypot_field_name and (self.honeypot_value or "").strip():
            return True
        return bool(str(self.extra.get("POST_ak_hp_textarea") or "").strip())

    @property
    def roles(self) -> list[str]:
        return [r.strip().lower() for r in self.user_role.split(",") if r.strip()]

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict of every field (dates as ISO 8601)."""
        # Field by field rather than dataclasses.asdict, whose recursive deep copy is most of a
        # check's serialisation cost; the list and dict are still copied (their items are strings).
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        for name in DATE_FIELDS:
            value = data[name]
            data[name] = value.isoformat() if value else None
        data["comment_context"] = list(self.comment_context)
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Comment:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in DATE_FIELDS:
            if isinstance(known.get(name), str):
                known[name] = parse_datetime(known[name])
        return cls(**known)


_FIELD_NAMES = tuple(f.name for f in fields(Comment))


def parse_datetime(value: str) -> datetime | None:
    """Parse Akismet dates: ISO 8601 or WordPress `YYYY-MM-DD HH:MM:SS`, as UTC.

    Returns None for anything unparseable: a bad date is missing metadata, not
    a reason to refuse the comment.
    """
    value = (value or "").strip()
    if not value:
        return None
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)

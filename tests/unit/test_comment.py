"""Comment.to_json: the stored `fields` of every check and label."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from spamguard.comment import DATE_FIELDS, Comment


def test_to_json_is_every_field_with_iso_dates_and_copies_of_the_containers():
    comment = Comment(
        blog="https://blog.example",
        comment_content="hi",
        honeypot_value="x",
        comment_date_gmt=datetime(2024, 5, 1, 12, tzinfo=UTC),
        comment_context=["a", "b"],
        is_test=True,
        extra={"POST_x": "1"},
    )
    expected = asdict(comment)
    for name in DATE_FIELDS:
        expected[name] = expected[name].isoformat() if expected[name] else None
    data = comment.to_json()
    assert data == expected and list(data) == list(expected)
    data["comment_context"].append("c")
    data["extra"]["y"] = "2"
    assert comment.comment_context == ["a", "b"] and comment.extra == {"POST_x": "1"}
    assert Comment.from_json(comment.to_json()) == comment

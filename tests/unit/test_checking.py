"""The check path's pure helpers: the content hash feedback is matched by, and the verdict's shape."""

from __future__ import annotations

import math
import re
import time

import pytest

from spamguard.checking import CheckResult, _sigmoid, content_hash, new_guid
from spamguard.comment import Comment


def comment(content: str = "Great post, thanks!", email: str = "reader@example.com", **fields) -> Comment:
    return Comment(comment_content=content, comment_author_email=email, **fields)


@pytest.mark.parametrize(
    "content, email",
    [
        ("  great   POST,\n\tthanks! ", "reader@example.com"),  # whitespace runs and case
        ("Great post, thanks!", "  Reader@Example.COM "),  # the email's case and padding
        ("Ｇｒｅａｔ post, thanks!", "reader@example.com"),  # full-width letters (NFKC)
    ],
)
def test_the_same_comment_as_a_client_resends_it_has_the_same_hash(content, email):
    assert content_hash(comment(content, email)) == content_hash(comment())


@pytest.mark.parametrize(
    "other",
    [
        comment("Great post, thanks?"),
        comment(email="other@example.com"),
        comment(email=""),
    ],
)
def test_different_content_or_author_has_a_different_hash(other):
    assert content_hash(other) != content_hash(comment())


def test_only_content_and_email_count():
    # Feedback often carries fewer fields than the check did (no user agent, another IP).
    assert content_hash(comment(user_ip="192.0.2.1", user_agent="curl", comment_author="Ann")) == content_hash(
        comment()
    )


def test_content_cannot_spill_into_the_email_part():
    assert content_hash(comment("a b", "c@example.com")) != content_hash(comment("a", "b c@example.com"))


def test_the_hash_is_a_sha256_hex_digest():
    digest = content_hash(comment())
    assert len(digest) == 64 and int(digest, 16) >= 0


@pytest.mark.parametrize("logit", [-1e6, -50.0, -3.0, 0.0, 2.5, 50.0, 1e6, float("inf"), float("-inf")])
def test_sigmoid_is_a_probability_and_never_overflows(logit):
    p = _sigmoid(logit)
    assert 0.0 <= p <= 1.0  # 1.0 in floating point from a logit of about 37 up
    clamped = max(-50.0, min(50.0, logit))
    assert p == pytest.approx(1.0 / (1.0 + math.exp(-clamped)))


@pytest.mark.parametrize("verdict, is_spam", [("ham", False), ("unsure", False), ("spam", True), ("discard", True)])
def test_spam_and_discard_are_spam_for_the_akismet_answer(verdict, is_spam):
    result = CheckResult(guid="g", probability=0.5, verdict=verdict, reasons=[], model_version="v")
    assert result.is_spam is is_spam and result.alerts == {}


def test_guids_are_akismet_shaped_time_ordered_and_unguessable():
    before = time.time_ns() // 1_000_000
    guids = [new_guid() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", g) for g in guids)
    stamps = [int(g[:12], 16) for g in guids]
    assert before <= min(stamps) and max(stamps) <= after
    # Issued later, sorted later (the unique index grows at its end); ties only within a millisecond.
    assert all(a[:12] <= b[:12] for a, b in zip(guids, guids[1:], strict=False))
    assert len({g[12:] for g in guids}) == len(guids)  # 80 random bits each

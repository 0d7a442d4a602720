"""The serving vocabulary (sorted hashes over one term buffer) answers exactly like a dict would."""

from __future__ import annotations

import numpy as np

from spamguard.scoring import model
from spamguard.scoring.model import _Vocabulary, pack_terms, unpack_text

TERMS = ["", " a", "ab", "ß", "日本", "ab ", " ab", "x" * 300, "😀", "a"]
PROBES = [*TERMS, "b", "ba", "日", "😀😀", "x" * 299, "A", "a "]


def expected(probe: str) -> int:
    return TERMS.index(probe) if probe in TERMS else -1


def test_terms_round_trip_through_the_buffer():
    buffer, offsets = pack_terms(TERMS)
    assert buffer.dtype == np.uint8 and offsets.dtype == np.int64
    text = unpack_text(buffer, offsets)
    assert [text[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)] == TERMS
    vocab = _Vocabulary(buffer, offsets)
    assert len(vocab) == len(TERMS) and [vocab.term(i) for i in range(len(TERMS))] == TERMS
    assert dict(vocab.items()) == {t: i for i, t in enumerate(TERMS)}


def test_lookup_is_exact():
    vocab = _Vocabulary(*pack_terms(TERMS))
    assert vocab.columns(PROBES) == [expected(p) for p in PROBES]
    assert vocab.columns([]) == []
    assert _Vocabulary(*pack_terms([])).columns(["a"]) == [-1]


def test_lookup_is_exact_when_hashes_collide(monkeypatch):
    """Every hash hit is checked against the term itself, and equal hashes are all probed."""
    monkeypatch.setattr(model, "hash", lambda s: len(s) % 3, raising=False)
    vocab = _Vocabulary(*pack_terms(TERMS))
    assert vocab.columns(PROBES) == [expected(p) for p in PROBES]


def test_corrupt_offsets_are_refused():
    buffer, offsets = pack_terms(["ab", "c"])
    for bad in (offsets + 1, offsets[::-1].copy(), np.array([0, 5], dtype=np.int64)):
        try:
            _Vocabulary(buffer, bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted offsets {bad}")

"""The reputation summary of one signal string: its shortcut for an empty string is what the full path gives."""

from __future__ import annotations

from spamguard.reputation.store import _summarise, _View

NOW = 1_800_000_000.0


def test_an_empty_string_summarises_like_one_whose_entries_all_count_for_nothing():
    for view in (_View(1, True, 3), _View(1, False, 3)):
        empty = _summarise("198.51.100.7", {}, NOW, view)
        # Only entries this summary ignores: burst slots and an unknown class.
        ignored = _summarise("198.51.100.7", {"u:1:5": "3", "zz:1": "4"}, NOW, view)
        assert empty == ignored and list(empty) == list(ignored)
        assert all(type(empty[k]) is type(ignored[k]) for k in empty)


def test_a_string_with_entries_is_summarised_in_full():
    hour = int(NOW // 3600)
    stats = _summarise("v", {f"c:{hour}": "3", "b:abc": repr(NOW - 60), "s:1": repr(NOW - 60)}, NOW, _View(1, True, 3))
    assert stats["value"] == "v" and stats["spam_n_24h"] == 1 and stats["ham_n_7d"] == 0
    assert 2.9 < stats["seen_24h"] <= 3 and 0.99 < stats["sites_seen_24h"] <= 1

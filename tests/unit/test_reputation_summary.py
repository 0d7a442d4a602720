"""The reputation summary: what the one-pass `_summarise` gives is what the per-window original gave.

`summarise` below the line is the implementation before the one-pass rewrite, copied verbatim (made
functions of the store); the rewrite must give the same `Reputation` on any string Redis could hold and
many it could not: same keys in the same order, same types, bit-identical floats (NaN included), and the
same exception when the original raised one.
"""

from __future__ import annotations

import math
import random
import string
from dataclasses import dataclass
from typing import Any

import pytest

from spamguard.backends import RedisState
from spamguard.comment import Comment
from spamguard.reputation.store import (
    DAY,
    HOUR,
    MAX_ENTRIES,
    MEMO_MAX_LEN,
    WINDOWS,
    Reputation,
    ReputationStore,
    _entries,
    _memo,
    _summarise,
    domain_of,
    signals,
)

NOW = 1_800_000_000.0


# --- the original, verbatim but for `self` ---------------------------------------------------------


@dataclass(frozen=True)
class _View:
    site_id: int
    shared: bool
    min_sites: int


def old_summarise(self, comment: Comment, site_id: int, shared: bool, blobs: list[Any], now: float) -> Reputation:
    rep = Reputation(known=True)
    per_kind: dict[str, list[dict]] = {}
    view = _View(site_id, shared, self.min_sites)
    for (kind, value), blob in zip(signals(comment), blobs, strict=True):
        entries = old_entries(blob)
        per_kind.setdefault(kind, []).append(old_summarise_one(value, entries, now, view))
        if kind == "ip":
            count = old_burst(self, entries, site_id, now) + 1  # this comment included
            rep.detail["burst"] = {"count": count, "limit": self.burst_amount, "window": self.burst_label}
    for kind, stats_list in per_kind.items():
        rep.detail[kind] = max(stats_list, key=lambda s: (s["spam_sites_7d"] - s["ham_sites_7d"], s["seen_24h"]))
    return rep


def old_burst(self, entries: dict[str, str], site_id: int, now: float) -> int:
    mine, n = f"u:{site_id}:", 0
    for name, raw in entries.items():
        if name.startswith(mine):
            try:
                slot, count = int(name[len(mine) :]), int(raw)
            except ValueError:
                continue
            if (slot + 1) * self.burst_slot > now - self.burst_window and slot * self.burst_slot <= now:
                n += count
    return n


def old_entries(blob: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (blob or "").split(" ", MAX_ENTRIES)[:MAX_ENTRIES]:
        name, sep, value = part.partition("=")
        if sep:
            out[name] = value
    return out


_OLD_STAT_KEYS = {
    win: tuple(f"{name}_{win}" for name in ("seen", "sites_seen", "spam_sites", "ham_sites", "spam_n", "ham_n"))
    for win in WINDOWS
}
_OLD_NOTHING_SEEN = {key: 0 for keys in _OLD_STAT_KEYS.values() for key in keys}


def old_summarise_one(value: str, entries: dict[str, str], now: float, view: _View) -> dict:
    if not entries:
        return {"value": value, **_OLD_NOTHING_SEEN}
    stats: dict = {"value": value}
    own = str(view.site_id)
    latest: dict[str, dict[str, float]] = {"s": {}, "h": {}, "b": {}}
    hourly: dict[int, int] = {}
    for fname, raw in entries.items():
        if fname.startswith("u:"):
            continue
        prefix, _, ident = fname.partition(":")
        if prefix in ("ps", "ph"):
            if ident != own:
                continue
            prefix = prefix[1]
        elif not view.shared and (ident != own or prefix not in ("s", "h")):
            continue
        try:
            if prefix in latest:
                latest[prefix][ident] = float(raw)
            elif prefix == "c":
                hourly[int(ident)] = int(raw)
        except ValueError:
            continue
    for win, (window, half_life) in WINDOWS.items():
        seen, sites_seen, spam_sites, ham_sites, spam_n, ham_n = _OLD_STAT_KEYS[win]
        spam = old_trusted(latest["s"], own, now, window, view.min_sites)
        ham = old_trusted(latest["h"], own, now, window, view.min_sites)
        stats[seen] = sum([n * old_weight(now - (hr * HOUR + HOUR / 2), window, half_life) for hr, n in hourly.items()])
        stats[sites_seen] = sum([old_weight(now - ts, window, half_life) for ts in latest["b"].values()])
        stats[spam_sites] = sum([old_weight(now - ts, window, half_life) for ts in spam.values()])
        stats[ham_sites] = sum([old_weight(now - ts, window, half_life) for ts in ham.values()])
        stats[spam_n] = sum(1 for ts in spam.values() if 0 <= now - ts <= window)
        stats[ham_n] = sum(1 for ts in ham.values() if 0 <= now - ts <= window)
    return stats


def old_trusted(src: dict[str, float], own: str, now: float, window: float, min_sites: int) -> dict[str, float]:
    if not src:
        return src
    others = {s: ts for s, ts in src.items() if s != own and 0 <= now - ts <= window}
    kept = {s: ts for s, ts in src.items() if s == own}
    if len(others) >= min_sites:
        kept.update(others)
    return kept


def old_weight(age: float, window: float, half_life: float) -> float:
    if age > window:
        return 0.0
    return 0.5 ** (max(age, 0.0) / half_life)


# --- random and adversarial strings ------------------------------------------------------------------


def _time(rng: random.Random, now: float) -> str:
    roll = rng.random()
    if roll < 0.75:  # a plausible report or visit time: future, this day, this week, expired
        age = rng.choice([rng.uniform(-3 * HOUR, 0), rng.uniform(0, DAY), rng.uniform(0, 9 * DAY), 7 * DAY, DAY, 0.0])
        return repr(now - age)
    return rng.choice(
        ["nan", "inf", "-inf", "-0.0", "0", "1e3", "1_000.5", " 5", "", "x", "1.5.2", str(int(now)), "9" * 40, "٣"]
    )


def _huge(rng: random.Random) -> bool:
    """Now and then a number too big for a float (the original raises OverflowError on it)."""
    return rng.random() < 0.001


def _count(rng: random.Random) -> str:
    if _huge(rng):
        return "9" * 400
    return rng.choice(["1", "2", "7", "0", "-3", "+4", "1_0", "x", "", "1.5", "٣", "9" * 30, "9" * 5000])


def _ident(rng: random.Random, own: int) -> str:
    return rng.choice([str(own), str(own), "1", "2", "3", "4", "5", "6", f"0{own}", "", "x", "-1"])


def _entry(rng: random.Random, now: float, own: int, slot: float) -> str:
    hour = int(now // HOUR)
    kind = rng.random()
    if kind < 0.3:
        hr = rng.choice([hour, hour - rng.randint(0, 30), hour - rng.randint(0, 200), hour + 1])
        name = "c:" + (
            "9" * 400 if _huge(rng) else rng.choice([str(hr), str(hr), f"0{hr}", f"+{hr}", "x", "", str(10**30)])
        )
        return f"{name}={_count(rng)}"
    if kind < 0.45:
        return f"b:{''.join(rng.choices('0123456789abcdef', k=rng.choice([20, 3])))}={_time(rng, now)}"
    if kind < 0.7:
        mark = rng.choice(["s", "h", "s", "h", "ps", "ph"])
        return f"{mark}:{_ident(rng, own)}={_time(rng, now)}"
    if kind < 0.9:
        current = int(now // slot)
        s = rng.choice([current, current - rng.randint(0, 12), current + 1, current - 100])
        site = rng.choice([str(own), str(own), "2", f"0{own}"])
        tail = "9" * 350 if _huge(rng) else rng.choice([str(s), str(s), "x", "", f"{s}:1", f"0{s}"])
        return f"u:{site}:{tail}={_count(rng)}"
    junk = ["", "=", "c", "u", "u:", "zz:1=4", "c:1", "p:1=2", ":=", "s=1", "b:x=1=2", "h:1:2=3", "c:5=1=2"]
    return rng.choice(junk)


def _blob(rng: random.Random, now: float, own: int, slot: float) -> str | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.15:
        return rng.choice(["", " ", "  ", "garbage", "=" * 3])
    n = rng.choice([1, 2, 3, 5, 10, 40, 200])
    parts = [_entry(rng, now, own, slot) for _ in range(n)]
    if rng.random() < 0.2 and parts:  # duplicate names: the last value, at the first place
        parts += rng.sample(parts, k=min(len(parts), 3))
    if rng.random() < 0.05:  # more than a string may hold
        parts += [f"c:{int(now // HOUR) - i}=1" for i in range(MAX_ENTRIES)]
    return rng.choice([" ", " ", "  "]).join(parts)


def _comment(rng: random.Random) -> Comment:
    links = " ".join(
        f"http://{d}.example/x" for d in rng.sample(["a", "b", "c", "d", "e", "f", "g"], rng.randint(0, 7))
    )
    return Comment(
        blog="https://blog.example",
        user_ip=rng.choice(["198.51.100.7", "", "2001:db8::1"]),
        comment_author_email=rng.choice(["a@mail.example", "", "noat"]),
        comment_author_url=rng.choice(["https://author.example", "", "not a url"]),
        comment_content=f"see {links}",
    )


def _outcome(fn, *args):
    try:
        return ("ok", repr(fn(*args).detail))  # repr: order, types and NaN-safe float identity
    except Exception as exc:  # the original raising (a huge number in a string) must raise alike
        return ("raised", type(exc).__name__, str(exc))


@pytest.mark.parametrize("limit", ["5/minute", "10/second", "100/hour", "7 per 30 seconds"])
def test_the_one_pass_summary_is_the_per_window_one(limit):
    rng = random.Random(f"summary-{limit}")
    store = ReputationStore(RedisState("memory://summary-equivalence", "t:"), commenter_ip_limit=limit)
    raised = compared = 0
    for _ in range(1500):
        store.min_sites = rng.choice([1, 2, 3, 4])
        own = rng.randint(1, 6)
        shared = rng.random() < 0.7
        now = rng.choice([NOW, NOW + rng.uniform(0, 3 * DAY), float(int(NOW // HOUR) * HOUR), NOW + 0.5])
        comment = _comment(rng)
        blobs = [_blob(rng, now, own, store.burst_slot) for _ in signals(comment)]
        old = _outcome(old_summarise, store, comment, own, shared, blobs, now)
        assert _outcome(store.summarise, comment, own, shared, blobs, now) == old, (blobs, own, shared, now)
        raised += old[0] == "raised"
        compared += 1
    assert compared == 1500 and 0 < raised < 150  # the adversarial cases were reached, not only them


def test_realistic_strings_give_finite_numbers_in_both_summaries():
    rng = random.Random(7)
    store = ReputationStore(RedisState("memory://summary-equivalence", "t:"))
    hour = int(NOW // HOUR)
    for _ in range(300):
        entries = [f"c:{hour - rng.randint(0, 170)}={rng.randint(1, 9)}" for _ in range(rng.randint(0, 170))]
        entries += [
            f"b:{''.join(rng.choices(string.hexdigits, k=20))}={NOW - rng.uniform(0, 8 * DAY)!r}" for _ in range(5)
        ]
        entries += [f"{rng.choice('sh')}:{rng.randint(1, 9)}={NOW - rng.uniform(0, 8 * DAY)!r}" for _ in range(6)]
        entries += [f"u:1:{int(NOW // store.burst_slot) - rng.randint(0, 12)}=1" for _ in range(4)]
        comment = Comment(user_ip="198.51.100.7", comment_author_url="https://author.example")
        blobs = [" ".join(rng.sample(entries, len(entries)))] * 2
        new = store.summarise(comment, 1, True, blobs, NOW)
        assert repr(new.detail) == repr(old_summarise(store, comment, 1, True, blobs, NOW).detail)
        assert all(math.isfinite(v) for v in new.detail["ip"].values() if not isinstance(v, str))


def test_an_empty_string_summarises_like_one_whose_entries_all_count_for_nothing():
    for shared in (True, False):
        empty = _summarise("198.51.100.7", {}, NOW, "1", shared, 3)
        # Only entries this summary ignores: burst slots and an unknown class.
        ignored = _summarise("198.51.100.7", {"u:1:5": "3", "zz:1": "4"}, NOW, "1", shared, 3)
        assert empty == ignored and list(empty[0]) == list(ignored[0])
        assert all(type(empty[0][k]) is type(ignored[0][k]) for k in empty[0])


def test_a_string_with_entries_is_summarised_in_full():
    hour = int(NOW // 3600)
    entries = _entries(f"c:{hour}=3 b:abc={NOW - 60!r} s:1={NOW - 60!r} u:1:{int(NOW // 6)}=2")
    stats, burst = _summarise("v", entries, NOW, "1", True, 3, ("u:1:", 6.0, 60.0))
    assert stats["value"] == "v" and stats["spam_n_24h"] == 1 and stats["ham_n_7d"] == 0 and burst == 2
    assert 2.9 < stats["seen_24h"] <= 3 and 0.99 < stats["sites_seen_24h"] <= 1


def test_values_are_remembered_only_up_to_the_length_limit():
    calls: list[str] = []

    @_memo
    def upper(value: str) -> str:
        calls.append(value)
        return value.upper()

    short, long = "a" * MEMO_MAX_LEN, "b" * (MEMO_MAX_LEN + 1)
    assert [upper(short), upper(short), upper(long), upper(long)] == [short.upper()] * 2 + [long.upper()] * 2
    assert calls == [short, long, long]  # a long value (any client can send one) is never held
    assert domain_of(None) == domain_of("") == ""  # type: ignore[arg-type]
    assert domain_of("https://www.Blog.example/x") == "blog.example" == domain_of("https://www.Blog.example/x")

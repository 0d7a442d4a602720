"""Count the work a call does, the same on an idle and on a loaded machine (no clocks).

`lines_run` counts the Python lines executed inside the call (sys.settrace), in every function it
reaches.  A linear consumer runs ~4x the lines on a 4x longer input; a quadratic one ~16x, so
`assert_linear` compares the counts at n and 4n.  A consumer may also switch a phase on past some size
(a URL pattern that swallows a short input whole but stops at its length cap on a longer one): its count
then steps up between n and 4n while staying linear, so a count within PER_CHAR_LIMIT lines per unit of
size passes too; a quadratic scan of 4n >= 1,024 units exceeds that.  Work done inside one C call (a regex
scan, a C codec, NFKC) is one line here and not counted: what those cost per pattern family and
input size, in CPU seconds, is printed by bench/regex_worst_case.py, not asserted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

GROWTH_LIMIT = 5.0  # linear is 4 at 4x the input; quadratic 16
SLACK = 200  # lines every call runs whatever the input (setup, caps, returns)
# Lines per unit of input that count as linear whatever the growth: linear consumers measured ≤ 9 per
# character with the text in all eight comment fields (meta_dict on "www.a a@" repeated); a scan of every
# pair of characters runs ≥ 1 line per pair, i.e. ≥ 4n lines per unit, ≥ 1,024 at the tests' smallest 4n.
PER_CHAR_LIMIT = 32


def lines_run(fn: Callable[..., Any], *args: Any) -> int:
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    previous = sys.gettrace()
    sys.settrace(lambda frame, event, arg: local)
    try:
        fn(*args)
    finally:
        sys.settrace(previous)
    return count


def assert_linear(fn: Callable[[Any], Any], make: Callable[[int], Any], n: int, what: str = "") -> tuple[int, int]:
    """`fn(make(4n))` runs at most GROWTH_LIMIT times the lines of `fn(make(n))`, or at most PER_CHAR_LIMIT
    lines per unit of its size 4n (plus a constant either way)."""
    small, large = lines_run(fn, make(n)), lines_run(fn, make(4 * n))
    assert large <= max(GROWTH_LIMIT * small, PER_CHAR_LIMIT * 4 * n) + SLACK, (
        f"{what}: {small} lines at {n}, {large} at {4 * n}: not linear"
    )
    return small, large

"""Worst-case CPU time of every regex and text extractor on adversarial input, per pattern family.

    python bench/regex_worst_case.py                   # current code, sizes 1K 4K 16K 64K
    python bench/regex_worst_case.py --old --sizes 1024 2048 4096 8192 65536 --measure-up-to 8192
                                                       # the patterns as they were before issue 8 (regexes only)
    python bench/regex_worst_case.py --sizes 1024 4096 --cap 1

For each family (one compiled regex, or one function that reads comment
text) and each size, every generator below builds a hostile string of that
many characters; the table shows the slowest generator and its CPU seconds
(time.process_time).  A (family, generator) pair that takes longer than
--cap seconds is not run at larger sizes: its time there is extrapolated
from the growth between its last two sizes and printed with "~".

Results and history: docs/measurements.md, "Worst-case input time".
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_training import data
from spamguard import sites
from spamguard.api import form, usage_stats
from spamguard.checking import content_hash
from spamguard.comment import Comment, parse_datetime
from spamguard.reputation import store as reputation
from spamguard.scoring import behaviour, features

# The patterns of features.py / data.py as they were on main before issue 8 (for --old).
IGNORECASE = re.IGNORECASE
OLD_PATTERNS: dict[str, re.Pattern[str]] = {
    "features._BR_RE": re.compile(r"<\s*br\s*/?\s*>", IGNORECASE),
    "features._URL_RE": re.compile(
        r"(?:(?:https?|ftp)://|www\.)[^\s<>\"']+"
        r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|info|biz|ru|cn|ly|gl|co|io|me|tk|uk|us|tv|xyz|top|online|site)"
        r"(?:/[^\s<>\"']*)?\b",
        IGNORECASE,
    ),
    "features._EMAIL_RE": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "features._WORD_RE": re.compile(r"[\w@$]*[a-z][\w@$]*"),
    "features._HREF_RE": re.compile(r"""<a\s[^>]*?href\s*=\s*["']?([^"'\s>]+)[^>]*>""", IGNORECASE),
    "features._TAG_RE": re.compile(r"</?[a-z][a-z0-9]*(?:\s[^<>]*)?/?>", IGNORECASE),
    "data._YT_HEAD_RE": re.compile(
        r"^(?P<id>[^,]*),(?P<author>.*?),(?P<date>[0-9T:.\-]*),(?P<content>.*),(?P<label>[01])$"
    ),
}

# Every compiled regex in spamguard/ and model_training/ that sees request or comment text.
REGEXES = (
    (features, "_BR_RE"),
    (features, "_ZERO_WIDTH_RE"),
    (features, "_C1_RE"),
    (features, "_URL_RE"),
    (features, "_EMAIL_RE"),
    (features, "_REFERRAL_RE"),
    (features, "_WORD_RE"),
    (features, "_LONG_NUMBER_RE"),
    (features, "_HREF_RE"),
    (features, "_TAG_RE"),
    (features, "_BOT_UA_RE"),
    (features, "_REPEAT_RE"),
    (behaviour, "_SIGN_AMOUNT_RE"),
    (behaviour, "_WORD_AMOUNT_RE"),
    (behaviour, "_CONTACT_TAIL_RE"),
    (behaviour, "_PROMO_TAIL_RE"),
    (behaviour, "_SHORT_CODE_RE"),
    (behaviour, "_PHONE_TAIL_RE"),
    (behaviour, "_FOLLOW_TAIL_RE"),
    (behaviour, "_HANDLE_RE"),
    (data, "_YT_HEAD_RE"),
    (data, "_SHAPE_DROP_RE"),
    (reputation, "_HOST_RE"),
    (form, "CONTEXT_NAME"),
    (sites, "KEY_PATTERN"),
    (usage_stats, "MONTH"),
)

# Used with .match() only (anchored at the start), and timed that way.
MATCHED_AT_START = {
    "data._YT_HEAD_RE",
    "reputation._HOST_RE",
    "form.CONTEXT_NAME",
    "sites.KEY_PATTERN",
    "usage_stats.MONTH",
}


def regex_families(old: bool) -> dict[str, Callable[[str], object]]:
    out = {}
    for module, attr in REGEXES:
        name = f"{module.__name__.rsplit('.', 1)[-1]}.{attr}"
        pattern = OLD_PATTERNS.get(name) if old else getattr(module, attr, None)
        if pattern is None:
            pattern = getattr(module, attr, None) or OLD_PATTERNS.get(name)
        if pattern is not None:
            if name in MATCHED_AT_START:
                out[name] = lambda text, p=pattern: p.match(text)
            else:
                out[name] = lambda text, p=pattern: sum(1 for _ in p.finditer(text))
    return out


def function_families() -> dict[str, Callable[[str], object]]:
    """Everything that reads comment text, called the way the service and the trainer call it."""
    every_field = lambda s: Comment(  # noqa: E731
        comment_content=s,
        comment_author=s,
        comment_author_email=s,
        comment_author_url=s,
        user_agent=s,
        permalink=s,
        blog=s,
        referrer=s,
    )
    return {
        "normalise_text": features.normalise_text,
        "prepare_text": features.prepare_text,
        "comment_text": lambda s: features.comment_text(Comment(comment_content=s, permalink="http://a.com/x")),
        "meta_dict": lambda s: features.meta_dict(every_field(s)),
        "reputation.signals": lambda s: reputation.signals(every_field(s)),
        "content_hash": lambda s: content_hash(every_field(s)),
        "parse_datetime": parse_datetime,
        "data.text_key+shape_key": data.shape_key,
        "data._parse_youtube_line": lambda s: _safe(data._parse_youtube_line, "1," + s),
        "form.decode utf-8": lambda s: form._decode([s.encode("utf-8", "surrogatepass")], "utf-8", len(s)),
    }


def _safe(fn: Callable[[str], object], text: str) -> object:
    try:
        return fn(text)
    except ValueError:
        return None


def _repeat(fragment: str) -> Callable[[int], str]:
    return lambda n: (fragment * (n // len(fragment) + 1))[:n]


def _prefixed(prefix: str, fragment: str) -> Callable[[int], str]:
    return lambda n: prefix + _repeat(fragment)(n - len(prefix))


GENERATORS: dict[str, Callable[[int], str]] = {
    **{
        repr(f): _repeat(f)
        for f in (
            "a.",
            "a@",
            "a-",
            "@@",
            "1a$",
            "1",
            "é",
            "a.a@",
            ".-",
            "a,",
            "1,",
            "0,a,",
            "x@a.-",
            "<a ",
            "<a href=",
            "<a href=x ",
            "<br",
            "<br ",
            "http://a.",
            "www.a ",
            "a.com/!",
            "&amp;",
            "&lt;a href=",
            "\u200b",
            "\x92",
            "ﬃ",
            " ",
            "aaa",
            "-a",
            "call ",
            "call 1 ",
            "check out my my ",
            "1 k ",
            "$ 1,",
            "txt A to ",
            "text A B to 1",
            "@wealth",
            "call a ",
            "call a 0 ",
            "dial 0 0 0 0 ",
            "follow me on ",
            "follow us @",
        )
    },
    "'<br'+' '*n": _prefixed("<br", " "),
    "'<a href='+'x'*n": _prefixed("<a href=", "x"),
    "'x@a'+'-'*n": _prefixed("x@a", "-"),
    "'a'+combining(230,220)*n": _prefixed("a", "\u0301\u0316"),
    "'a'+combining 230s then 220s": lambda n: "a" + "\u0301" * ((n - 1) // 2) + "\u0316" * (n - 1 - (n - 1) // 2),
    "'http://a'+combining*n": _prefixed("http://a", "\u0301\u0316"),
}


def cpu_seconds(fn: Callable[[str], object], text: str) -> float:
    start = time.process_time()
    fn(text)
    return time.process_time() - start


def run(families: dict[str, Callable[[str], object]], sizes: list[int], cap: float, measure_up_to: int) -> None:
    head = "".join(f"{_size_label(s):>12}" for s in sizes)
    print(f"{'family':30}{head}   worst generator at {_size_label(sizes[-1])}")
    for family, fn in families.items():
        worst: list[tuple[float, bool, str]] = [(0.0, False, "")] * len(sizes)
        for gen_name, gen in GENERATORS.items():
            measured: list[float] = []
            for i, size in enumerate(sizes):
                if measured and (measured[-1] > cap or size > measure_up_to):  # extrapolate
                    growth = (
                        max(
                            math.log(max(measured[-1], 1e-6) / max(measured[-2], 1e-6))
                            / math.log(sizes[i - 1] / sizes[i - 2]),
                            1.0,
                        )
                        if len(measured) > 1
                        else 2.0
                    )
                    value, guessed = measured[-1] * (size / sizes[i - 1]) ** growth, True
                    measured.append(value)
                else:
                    value, guessed = cpu_seconds(fn, gen(size)), False
                    measured.append(value)
                if value > worst[i][0]:
                    worst[i] = (value, guessed, gen_name)
        cells = "".join(f"{('~' if g else '') + f'{v:.3f}s':>12}" for v, g, _ in worst)
        print(f"{family:30}{cells}   {worst[-1][2]}", flush=True)


def _size_label(size: int) -> str:
    return f"{size // 1024}K" if size % 1024 == 0 else str(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", action="store_true", help="time the pre-issue-8 patterns (regex families only)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384, 65536])
    parser.add_argument("--cap", type=float, default=2.0, help="CPU seconds after which larger sizes are extrapolated")
    parser.add_argument(
        "--measure-up-to",
        type=int,
        default=1 << 30,
        help="extrapolate every size above this one (for the slow old code)",
    )
    parser.add_argument("--only", default="", help="run only families whose name contains this")
    parser.add_argument("--functions-only", action="store_true", help="skip the per-regex families")
    args = parser.parse_args()
    families = {} if args.functions_only else regex_families(args.old)
    if not args.old:
        families.update(function_families())
    families = {k: v for k, v in families.items() if args.only in k}
    print(f"CPU seconds per call, worst of {len(GENERATORS)} generators ({'old' if args.old else 'current'} code)")
    run(families, sorted(args.sizes), args.cap, args.measure_up_to)


if __name__ == "__main__":
    main()

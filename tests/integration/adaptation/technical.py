"""Comments of a technical blog (long, with links, code and error messages) and obvious spam, generated.

Reported and fresh comments are drawn from the same kind but never repeat: every comment
combines parts at random, with its own numbers, links and commenter.
"""

from __future__ import annotations

import random

INTROS = [
    "I ran into exactly the same problem after upgrading to version {v} last week.",
    "Thanks for the detailed write-up, one thing did not work for me on {os} though.",
    "Small correction to step {n}: the flag was renamed in release {v}.",
    "This fixed the build for us, but only after clearing the cache first.",
    "Has anyone tried this with the {os} toolchain? The linker complains for me.",
    "Great explanation of the scheduler internals, the diagrams help a lot.",
]
BODIES = [
    'Traceback (most recent call last):\n  File "app/{mod}.py", line {n}, in run\n    result = client.fetch(url)\n'
    "ConnectionResetError: [Errno 104] Connection reset by peer",
    "Running `pip install --upgrade {mod}=={v}` and then `python -m {mod} --check` solved it.",
    "The config needs `timeout = {n}` in the [server] section, otherwise the worker exits with code {n}.",
    "```\nfor (int i = 0; i < {n}; i++) {{\n    buffer[i] = read_byte(fd);\n}}\n```\nThis loop overflows when n is odd.",
    "My compiler says: error: invalid conversion from 'const char*' to 'char*' at {mod}.c:{n}.",
    "sudo systemctl restart {mod} && journalctl -u {mod} -n {n} shows the same KeyError: 'port' again.",
]
LINKS = [
    "https://github.com/{mod}/{mod}/issues/{n}",
    "https://docs.python.org/3/library/{mod}.html",
    "https://stackoverflow.com/questions/{big}/{mod}-fails",
    "https://gitlab.com/{mod}-dev/{mod}/-/merge_requests/{n}",
    "https://bugs.example.org/show_bug.cgi?id={big}",
]
CLOSERS = [
    "See {link} for the upstream discussion.",
    "The relevant issue is {link} if you want to follow it.",
    "Details in {link}; the patch there is small.",
    "I documented my setup here: {link}",
]
MODULES = ["asyncio", "requests", "numpy", "sqlite", "nginx", "cargo", "webpack", "kafka", "redis", "gcc"]
SYSTEMS = ["Debian", "Arch", "macOS", "Windows 11", "FreeBSD", "Alpine"]

SPAM = [
    "Buy cheap viagra online, best prices guaranteed!!! Click here http://cheap-pills-{n}.example",
    "Check out my channel and subscribe please!!! http://youtube.example/channel/{n} free iphone giveaway",
    "Make $5000 a week working from home, no experience needed. Visit http://easy-money-{n}.example now!!!",
    "Hot singles in your area are waiting for you, sign up free at http://dating-{n}.example",
    "WIN A FREE IPHONE NOW!!! CLICK http://prize-{n}.example TO CLAIM YOUR REWARD",
]


def technical(rng: random.Random) -> dict[str, str]:
    mod, n, v = rng.choice(MODULES), rng.randint(2, 999), f"{rng.randint(1, 9)}.{rng.randint(0, 20)}"
    fill = dict(mod=mod, n=n, v=v, os=rng.choice(SYSTEMS), big=rng.randint(10_000_000, 79_999_999))
    link = rng.choice(LINKS).format(**fill)
    text = " ".join(
        [
            rng.choice(INTROS).format(**fill),
            rng.choice(BODIES).format(**fill),
            rng.choice(BODIES).format(**fill),
            rng.choice(CLOSERS).format(link=link, **fill),
        ]
    )
    return _commenter(rng, text)


def spam(rng: random.Random) -> dict[str, str]:
    return _commenter(rng, rng.choice(SPAM).format(n=rng.randint(1, 10_000)))


def _commenter(rng: random.Random, text: str) -> dict[str, str]:
    who = f"user{rng.randint(1, 10**9)}"
    return dict(
        comment_content=text,
        comment_author=who,
        comment_author_email=f"{who}@mail{rng.randint(1, 10**6)}.example",
        user_ip=f"198.51.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        comment_type="comment",
        user_agent="Mozilla/5.0",
    )

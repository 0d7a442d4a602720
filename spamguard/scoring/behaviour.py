"""What a comment asks the reader to do with money, contact or the writer's channel: spam behaviour, not vocabulary.

Each training corpus writes its scams in its own currency, words and number formats (SMS spam
"£1000 ... call 09061221066", Instagram scam "invested $1 000 and got $15 000 ... contact @handle",
YouTube "subscribe to my channel"), so word n-grams learned on one corpus do not fire on another
(issue 11).  These columns describe the behaviour whatever the wording: each is one weight, learned
from every corpus's spam, and shown to a moderator under a plain name (model.META_NAMES).

Cost: the caller passes the comment's casefolded word list (``normalize.phrase_words``, which the
blocklist count needs anyway); each signal is first gated by set intersections and ``in`` scans,
so a comment that cannot match runs no pattern; the word sequences are looked up from each word
that can start one (at most three words each).  Every pattern is linear (issue 8): matches start
only at the beginning of a run (lookbehinds: a tail never starts inside a run of spaces), runs are
possessive, repetitions are bounded.
"""

from __future__ import annotations

import math
import re

# The metadata columns `behaviour_signals` can set, in the model's column order (features.NUMERIC_META).
COLUMNS = ("money_amounts", "investment_terms", "contact_request", "self_promotion", "earning_claim", "urgency")

# Every currency sign is written "$" (features.prepare_text does the same for the n-grams).
CURRENCY = str.maketrans(dict.fromkeys("£€¥₹₦", "$"))
# Two digits at least ("$10", "$1.50", "$1 000"): "$0" and "$1" are shell and regex variables in
# technical comments, and single-digit sums are not what scams promise.
_SIGN_AMOUNT_RE = re.compile(r"\$\s?+\d[,.\s]?+\d")
# A number then a currency word ("5 grand", "200 dollars", "0.5 btc"); the number starts only at
# the start of its run of digits and separators.
_CURRENCY_WORDS = frozenset(
    {"k", "grand", "dollar", "dollars", "usd", "usdt", "pound", "pounds", "gbp", "euro", "euros", "btc", "bitcoin"}
)
_WORD_AMOUNT_RE = re.compile(
    r"(?<![\d.,])\d[\d.,]*+\s?+(?:k|grand|dollars?|usd|usdt|pounds?|gbp|euros?|btc|bitcoins?)(?![^\W_])"
)
# Investment-fraud vocabulary (Instagram testimonials, Telegram "signals" groups), by stem: a comment
# counts each stem once ("invested ... investment" is one).
_INVEST_STEMS = {
    **dict.fromkeys(
        ("invest", "invested", "investing", "investment", "investments", "investor", "investors"), "invest"
    ),
    **dict.fromkeys(("profit", "profits"), "profit"),
    **dict.fromkeys(("payout", "payouts"), "payout"),
    **dict.fromkeys(("crypto", "cryptocurrency", "cryptocurrencies"), "crypto"),
    **dict.fromkeys(("bitcoin", "bitcoins", "btc"), "bitcoin"),
    **dict.fromkeys(("trading", "trader", "traders"), "trading"),
    **dict.fromkeys(("broker", "brokers"), "broker"),
    **dict.fromkeys(("dividend", "dividends"), "dividend"),
    "forex": "forex",
    "usdt": "usdt",
    "mining": "mining",
    "portfolio": "portfolio",
}
# Stems with an everyday technical sense ("data mining", "message broker", "my portfolio site") count
# only beside another stem ("bitcoin mining", "forex broker"): alone they say nothing about money.
_AMBIGUOUS_STEMS = frozenset({"mining", "broker", "portfolio"})
# A request to continue off-site: a contact verb followed, within two short words, by a handle, a
# phone number or a messaging app ("contact her on whatsapp", "dm @trade_with_deni", "call 09061221066").
_CONTACT_VERBS = frozenset(
    {"contact", "message", "dm", "inbox", "text", "txt", "call", "ring", "write", "reach", "chat"}
)
# ("signal" is left out: "call signal handlers" is ordinary programming talk)
_MESSENGERS = frozenset({"whatsapp", "telegram", "wickr", "kik", "snapchat"})
_DIGIT_RE = re.compile(r"\d")
# What must follow a contact verb (matched where the verb ends).
_CONTACT_TAIL_RE = re.compile(
    r"(?<!\s)(?![^\W_])(?:\s++[a-z]{1,5}+){0,2}?\s++(?:@[\w.]{3,30}+|\+?\d[\d -]{6,20}+|whatsapp|telegram|wickr|kik|snapchat)"
)
# Self-promotion: asking readers to visit, follow or subscribe to the writer's own channel or site.
_PROMO_VERBS = frozenset({"check", "visit", "subscribe", "sub", "follow", "watch", "listen", "like", "view"})
_PROMO_NOUNS = frozenset(
    "channel page blog site website video videos music song songs profile account bio instagram youtube "
    "soundcloud twitter facebook store shop remix remixes cover covers track tracks mixtape".split()
)
# What must follow a promotion verb: "(out) (to) my|our", up to two words, a channel-like noun that
# names the venue, not one piece of writing in it: "check out my blog post about X" cites the writer's
# own write-up on the topic, as "my post" and "I wrote about this here" do (a technical commenter's
# citation, which the blog owner moderates on its words), while "check out my blog" advertises the venue.
_PROMO_TAIL_RE = re.compile(
    r"(?<!\s)(?![^\W_])(?:\s++out)?(?:\s++to)?\s++(?:my|our)\s++(?:[a-z]{1,12}+\s++){0,2}?(?:"
    + "|".join(sorted(_PROMO_NOUNS, reverse=True))
    + r")(?![^\W_])(?!\s++(?:posts?|articles?|entry|entries|write-?ups?|tutorials?)(?![^\W_]))"
)
# "subscribe" and the misspellings of it the YouTube spam uses, on its own ("subscribe if you are
# watching", "don't forget to subscribe"); not when a thing to subscribe to follows, where it
# describes ("you can subscribe an empty delegate", "subscribe to the feed", "subscribe to events").
_SUBSCRIBE = frozenset({"subscribe", "suscribe", "subcribe", "subscrib", "subscribee", "subscrible", "sucribe"})
_SUBSCRIPTION_OBJECTS = (
    "the a an this that these those its their his each every any all event events topic topics feed feeds rss list "
    "lists newsletter notification notifications update updates change changes callback callbacks handler handlers "
    "observer observable method"
).split()
_SUBSCRIBE_RE = re.compile(
    r"(?<![^\W_])(?:"
    + "|".join(sorted(_SUBSCRIBE, reverse=True))
    + r")(?![^\W_])(?!\s++(?:to\s++)?(?:"
    + "|".join(sorted(_SUBSCRIPTION_OBJECTS, reverse=True))
    + r")(?![^\W_]))"
)


# Word sequences, matched on the comment's casefolded words (``normalize.phrase_words``): each slot a
# word or a set of words, ``_NUMBER`` any run of digits.  A promise of earnings ("earn", "make money",
# "financial freedom": Instagram and Telegram testimonials, YouTube work-from-home spam) and pressure
# to act at once ("first 5 people", "limited offer", "call now", "urgent": SMS prize spam, Instagram
# giveaways); each column counts the distinct sequences found (README, "Behaviour features" row).
_NUMBER = frozenset({"<number>"})
_Slots = tuple[frozenset[str], ...]
_EARNING = (
    ("earn",),
    ("earns",),
    ("earning",),
    ("earnings",),
    ("income",),
    ("millionaire",),
    ("financial", "freedom"),
    ({"get", "getting", "got", "became", "become"}, "rich"),
    ({"make", "makes", "making", "made"}, "money"),
    ({"work", "working"}, "from", "home"),
)
_URGENCY = (
    ("first", _NUMBER, {"people", "persons", "person", "users", "clients", "customers", "callers"}),
    ("limited", {"time", "offer", "spots", "slots", "places", "seats"}),
    ("last", "chance"),
    ({"act", "call", "order", "claim", "join", "register", "apply"}, "now"),
    ({"dont", "don't", "don’t"}, "miss"),
    ("today", "only"),
    ("urgent",),
    ("hurry",),
    ("only", _NUMBER, {"left", "spots", "slots", "places"}),
)


def _compile(patterns: tuple[tuple[str | set[str] | frozenset[str], ...], ...]) -> dict[str, list[_Slots]]:
    """First word → the patterns (each a tuple of word sets) that start with it."""
    out: dict[str, list[_Slots]] = {}
    for pattern in patterns:
        slots = tuple(frozenset({p}) if isinstance(p, str) else frozenset(p) for p in pattern)
        for first in slots[0]:
            out.setdefault(first, []).append(slots)
    return out


_EARNING_BY_FIRST, _URGENCY_BY_FIRST = _compile(_EARNING), _compile(_URGENCY)


def _count_sequences(words: list[str], by_first: dict[str, list[_Slots]]) -> int:
    """How many distinct patterns occur in ``words`` (each a few words long: linear in the words)."""
    found: set[_Slots] = set()
    for i, word in enumerate(words):
        for slots in by_first.get(word, ()):
            if slots in found or i + len(slots) > len(words):
                continue
            if all(
                words[i + j] in slot or (slot == _NUMBER and words[i + j].isdigit())
                for j, slot in enumerate(slots[1:], 1)
            ):
                found.add(slots)
    return len(found)


def _verb_then(low: str, verbs: set[str], tail: re.Pattern[str]) -> bool:
    """Whether one of ``verbs`` occurs in ``low`` as a whole word followed by a match of ``tail``.

    Occurrences are found with ``str.find`` and the anchored ``tail`` tried at each (bounded work per
    occurrence), instead of an alternation tried at every character.
    """
    for verb in verbs:
        start = low.find(verb)
        while start != -1:
            if (start == 0 or not low[start - 1].isalnum()) and tail.match(low, start + len(verb)):
                return True
            start = low.find(verb, start + len(verb))
    return False


def behaviour_signals(text: str, words: list[str]) -> dict[str, float]:
    """Money amounts, investment vocabulary, off-site contact requests, self-promotion, earning claims and urgency.

    ``text`` is the de-obfuscated comment, ``words`` its casefolded words (``normalize.phrase_words``).
    """
    out: dict[str, float] = {}
    unique = set(words)
    low = text.casefold()
    if not low.isascii():
        low = low.translate(CURRENCY)
    amounts = len(_SIGN_AMOUNT_RE.findall(low)) if "$" in low else 0
    if not _CURRENCY_WORDS.isdisjoint(unique):
        amounts += len(_WORD_AMOUNT_RE.findall(low))
    if amounts:
        out["money_amounts"] = math.log1p(amounts)
    stems = {_INVEST_STEMS[w] for w in unique.intersection(_INVEST_STEMS)}
    if stems and not stems <= _AMBIGUOUS_STEMS:
        out["investment_terms"] = math.log1p(len(stems))
    verbs = unique & _CONTACT_VERBS
    if (
        verbs
        and ("@" in low or not _MESSENGERS.isdisjoint(unique) or _DIGIT_RE.search(low))
        and _verb_then(low, verbs, _CONTACT_TAIL_RE)
    ):
        out["contact_request"] = 1.0
    if (not _SUBSCRIBE.isdisjoint(unique) and _SUBSCRIBE_RE.search(low)) or (
        ("my" in unique or "our" in unique)
        and not _PROMO_NOUNS.isdisjoint(unique)
        and _verb_then(low, unique & _PROMO_VERBS, _PROMO_TAIL_RE)
    ):
        out["self_promotion"] = 1.0
    for name, by_first in (("earning_claim", _EARNING_BY_FIRST), ("urgency", _URGENCY_BY_FIRST)):
        if not unique.isdisjoint(by_first) and (n := _count_sequences(words, by_first)):
            out[name] = math.log1p(n)
    return out

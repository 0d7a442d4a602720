"""What a comment asks the reader to do with money, contact or the writer's channel: spam behaviour, not vocabulary.

Each training corpus writes its scams in its own currency, words and number formats (SMS spam
"£1000 ... call 09061221066", Instagram scam "invested $1 000 and got $15 000 ... contact @handle",
YouTube "subscribe to my channel"), so word n-grams learned on one corpus do not fire on another
(issue 11).  These columns describe the behaviour whatever the wording: each is one weight, learned
from every corpus's spam, and shown to a moderator under a plain name (model.META_NAMES).

Cost: the caller passes the comment's casefolded word list (``normalize.phrase_words``, which the
blocklist count needs anyway); each signal is first gated by set intersections and ``in`` scans,
so a comment that cannot match runs no pattern; the word sequences are looked up from each word
that can start one (at most four words each, and a window of four words after some).  Every pattern is linear (issue 8): matches start
only at the beginning of a run (lookbehinds: a tail never starts inside a run of spaces), runs are
possessive, repetitions are bounded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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
# An account handle named for money ("@trades_with_felicia", "@createwealthwithluna1", "@linda._trades"):
# the Instagram testimonial scams credit a "manager" by handle, the words glued together so no word
# of them is seen.  Each stem found in a handle counts as that stem would ("learn" is no "earn").
# Only "@" mentions: with "#" tags too, a scam tag that the Instagram data also holds in one row
# labelled ham became an evasion word the promotion gate's trigger check refused (docs/measurements.md).
_HANDLE_RE = re.compile(r"@([\w.]{3,40}+)")
_HANDLE_STEM_RE = re.compile(
    r"invest|profit|crypto|bitcoin|btc|trad(?:e|ing|er)|forex|fx|wealth|(?<!l)earn|financ|money|income"
)
# The stems as _INVEST_STEMS names them, where the handle's spelling differs.
_HANDLE_STEMS = {"btc": "bitcoin", "trade": "trading", "trader": "trading", "fx": "forex"}
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
# Premium-rate texting ("Txt POD to 80182", "text 1,2 or 3 to 83049", "Send STOP FRND to 62468"): a
# texting verb, a keyword in capitals or a number, up to two more short words and "to" a 4–6 digit
# short code (a phone number is longer).  Not a lower-case object ("send output to 8080", "text
# wrapping to 1024" are technical) and not a round number, which is a count ("reply 5 to 2000 users").
_SHORT_CODE_VERBS = frozenset({"text", "txt", "reply", "rply", "send", "sms"})
_SHORT_CODE_RE = re.compile(
    r"(?<![^\W_])(?i:"
    + "|".join(sorted(_SHORT_CODE_VERBS, reverse=True))
    + r")\s++[A-Z0-9][A-Z0-9,&-]*+(?![^\W_])(?:\s++\S{1,12}+){0,2}?\s++(?i:to)\s++\d{4,6}+(?<!00)(?!\d|[,.]\d)"
)
# Calling a phone number the message introduces in a few words ("Call MobileUpd8 on 08000839402", "call
# customer services on 09065069120", "call from a landline 09058098002", "Dial 08712300220", "To claim,
# call09050000327", "Call at 1-800-778-9936"): a call verb, up to four words that do not start with a digit,
# and a number written as a phone number, i.e. a leading "+" or "0" and ten digits or more, or a US
# toll-free 1-8xx number.  Its form tells it from a count ("call it 10000000 times", "call the method 3
# times"); the contact tail above takes only two short words before a number.
_CALL_VERBS = ("call", "ring", "dial", "phone", "contact")
_PHONE_TAIL_RE = re.compile(
    r"(?<![\s:=])(?![^\W\d_])(?:\s++[^\s\d]\S{0,14}+){0,4}?[\s:=]*+"
    r"(?:(?:\+\d|0)\d(?:[ -]?+\d){8,12}+|1[ -]?+8\d\d[ -]?+\d{3}[ -]?+\d{4})(?!\d)"
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
# to act at once ("first 5 people", "limited time offer", "call now", "urgent": SMS prize spam,
# Instagram giveaways); each column counts the distinct rules found (docs/measurements.md, "Behaviour features").
#
# Words with an everyday sense count only in their spam sense, judged from the words around them (a
# bounded window, so the scan stays linear): "earn" not when what is earned is merit ("earn the
# badge", "earn some reputation"), "call / order / act now" only as an imperative (not "can I call
# now", "I'll order now"), "limited time" only of an offer (not "a limited time brew").  "hurry" still
# counts alone: requiring an offer near it ("hurry, offer ends" but not "hurry home") was measured
# and not adopted (`bench/loco_experiments.py`: one held-out SMS spam lost, recall at 1 % FPR 0.633 →
# 0.631, nested Stack Exchange ham blocked 1.60 → 1.62 %).
_NUMBER = frozenset({"<number>"})
_Slots = tuple[frozenset[str], ...]


@dataclass(frozen=True)
class _Rule:
    """A word sequence and, optionally, what must (not) be around it.

    ``not_after``: words that must not come just before the sequence (a subject or modal turns an
    imperative into a statement).  ``stop``: words that must not occur within ``after`` words after
    it (what is earned is a badge, not money).
    """

    slots: _Slots
    not_after: frozenset[str] = frozenset()
    stop: frozenset[str] = frozenset()
    after: int = 0


def _rule(
    *pattern: str | Iterable[str],
    not_after: Iterable[str] = (),
    stop: Iterable[str] = (),
    after: int = 0,
) -> _Rule:
    slots = tuple(frozenset({p}) if isinstance(p, str) else frozenset(p) for p in pattern)
    return _Rule(slots, frozenset(not_after), frozenset(stop), after)


# What is earned when it is not money: site merit, trust, a degree ("earn the badge", "earn 15 reputation").
_MERIT = set(
    "reputation rep badge badges points point karma votes upvotes trust respect degree certificate privilege "
    "privileges".split()
)
# A subject or modal before "call / order now": a statement about the writer, not an order to the reader.
_SUBJECTS = set(
    "i u you we he she they it can shall will ill i'll i’ll cant can't should could would may might to".split()
)
_EARNING = (
    *(_rule(w, after=4, stop=_MERIT) for w in ("earn", "earns", "earning", "earnings")),
    _rule("income"),
    _rule("millionaire"),
    _rule("financial", "freedom"),
    _rule({"get", "getting", "got", "became", "become"}, "rich"),
    _rule({"make", "makes", "making", "made"}, "money"),
    _rule({"work", "working"}, "from", "home"),
)
_URGENCY = (
    _rule("first", _NUMBER, {"people", "persons", "person", "users", "clients", "customers", "callers"}),
    _rule("limited", {"offer", "spots", "slots", "places", "seats"}),
    _rule("limited", "time", {"offer", "offers", "only", "deal", "deals", "sale", "discount"}),
    _rule("last", "chance"),
    _rule({"act", "call", "order", "claim", "join", "register", "apply"}, "now", not_after=_SUBJECTS),
    _rule({"dont", "don't", "don’t"}, "miss"),
    _rule("today", "only"),
    _rule("urgent"),
    _rule("hurry"),
    _rule("only", _NUMBER, {"left", "spots", "slots", "places"}),
)


def _compile(rules: tuple[_Rule, ...]) -> dict[str, list[_Rule]]:
    """First word → the rules whose sequence starts with it."""
    out: dict[str, list[_Rule]] = {}
    for rule in rules:
        for first in rule.slots[0]:
            out.setdefault(first, []).append(rule)
    return out


_EARNING_BY_FIRST, _URGENCY_BY_FIRST = _compile(_EARNING), _compile(_URGENCY)


def _count_sequences(words: list[str], by_first: dict[str, list[_Rule]], unique: set[str]) -> int:
    """How many distinct rules match in ``words`` (each a few words and a bounded window: linear).

    Only the positions of words that open a rule are visited (found by ``list.index``, a C scan): a
    Python step per word made this a third of scoring a long comment.  ``unique`` is ``set(words)``.
    """
    found: set[_Rule] = set()
    n = len(words)
    for first in unique.intersection(by_first):
        rules = by_first[first]
        for i in _positions(words, first):
            for rule in rules:
                slots = rule.slots
                end = i + len(slots)
                if rule in found or end > n:
                    continue
                if not all(
                    words[i + j] in slot or (slot == _NUMBER and words[i + j].isdigit())
                    for j, slot in enumerate(slots[1:], 1)
                ):
                    continue
                if rule.not_after and i and words[i - 1] in rule.not_after:
                    continue
                if rule.stop and not rule.stop.isdisjoint(words[end : end + rule.after]):
                    continue
                found.add(rule)
    return len(found)


# A brand or service dropped after a token compliment, the link-less SEO plug of blog comment spam
# ("Great read. Printer helpline number", "Nice post. Best packers and movers in Pune", "Loved it.
# Cheap flights to Dubai"): the comment opens with a compliment and all that follows is a short
# commercial noun phrase ending in a trade word (optionally "near me" / "in <place>" / "to <place>").  The tail
# holds no sentence word (article, pronoun, verb) and no praise, so a reply that goes on to say
# something ("Great answer. The service restarts ...", "Thanks for sharing, great service") is not one.
# It sets ``self_promotion`` (the writer advertises their own business, as "visit our store" does):
# no training comment has this shape (none of the corpora fires it), so a column of its own would
# learn no weight, while the promotion weight is learned from every corpus's self-promotion.
_COMPLIMENT_HEADS = frozenset(
    "great nice good awesome excellent informative useful helpful wonderful amazing interesting cool "
    "superb fantastic lovely beautiful brilliant".split()
)
_COMPLIMENT_NOUNS = frozenset(
    "read post posts article articles blog share sharing info information content write writeup piece "
    "site website work job stuff one".split()
)
_THANKS = (("thanks", "for"), ("thank", "you", "for"), ("thx", "for"), ("thankyou", "for"))
_SHARED = frozenset("sharing posting this the writing".split())
_TRADE_WORDS = frozenset(
    "helpline helplines service services booking bookings agency agencies company companies "
    "dealer dealers packers movers shifting tickets ticket flights hotels hotel rental rentals hire escorts "
    "escort loan loans insurance consultant consultants consultancy experts provider providers solutions "
    "shop store deals sale discount classes coaching courses institute clinic lawyer lawyers contractor "
    "contractors cleaning repair repairs installation manufacturer manufacturers supplier suppliers "
    "exporter exporters".split()
)
_NUMBER_WORDS = frozenset({"number", "numbers"})
_CONTACT_NOUNS = frozenset("phone contact customer care support tollfree toll free whatsapp".split())
# Words that make the tail a sentence (or more praise), not a name: articles, pronouns, common verbs.
_SENTENCE_WORDS = (
    frozenset(
        "a an the this that these those it its i you he she we they my your our their me is are was were be been "
        "am do does did have has had can could will would should may might must not no to of if so but or "
        "what why how when where which who there here just also very really too docs say says said".split()
    )
    | _COMPLIMENT_HEADS
)
_MAX_PLUG_WORDS = 7
_LIKING = frozenset("love loved like liked enjoyed".split())
# The words a token compliment can open with (a cheap first test: most comments open otherwise).
_PLUG_OPENERS = _COMPLIMENT_HEADS | _LIKING | {"very", "really", "such", "so", "thanks", "thank", "thx", "thankyou"}


def _compliment_end(words: list[str]) -> int:
    """How many opening words of ``words`` (not empty) make a token compliment ("great read", "thanks for
    sharing", "loved it", "enjoyed this post"), or 0."""
    i = 1 if words[0] in {"very", "really", "such", "so"} else 0
    if i + 1 < len(words) and words[i] in _COMPLIMENT_HEADS and words[i + 1] in _COMPLIMENT_NOUNS:
        return i + 2
    if len(words) > 1 and words[0] in _LIKING and words[1] in {"it", "this", "reading"}:
        return 3 if len(words) > 2 and words[2] in _COMPLIMENT_NOUNS else 2
    for thanks in _THANKS:
        if tuple(words[: len(thanks)]) == thanks:
            # "thanks for sharing", "... for the info", "... for sharing this post": at most three words
            n = len(thanks)
            while n < len(thanks) + 3 and n < len(words) and (words[n] in _SHARED or words[n] in _COMPLIMENT_NOUNS):
                n += 1
            return n if n > len(thanks) else 0
    return 0


def _seo_plug(words: list[str]) -> bool:
    """Whether the comment is a token compliment followed only by a trade name (see ``_TRADE_WORDS``)."""
    start = _compliment_end(words)
    tail = words[start:]
    if not start or not tail or len(tail) > _MAX_PLUG_WORDS:
        return False
    # The place after the trade word: "... near me", "... in pune", "... in new delhi", "... to dubai".
    if tail[-2:] == ["near", "me"]:
        tail = tail[:-2]
    else:
        for k in range(len(tail) - 1, max(len(tail) - 3, 0) - 1, -1):
            if tail[k] in {"in", "to"}:
                tail = tail[:k]
                break
    if not tail or not _SENTENCE_WORDS.isdisjoint(tail):
        return False
    # "number" alone is a version or line number; a helpline's or a company's number is a plug.
    if tail[-1] in _NUMBER_WORDS:
        return len(tail) > 1 and (tail[-2] in _TRADE_WORDS or tail[-2] in _CONTACT_NOUNS)
    return tail[-1] in _TRADE_WORDS


# A product plug in the business voice ("Helpful. Try our free online grammar checker tool", "download
# our app", "check out our new plugin"): an imperative, i.e. no subject, modal or "to" just before the
# verb ("we use our own tool", "you can try our staging app", "how to install our plugin" describe),
# whose object is "our", up to four more words and a product noun.
_PRODUCT_VERBS = frozenset("try use download install get check visit".split())
_PRODUCT_NOUNS = frozenset(
    "tool tools app apps software extension extensions plugin plugins product products platform".split()
)
_NOT_IMPERATIVE = frozenset(
    "i we you they he she it who can could will would should might may must to also then don't didn't "
    "i'll we'll you'll".split()
)
_PRODUCT_WINDOW = 5


def _product_plug(words: list[str]) -> bool:
    """Whether ``words`` hold an imperative "try / use / download … (out) our … <product noun>" (bounded look-ahead)."""
    n = len(words)
    for i in range(n):
        if words[i] in _PRODUCT_VERBS and (i == 0 or words[i - 1] not in _NOT_IMPERATIVE):
            j = i + 2 if i + 1 < n and words[i + 1] == "out" else i + 1
            if j < n and words[j] == "our" and not _PRODUCT_NOUNS.isdisjoint(words[j + 1 : j + 1 + _PRODUCT_WINDOW]):
                return True
    return False


# Asking to follow an account: "follow me / us on <social site>" or "follow (me / us) @handle" ("Follow me
# on Twitter @mscalifornia95", "follow me on instagram bigboss286", "buy and hold … follow @4arzin"), as an
# imperative (not "I follow @rustlang", "you can follow us on twitter", "how to follow @x").
_FOLLOW_SITES = "twitter instagram insta ig facebook fb twitch tiktok youtube soundcloud snapchat tumblr".split()
_FOLLOW_TAIL_RE = re.compile(
    r"(?<!\s)(?![^\W_])\s++(?:(?:me|us)\s++(?:on|at)\s++(?:"
    + "|".join(sorted(_FOLLOW_SITES, reverse=True))
    + r")(?![^\W_])|(?:(?:me|us)\s++)?@\w)"
)


# Asking the video's audience to come over or to boost the writer (YouTube spam): the writer's channel
# as a place ("videos on my channel", "go to my channel", "my YouTube channel"), imperative like-bait
# ("like this comment if …", "please like my comment"; not "I like this comment", which describes),
# "check me out", and the text YouTube's share button writes ("Check out this video on YouTube:").
# "my channel" alone is not enough: "I close my channel" is Go talk.
_CHANNEL_PLACES = frozenset("on to at in into".split())
_CHANNEL_SITES = frozenset("youtube yt".split())
_LIKE_BAIT_VERBS = frozenset("like thumb thumbs".split())
_SHARE_TEXTS = (("check", "out", "this"), ("look", "at", "this"))  # … video|playlist on youtube


def _positions(words: list[str], word: str) -> Iterator[int]:
    """Where ``word`` occurs in ``words`` (``list.index``: a C scan, not a Python loop over every word)."""
    i = -1
    try:
        while True:
            i = words.index(word, i + 1)
            yield i
    except ValueError:
        return


def _audience_plug(words: list[str], unique: set[str]) -> bool:
    """Whether ``words`` name the writer's channel as a place, ask readers to like the comment or to
    check the writer out, or are YouTube's share text (``unique``: the set of ``words``)."""
    n = len(words)
    if "my" in unique:
        for i in _positions(words, "my"):
            after = words[i + 1] if i + 1 < n else ""
            if after == "channel" and i and words[i - 1] in _CHANNEL_PLACES:
                return True
            if after in _CHANNEL_SITES and i + 2 < n and words[i + 2] == "channel":
                return True
    if "comment" in unique or "comments" in unique:
        for verb in unique & _LIKE_BAIT_VERBS:
            for i in _positions(words, verb):
                j = i + 2 if i + 1 < n and words[i + 1] == "up" else i + 1  # "thumbs up this comment"
                if (
                    j + 1 < n
                    and words[j] in {"this", "my"}
                    and words[j + 1] in {"comment", "comments"}
                    and (i == 0 or words[i - 1] not in _NOT_IMPERATIVE)
                ):
                    return True
    if "check" in unique and "out" in unique and ("me" in unique or "us" in unique):
        for i in _positions(words, "check"):
            if i + 2 < n and words[i + 1] in {"me", "us"} and words[i + 2] == "out":
                if i == 0 or words[i - 1] not in _NOT_IMPERATIVE:
                    return True
    if "youtube" in unique and "this" in unique:
        for i in _positions(words, "youtube"):
            if 5 <= i and words[i - 1] == "on" and words[i - 2] in {"video", "playlist"}:
                if tuple(words[i - 5 : i - 2]) in _SHARE_TEXTS:
                    return True
    return False


def _after_subject(low: str, start: int) -> bool:
    """Whether the word just before ``start`` is one of ``_NOT_IMPERATIVE`` (a subject, modal or "to")."""
    before = low[max(start - 12, 0) : start].split()
    return bool(before) and before[-1] in _NOT_IMPERATIVE


def _verb_then(low: str, verbs: set[str], tail: re.Pattern[str], imperative: bool = False) -> bool:
    """Whether one of ``verbs`` occurs in ``low`` as a whole word followed by a match of ``tail``.

    Occurrences are found with ``str.find`` and the anchored ``tail`` tried at each (bounded work per
    occurrence), instead of an alternation tried at every character.  ``imperative``: only where the
    word before the verb is none of ``_NOT_IMPERATIVE`` (an order to the reader, not a statement).
    """
    for verb in verbs:
        start = low.find(verb)
        while start != -1:
            if (
                (start == 0 or not low[start - 1].isalnum())
                and tail.match(low, start + len(verb))
                and not (imperative and _after_subject(low, start))
            ):
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
    if "@" in low:
        stems.update(
            _HANDLE_STEMS.get(m.group(), m.group()) for h in _HANDLE_RE.findall(low) if (m := _HANDLE_STEM_RE.search(h))
        )
    if stems and not stems <= _AMBIGUOUS_STEMS:
        out["investment_terms"] = math.log1p(len(stems))
    verbs = unique & _CONTACT_VERBS
    if (
        verbs
        and ("@" in low or not _MESSENGERS.isdisjoint(unique) or _DIGIT_RE.search(low))
        and _verb_then(low, verbs, _CONTACT_TAIL_RE)
    ):
        out["contact_request"] = 1.0
    elif (not _SHORT_CODE_VERBS.isdisjoint(unique) and "to" in unique and _SHORT_CODE_RE.search(text)) or (
        _DIGIT_RE.search(low) and _verb_then(low, {v for v in _CALL_VERBS if v in low}, _PHONE_TAIL_RE)
    ):
        out["contact_request"] = 1.0
    if (
        (not _SUBSCRIBE.isdisjoint(unique) and _SUBSCRIBE_RE.search(low))
        or (
            ("my" in unique or "our" in unique)
            and not _PROMO_NOUNS.isdisjoint(unique)
            and _verb_then(low, unique & _PROMO_VERBS, _PROMO_TAIL_RE)
        )
        or (0 < len(words) <= _MAX_PLUG_WORDS + 6 and words[0] in _PLUG_OPENERS and _seo_plug(words))
        or ("our" in unique and not _PRODUCT_VERBS.isdisjoint(unique) and _product_plug(words))
        or _audience_plug(words, unique)
        or ("follow" in unique and _verb_then(low, {"follow"}, _FOLLOW_TAIL_RE, imperative=True))
    ):
        out["self_promotion"] = 1.0
    for name, by_first in (("earning_claim", _EARNING_BY_FIRST), ("urgency", _URGENCY_BY_FIRST)):
        if not unique.isdisjoint(by_first) and (n := _count_sequences(words, by_first, unique)):
            out[name] = math.log1p(n)
    return out

"""Feature extraction shared by training and serving (one definition for both).

Every transformer here is a plain scikit-learn estimator: parameters in
``__init__``, everything learned in ``fit``.  The inputs are lists of
:class:`spamguard.comment.Comment`.

Design notes
------------
* Text is normalised the same way everywhere (:func:`normalise_text`): HTML
  entities, ``<br>``, zero-width characters, cp1252 mojibake (C1 controls),
  NFKC.  :func:`prepare_text` then casefolds, replaces URLs by the token
  ``urlx``, undoes common leetspeak inside words and maps every digit to ``0``
  (phone numbers and prices generalise by shape, not by value).
* Metadata features (:class:`MetaFeatures`) use *0 as the missing value*: an
  absent e-mail, user agent, referrer or post date contributes nothing to the
  logit.  Indicators are "present"/"known" flags, never "missing" flags, so a
  corpus without metadata (the public ones) teaches nothing about missing
  metadata.  Numeric columns are scaled by a max-abs factor learned in ``fit``
  (no centring, so 0 stays 0).  The YouTube DATE column is never used.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from spamguard.comment import Comment
from spamguard.scoring import behaviour, normalize, signals

# --------------------------------------------------------------------------- text normalisation

# Every pattern here sees up to a whole 64 KB comment written by a spammer, so each one runs in
# linear time (issue 8): no two quantifiers can split the same run of characters between them,
# runs that must not be given back are possessive (``*+``, ``++``), repetitions that must
# backtrack are bounded, and a pattern that could start anywhere inside a run only starts at
# its beginning.  bench/regex_worst_case.py times each one on adversarial input.
_BR_RE = re.compile(r"<\s*+br\s*+/?\s*+>", re.IGNORECASE)
_ZERO_WIDTH_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_C1_RE = re.compile("[\u0080-\u009f]")
# A bare domain is at most 8 labels of at most 63 characters (DNS allows 63): bounded, so trying
# it at every label of "a.a.a.a..." costs a constant each instead of a rescan of the whole run.
_URL_TLDS = "com|net|org|info|biz|ru|cn|ly|gl|co|io|me|tk|uk|us|tv|xyz|top|online|site"
_URL_RE = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[^\s<>\"']++"
    rf"|\b(?:[a-z0-9-]{{1,63}}+\.){{1,8}}(?:{_URL_TLDS})"
    r"(?:/[^\s<>\"']*)?\b",
    re.IGNORECASE,
)
# Every _URL_RE match holds "://", "www." or "." + one of its TLDs.  Scanning lower-cased ASCII for
# those literals is ~20x cheaper than the pattern, whose case-insensitive alternatives are tried at
# every word; non-ASCII text always gets the pattern (Unicode case folding: "ſ" matches "s").
_URL_TLD_RE = re.compile(rf"\.(?:{_URL_TLDS})")
# The local part starts only where its run starts (group 1 keeps the dots or signs before the first
# word character, which the \b of the original pattern left outside the match).
_EMAIL_RE = re.compile(r"(?<![\w.+-])([.+-]*+)[\w.+-]++@[\w-]+(?:\.[\w-]+)+\b")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_CHARS = "[" + re.escape("".join(map(chr, _LEET))) + "]"
_LEET_CHAR_RE = re.compile(_LEET_CHARS)
# A word (a whole run of [\w@$]) holding a leet character: matched from the run's start only (the
# lookbehind), so a run without one costs one pass, and _deleet is called for the few that have one.
_WORD_RE = re.compile(rf"(?<![\w@$])[\w@$]*?{_LEET_CHARS}[\w@$]*+")
_LONG_NUMBER_RE = re.compile(r"\d{5,}")
# An <a ...> tag ends at the first ">" and contains no "<" (checked once by the lookahead, so a
# missing ">" costs one scan per tag, not one per "href" in it).
_HREF_RE = re.compile(r"""<a\s(?=[^<>]*+>)[^<>]*?href\s*+=\s*+["']?([^"'\s>]++)[^<>]*+>""", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[a-z][a-z0-9]*+(?:\s[^<>]*+)?/?>", re.IGNORECASE)
_BOT_UA_RE = re.compile(
    r"bot|crawl|spider|curl|wget|python|java/|libwww|httpclient|go-http|headless|phantom|scrapy|perl|php", re.IGNORECASE
)
# A character and two or more copies (the matches of (.)\1{2,}): spelled with \1\1 first, sre tries
# a position ≈ 3x faster than with the counted repeat, which it only enters after a run of three.
_REPEAT_RE = re.compile(r"(.)\1\1\1*")
# Characters whose decomposition starts with a combining mark (non-starter).  NFKC sorts a run of
# them with an insertion sort, quadratic in the run's length; Unicode's stream-safe format (UAX
# #15) caps runs at 30, which no real script needs more than.
_NON_STARTERS = "".join(
    re.escape(ch)
    for ch in map(chr, range(0x20000))
    if unicodedata.combining(ch)
    or (unicodedata.decomposition(ch) and unicodedata.combining(unicodedata.normalize("NFKD", ch)[0]))
)
_NON_STARTER_RUN_RE = re.compile(f"[{_NON_STARTERS}]{{31,}}+")
MAX_NON_STARTERS = 30
# Longest text scored: the default field cap.  Only NFKC's expansions (U+FDFA is 18 characters)
# can make a capped field longer; the rest is cut rather than scored.
MAX_TEXT_CHARS = 65536
URL_TOKEN = "urlx"
EMAIL_TOKEN = "emailx"


def _fix_c1(match: re.Match[str]) -> str:
    char = match.group(0)
    try:
        return char.encode("latin-1").decode("cp1252")
    except UnicodeDecodeError:
        return ""


def cap_non_starters(text: str) -> str:
    """Cut every run of combining marks to MAX_NON_STARTERS (unchanged for any real text)."""
    return _NON_STARTER_RUN_RE.sub(lambda m: m[0][:MAX_NON_STARTERS], text)


def nfkc(text: str) -> str:
    """Unicode NFKC in linear time (runs of combining marks capped first)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", cap_non_starters(text))


def normalise_text(text: str | None) -> str:
    """Undo transport damage: HTML entities, ``<br>``, BOM/zero-width, C1 mojibake, NFKC.

    Idempotent for practical purposes; used by the loaders (before dedupe) and
    by serving, so training and serving see the same text.
    """
    if not text:
        return ""
    for _ in range(2):  # raw markup, then markup that was entity-encoded
        if "<" in text:  # in every match of the three patterns
            text = _BR_RE.sub("\n", text)
            text = _HREF_RE.sub(lambda m: f" {m.group(1)} ", text)
            text = _TAG_RE.sub("", text)
        text = html.unescape(text)
    if not text.isascii():  # C1 controls and zero-width characters are not ASCII
        text = _C1_RE.sub(_fix_c1, text)
        text = _ZERO_WIDTH_RE.sub("", text)
    return nfkc(text)[:MAX_TEXT_CHARS].strip()


def url_domain(url: str) -> str:
    """Host of a URL (``www.`` stripped), lowercased; '' when there is none."""
    url = url.strip()
    if not url:
        return ""
    if "://" not in url:
        url = "http://" + url
    try:
        host = urlsplit(cap_non_starters(url)).hostname or ""  # urlsplit NFKC-checks a non-ASCII host
    except ValueError:
        return ""
    host = host.lower().rstrip(".")
    return host.removeprefix("www.")


def may_hold_url(text: str) -> bool:
    """False only when ``_URL_RE`` finds nothing in ``text`` (its literals are absent)."""
    if not text.isascii():
        return True
    low = text.lower()
    return "://" in low or "www." in low or ("." in low and _URL_TLD_RE.search(low) is not None)


# A referral or affiliate link pays its poster per sign-up.  Its mark: a parameter or path segment naming the
# referrer whose value is an account code, which holds a digit ("?ref=4604617", "/ref/tomuciux99",
# "?ref=cppr1"); a source tag ("?ref=hn", "?ref=producthunt") or a branch ("?ref=main") holds none.  A value
# running on into a dot ("?ref=v1.2") is a version, one with an underscore a shop's page code (Amazon's
# "ref=sr_1_3", "ref=pd_sl_22lbr").
_REFERRAL_RE = re.compile(
    r"[?&;](?:ref|refid|ref_id|referral|referral_code|referrer|aff|affid|aff_id|affiliate|invite|invite_code|r)"
    r"=([a-z0-9-]{1,64}+)(?![\w.])"
    r"|/(?:ref|refer|referral|invite|affiliate|aff)/([a-z0-9-]{1,64}+)(?![\w.])",
    re.IGNORECASE,
)


def referral_link(url: str) -> bool:
    """Whether ``url`` carries a referral or affiliate code (:data:`_REFERRAL_RE`)."""
    return any(any(c.isdigit() for c in m.group(1) or m.group(2)) for m in _REFERRAL_RE.finditer(url))


def find_urls(text: str) -> list[str]:
    return _URL_RE.findall(text) if text and may_hold_url(text) else []


_ASCII_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")  # isdisjoint runs in C: no generator per word


def _deleet(match: re.Match[str]) -> str:
    word = match.group(0)  # holds a leet character (_WORD_RE)
    if _ASCII_LOWER.isdisjoint(word):  # digits, "_" or non-ASCII letters only: not leet
        return word
    letters = sum(c.isalpha() for c in word)
    others = len(word) - letters
    # Only words that are mostly letters ("fr33", "c4sh", "$ex"), not "2015" or "4u".
    if others and letters >= 2 and letters >= others:
        return word.translate(_LEET)
    return word


def prepare_text(text: str) -> str:
    """Text as the vectorisers see it: normalised, casefolded, URLs → ``urlx``, leet undone, long numbers → 0s.

    Not memoised by text: a serving worker seldom sees a comment twice, so a memo only grows it;
    training featurises each comment several times (blocks, folds) through the per-comment
    :func:`analyse`, which is memoised on the comment object instead.
    """
    return _finish_prepare(normalize.deobfuscate(normalise_text(text)))


def _finish_prepare(plain: str, has_urls: bool = True) -> str:
    """The steps of :func:`prepare_text` after normalising and de-obfuscating.

    ``has_urls=False`` (the caller found none in ``plain``) skips the URL pass for ASCII text,
    where casefolding cannot change what the case-insensitive pattern matches.  The other passes
    are skipped when the one character they need is absent.
    """
    text = plain.casefold()
    if not text.isascii():  # every currency sign is "$": "£1000" and "$1 000" are the same offer
        text = text.translate(behaviour.CURRENCY)
    if has_urls or not text.isascii():
        text = _URL_RE.sub(f" {URL_TOKEN} ", text)
    if "@" in text:
        text = _EMAIL_RE.sub(lambda m: f"{m[1]} {EMAIL_TOKEN} ", text)
    if _LEET_CHAR_RE.search(text):  # without one, _WORD_RE finds nothing
        text = _WORD_RE.sub(_deleet, text)
    # Phone numbers, codes and prices generalise by shape; short numbers (years, "2:19") stay.
    return _LONG_NUMBER_RE.sub(lambda m: "0" * min(len(m.group(0)), 12), text)


SELF_LINK_TOKEN = "selflinkx"


def _link_key(url: str) -> str:
    """host + path + video id, for comparing a link in the text with the comment's permalink."""
    url = url.strip().rstrip(").,!")
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(cap_non_starters(url))
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    host = host.removeprefix("www.")
    query = dict(q.split("=", 1) for q in parts.query.split("&") if "=" in q)
    if host == "youtu.be":  # short links name the video in the path
        return f"youtube.com/watch{parts.path}"
    key = f"{host}{parts.path.rstrip('/')}"
    if "v" in query:
        key += "/" + query["v"]
    return key


def split_self_links(content: str, permalink: str) -> tuple[str, int]:
    """Replace links to the page being commented on (the permalink) by a token; (text, count)."""
    if not permalink or not may_hold_url(content):
        return content, 0
    target = _link_key(permalink)
    count = 0

    def repl(match: re.Match[str]) -> str:
        nonlocal count
        if target and _link_key(match.group(0)) == target:
            count += 1
            return f" {SELF_LINK_TOKEN} "
        return match.group(0)

    return _URL_RE.sub(repl, content), count


# --------------------------------------------------------------------------- one analysis per comment


def is_normalised(text: str) -> bool:
    """Whether ``normalise_text(text) == text``, decided by cheap scans instead of running it.

    True for almost every text that :func:`normalise_text` produced (it is idempotent for
    practical purposes); tests/scoring check the claim on corpora and hostile texts.
    """
    if len(text) > MAX_TEXT_CHARS or text != text.strip():
        return False
    if "<" in text and (_BR_RE.search(text) or _TAG_RE.search(text)):  # every <a href> is a tag
        return False
    if "&" in text and html.unescape(text) != text:
        return False
    if text.isascii():
        return True
    return not (
        _C1_RE.search(text) or _ZERO_WIDTH_RE.search(text) or _NON_STARTER_RUN_RE.search(text)
    ) and unicodedata.is_normalized("NFKC", text)


class Analysis:
    """Everything derived from a comment's content, computed once per comment (see :func:`analyse`).

    Features, explanations, reputation and the feedback-matching hash all read this one result
    instead of normalising and URL-scanning the content each on their own.
    """

    __slots__ = (
        "raw",
        "permalink",
        "content",
        "self_links",
        "plain",
        "spaced_letters",
        "urls",
        "prepared",
        "_domains",
        "_hash",
    )

    def __init__(self, raw: str, permalink: str):
        self.raw, self.permalink = raw, permalink
        content = normalise_text(raw)
        # Links to the page itself are a token, not a link: they say nothing about the linker.
        self.content, self.self_links = split_self_links(content, permalink)
        self.plain, self.spaced_letters = normalize.deobfuscate_with_signal(self.content)
        self.urls: tuple[str, ...] = tuple(find_urls(self.plain))
        # prepare_text normalises its input again; skip that when it provably changes nothing.
        self.prepared = (
            _finish_prepare(self.plain, bool(self.urls)) if is_normalised(self.content) else prepare_text(self.content)
        )
        self._domains: tuple[str, ...] | None = None
        self._hash: dict[str, str] = {}

    @property
    def link_domains(self) -> tuple[str, ...]:
        """Hosts of the linked URLs (``www.`` stripped), unique, in order of appearance."""
        if self._domains is None:
            self._domains = tuple(dict.fromkeys(d for d in map(url_domain, self.urls) if d))
        return self._domains

    def content_hash(self, author_email: str) -> str:
        """Identity of the comment for matching feedback that carries no GUID.

        Defined on the raw content (NFKC, casefolded, whitespace collapsed), not on
        :attr:`content`: hashes stored by earlier versions must keep matching.
        """
        value = self._hash.get(author_email)
        if value is None:
            text = " ".join(nfkc(self.raw).casefold().split())
            key = "\x1f".join((text, author_email.strip().lower()))
            value = self._hash[author_email] = hashlib.sha256(key.encode()).hexdigest()
        return value


def analyse(comment: Comment) -> Analysis:
    """The comment's :class:`Analysis`, memoised on the instance while its content and permalink are unchanged."""
    cached: Analysis | None = vars(comment).get("_analysis")
    if cached is not None and cached.raw == comment.comment_content and cached.permalink == comment.permalink:
        return cached
    result = Analysis(comment.comment_content, comment.permalink)
    vars(comment)["_analysis"] = result  # not a dataclass field: invisible to asdict/to_json/eq
    return result


def comment_text(comment: Comment) -> str:
    return analyse(comment).prepared


# --------------------------------------------------------------------------- metadata

NUMERIC_META = (
    "n_links",
    "self_links",
    "length",
    "caps_ratio",
    "punct_ratio",
    "exclamations",
    "max_repeat",
    "has_author_url",
    "has_email",
    "author_urlish",
    "has_user_agent",
    "ua_bot",
    "has_referrer",
    "honeypot_filled",
    "post_age_days",
    "post_age_known",
    # Obfuscation and host lists (normalize.py); absent from the public corpora's ham, so their
    # weights come from the few corpus rows that have them and from site feedback.
    "mixed_script_words",
    "spaced_letters",
    "spelled_out_dot",
    "link_shorteners",
    "link_referrer_spam",
    "link_referral",
    "email_disposable",
    "blocklist_terms",
    "link_blocklist",
    # Money, investment vocabulary, off-site contact, self-promotion, earning promises and urgency
    # (behaviour.py): what every corpus's scams share.
    *behaviour.COLUMNS,
    *signals.NAMES,
)


DOMAIN_LISTS = ("shorteners", "referrer_spam", "blocklist")
# BBCode link markup ("[url=http://…]…[/url]", "[url]www.…[/url]"): a blog does not render it, so a blog
# comment that carries it is a forum bot's payload (a prior in signals.py).  The opening tag must lead to
# an address and a closing tag must follow, so code such as "cache[url] = page" is not it.  Forum posts
# and replies, where it is the markup, are exempt.
_BBCODE_OPEN_RE = re.compile(r"\[(?:url|link)(?:=\s*+[\"']?+|\]\s*+)(?:https?:|www\.)", re.IGNORECASE)
_BBCODE_CLOSE_RE = re.compile(r"\[/(?:url|link)\]", re.IGNORECASE)
FORUM_TYPES = frozenset({"forum-post", "reply"})
# Prose length saturates where the training ham ends (issue 11): Stack Exchange caps comments at 600
# characters and only 13 of the 16,449 training ham are longer (32 spam are: Instagram scam is long).
# Uncapped, "longer ⇒ spam" was extrapolated from spam alone, and long blog ham (tracebacks, reviews)
# scored as spam on length.
LENGTH_CAP_CHARS = 600


_ASCII = [chr(i) for i in range(128)]
# The ASCII letters, upper-case letters and punctuation, as bytes for bytes.translate's delete.
_ASCII_CLASSES = tuple(
    "".join(filter(test, _ASCII)).encode("ascii")
    for test in (str.isalpha, str.isupper, lambda c: unicodedata.category(c).startswith("P"))
)


_SYMBOL_RE = re.compile(r"[^\w\s]")


def _char_counts(text: str) -> tuple[int, int, int]:
    """Letters, upper-case letters and punctuation (Unicode category P) in ``text``.

    ASCII text is counted by deleting each class from its bytes (``bytes.translate``, a C table
    lookup per byte); anything else character by character.
    """
    if text.isascii():
        data = text.encode("ascii")
        n = len(data)
        delete = data.translate
        letter_bytes, upper_bytes, punct_bytes = _ASCII_CLASSES  # unrolled: a generator cost more
        return (
            n - len(delete(None, letter_bytes)),
            n - len(delete(None, upper_bytes)),
            n - len(delete(None, punct_bytes)),
        )
    letters = list(filter(str.isalpha, text))
    # Every punctuation character is "_" or matched by [^\w\s] (the test checks all of Unicode), so
    # only those few are looked up, not every character.
    symbols = _SYMBOL_RE.findall(text)
    return (
        len(letters),
        sum(map(str.isupper, letters)),
        text.count("_") + sum(unicodedata.category(c).startswith("P") for c in symbols),
    )


def meta_dict(comment: Comment) -> dict[str, float]:
    """Raw (unscaled) metadata of one comment. 0 / absent means 'missing' and is neutral."""
    analysis = analyse(comment)
    content = analysis.content
    features: dict[str, float] = {}
    if analysis.self_links:
        features["self_links"] = 1.0
    features.update(normalize.obfuscation_signals(content, analysis.spaced_letters))
    plain = analysis.plain
    # Comment-bot phrases ("buy cheap", "online casino"): learnable from every corpus's spam, so the
    # weight transfers to spam kinds no corpus holds (pharma, casino, SEO).  One-word entries in a
    # column of their own were measured (docs/measurements.md, "Behaviour features"): mixed, not adopted.
    words = normalize.phrase_words(plain)
    phrases = len(normalize.blocklist_found(plain, words))
    if phrases:
        features["blocklist_terms"] = math.log1p(phrases)
    features.update(behaviour.behaviour_signals(plain, words))
    urls = analysis.urls
    if urls:
        features["n_links"] = math.log1p(len(urls))
        if any(map(referral_link, urls)):
            features["link_referral"] = 1.0
        for domain in analysis.link_domains:
            if domain:
                features[f"link_domain={domain}"] = 1.0
                for name in DOMAIN_LISTS:
                    if normalize.in_list(domain, name):
                        features[f"link_{name}"] = 1.0
    # Shape is measured on the prose: a bare 90-character link is not a "long comment", and its
    # digits and slashes are not the writer's style (held-out Stack Exchange ham that was only a link
    # scored as spam on length alone).
    content = " ".join((_URL_RE.sub(" ", plain) if urls else plain).split())  # no URLs found: nothing to cut
    n = len(content)
    features["length"] = math.log1p(min(n, LENGTH_CAP_CHARS))
    # No digit ratio: it stood in for SMS phone numbers, short codes and prices, which behaviour.py now
    # names, and otherwise marked view counts, years and version numbers (docs/measurements.md).
    letters, upper, punct = _char_counts(content)
    if letters >= 5:
        features["caps_ratio"] = upper / letters
    if n:
        features["punct_ratio"] = punct / n
    if "!" in content:
        features["exclamations"] = math.log1p(content.count("!"))
    first = _REPEAT_RE.search(content)  # most comments have no run: one scan, no list
    if first:
        runs = [len(m.group(0)) for m in _REPEAT_RE.finditer(content, first.start())]
        features["max_repeat"] = math.log1p(max(runs) - 2)
    if comment.comment_author_url.strip():
        features["has_author_url"] = 1.0
    email = comment.comment_author_email.strip().lower()
    if email:
        features["has_email"] = 1.0
        if "@" in email:
            domain = email.rsplit("@", 1)[1]
            features[f"email_domain={domain}"] = 1.0
            if normalize.in_list(domain, "disposable_email"):
                features["email_disposable"] = 1.0
    author = comment.comment_author or ""
    if may_hold_url(author) and _URL_RE.search(author):
        features["author_urlish"] = 1.0
    if comment.user_agent.strip():
        features["has_user_agent"] = 1.0
        if _BOT_UA_RE.search(comment.user_agent):
            features["ua_bot"] = 1.0
    if comment.referrer.strip():
        features["has_referrer"] = 1.0
    if comment.comment_type.strip():
        features[f"comment_type={comment.comment_type.strip().lower()}"] = 1.0
    if comment.honeypot_hit:
        features["honeypot_filled"] = 1.0
    raw = comment.comment_content
    if (
        "[" in raw
        and _BBCODE_OPEN_RE.search(raw)
        and _BBCODE_CLOSE_RE.search(raw)
        and comment.comment_type.strip().lower() not in FORUM_TYPES
    ):
        features["bbcode_links"] = 1.0
    features.update(signals.request_signals(comment))
    if comment.comment_date_gmt and comment.comment_post_modified_gmt:
        days = (comment.comment_date_gmt - comment.comment_post_modified_gmt).total_seconds() / 86400.0
        features["post_age_days"] = math.log1p(max(days, 0.0))
        features["post_age_known"] = 1.0
    return features


# The sklearn transformers live in transformers.py (serving never imports sklearn); these names stay
# resolvable here, imported on first use, because pickled models written before the move refer to them.
_MOVED = ("CommentText", "MetaFeatures", "make_features")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from spamguard.scoring import transformers

        return getattr(transformers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

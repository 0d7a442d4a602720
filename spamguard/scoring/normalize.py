"""De-obfuscation shared by training and serving: what spammers do to hide words and domains.

:func:`deobfuscate` runs on the (already transport-normalised) comment before it is casefolded
and vectorised, so ``F o l l o w  m e``, ``example(dot)com``, ``★★★FreeFilmsHere.comX★★★``,
``#StreamTheNewAlbumNow`` and Cyrillic look-alikes inside Latin words reach the model as the
words and domains they stand for.  Leetspeak inside words is undone later, in
``features.prepare_text`` (it needs the casefolded text).

Every pattern is linear-time: bounded repetitions, no nested or overlapping quantifiers, and
input capped at :data:`MAX_CHARS` before any work.  Signals that the folding itself erases
(mixed scripts inside one word, spaced-out letters) are counted by :func:`obfuscation_signals`
*before* folding, for the metadata features.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from spamguard.scoring.stopwords import ENGLISH_STOP_WORDS

MAX_CHARS = 20_000

# Common TLDs spammers spell out; a closed list keeps "dot"/". com" rewriting from firing on prose.
TLDS = (
    "com",
    "net",
    "org",
    "info",
    "biz",
    "ru",
    "cn",
    "ly",
    "gl",
    "co",
    "io",
    "me",
    "tk",
    "uk",
    "us",
    "tv",
    "xyz",
    "top",
    "online",
    "site",
    "club",
    "shop",
    "store",
    "live",
    "pro",
    "link",
    "click",
    "win",
    "fun",
    "app",
    "ws",
    "cc",
    "in",
    "de",
    "fr",
    "pl",
    "su",
    "ua",
)
_TLD = "(?:" + "|".join(sorted(TLDS, key=len, reverse=True)) + ")"

# "example(dot)com", "example [dot] com", "example dot com", "example DOT com".
_BRACKET_DOT_RE = re.compile(
    r"\b([a-z0-9-]{1,63}) {0,3}[(\[{<] {0,2}dot {0,2}[)\]}>] {0,3}(" + _TLD + r")\b", re.IGNORECASE
)
_WORD_DOT_RE = re.compile(r"\b(?!(?:the|a|an) )([a-z0-9-]{1,63}) {1,3}dot {1,3}(" + _TLD + r")\b", re.IGNORECASE)
# "ExampleDOTcom": the upper-case DOT glued between two words.
_GLUED_DOT_RE = re.compile(r"\b([A-Za-z0-9-]{1,63}?)(?-i:DOT)(" + _TLD + r")\b", re.IGNORECASE)
# "example. com" / "example .com": only a lower-case TLD, so "It works. Net effect" stays prose.
_SPACED_DOT_RE = re.compile(r"\b([a-z0-9-]{2,63})(?: {1,2}\. {0,2}|\. {1,2})(" + _TLD + r")\b")
# What every _SPACED_DOT_RE match holds (its spaced dot and the TLD): a scan that starts only at a
# space or a dot, ~4x cheaper than the pattern, which is tried at every word of the many texts with a ".".
_SPACED_DOT_HINT_RE = re.compile(r"(?: \. {0,2}|\. {1,2})" + _TLD + r"\b")
# "FreeFilmsHere.comX": one or two capitals glued after the TLD.
_GLUED_TLD_RE = re.compile(r"(\.(?:" + _TLD + r"))([A-Z]{1,2})(?![A-Za-z])")
# "F o l l o w  m e", "s.u.b.s.c.r.i.b.e": 4+ single letters with one separator each; a wider gap splits words.
_SPACED_LETTERS_RE = re.compile(r"(?<![^\W\d_])[^\W\d_](?:(?: {1,3}|[.*_-])[^\W\d_](?![^\W\d_])){3,}")
_DOT_RE = re.compile("dot", re.IGNORECASE)  # in every match of the three patterns above


def _has_dot(text: str) -> bool:
    """Whether ``_DOT_RE`` matches: in ASCII text only "dot" in any case can (``in`` on the lower-cased
    text is ≈ 3x cheaper than the case-insensitive pattern); other text keeps the pattern's Unicode rules."""
    return "dot" in text.lower() if text.isascii() else _DOT_RE.search(text) is not None


_HASHTAG_RE = re.compile(r"#([A-Za-z0-9]{2,100})\b")
_CAMEL_RE = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z]|\b|\d)|[A-Z]?[a-z]+|[A-Z]+|\d+")

# Latin look-alikes from Cyrillic and Greek (the letters bots actually mix into Latin words).
CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "х": "x",
        "у": "y",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "һ": "h",
        "ԛ": "q",
        "ԝ": "w",
        "ɡ": "g",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
        "У": "Y",
        "І": "I",
        "Ѕ": "S",
        "Ј": "J",
        "α": "a",
        "ο": "o",
        "ν": "v",
        "ρ": "p",
        "τ": "t",
        "ι": "i",
        "κ": "k",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Ζ": "Z",
        "Η": "H",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Υ": "Y",
        "Χ": "X",
    }
)
# Small-capital letters ("ᴄᴏɴᴛᴀᴄᴛ ᴍᴇ"): text generators offer them as a "font"; NFKC keeps them, so
# a word written in them shares no n-gram with the plain word.  Folded like the look-alikes above, but
# not counted as mixed-script: a whole comment in the "font" would drown the few-words count.
SMALL_CAPITALS = dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnoprstuvwyz", strict=True))
CONFUSABLES.update(str.maketrans(SMALL_CAPITALS))
_SMALL_CAPITALS_SET = frozenset(SMALL_CAPITALS)
_WORD_RE = re.compile(r"[^\W\d_]{2,64}")


def _script(char: str) -> str:
    if char < "\u0250":
        return "latin"
    name = unicodedata.name(char, "")
    return "cyrillic" if name.startswith("CYRILLIC") else "greek" if name.startswith("GREEK") else "other"


def _mixed(word: str) -> bool:
    # A word all below U+0250 is all Latin, one all above holds no Latin: neither is mixed, and
    # min/max decide that without naming each character's script.
    if max(word) < "\u0250" or min(word) >= "\u0250":
        return False
    scripts = {_script(c) for c in word}
    return "latin" in scripts and bool(scripts & {"cyrillic", "greek"})


def _fold_mixed(match: re.Match[str]) -> str:
    word = match.group(0)
    return word.translate(CONFUSABLES) if _mixed(word) or not _SMALL_CAPITALS_SET.isdisjoint(word) else word


def _join_letters(match: re.Match[str]) -> str:
    run = match.group(0)
    if not any(sep in run for sep in ".*_-") and "  " not in run and len(run) < 9:
        return run  # "a b c d": too short and too regular to be sure it is one word
    words = re.split(r" {2,3}", run)
    return " ".join(re.sub(r"[ .*_-]", "", w) for w in words)


def _split_hashtag(match: re.Match[str]) -> str:
    parts = _CAMEL_RE.findall(match.group(1))
    return "# " + " ".join(parts) if len(parts) > 1 else match.group(0)


def _space_glued_tld(match: re.Match[str]) -> str:
    return f"{match[1]} {match[2]}"


def _space_symbols(text: str) -> str:
    """Put spaces around runs of pictographic symbols (★, ►, emoji) so they stop gluing words together."""
    out: list[str] = []
    prev_symbol = False
    for char in text:
        symbol = char > "\u2000" and unicodedata.category(char) in ("So", "Sm", "Sk")
        if symbol != prev_symbol and out:
            out.append(" ")
        out.append(char)
        prev_symbol = symbol
    return "".join(out)


def deobfuscate(text: str) -> str:
    """The comment with obfuscated words and domains written plainly (see the module docstring)."""
    return deobfuscate_with_signal(text)[0]


def deobfuscate_with_signal(text: str) -> tuple[str, bool | None]:
    """:func:`deobfuscate`, and for ASCII text whether it holds a spaced-out run of 9+ characters
    (:func:`obfuscation_signals`' ``spaced_letters``, found by the same scan); None for other text,
    whose scan here runs on the folded text."""
    text = (text or "")[:MAX_CHARS]
    if not text:
        return "", False
    spaced: bool | None = None
    if text.isascii():  # ASCII has no look-alike letters to fold and no symbols to space out
        longest = 0

        def join(match: re.Match[str]) -> str:
            nonlocal longest
            longest = max(longest, len(match[0]))
            return _join_letters(match)

        text = _SPACED_LETTERS_RE.sub(join, text)
        spaced = longest >= 9
    else:
        text = _SPACED_LETTERS_RE.sub(_join_letters, _space_symbols(_WORD_RE.sub(_fold_mixed, text)))
    if _has_dot(text):  # each pattern needs its literal: skip the scans when it is absent
        text = _BRACKET_DOT_RE.sub(r"\1.\2", text)
        text = _WORD_DOT_RE.sub(r"\1.\2", text)
        text = _GLUED_DOT_RE.sub(r"\1.\2", text)
    if "." in text:
        if _SPACED_DOT_HINT_RE.search(text):
            text = _SPACED_DOT_RE.sub(r"\1.\2", text)
        # A function, not the template r"\1 \2": a template is parsed again (re._subx) on every call.
        text = _GLUED_TLD_RE.sub(_space_glued_tld, text)
    if "#" in text:  # in every _HASHTAG_RE match
        text = _HASHTAG_RE.sub(_split_hashtag, text)
    return text, spaced


def obfuscation_signals(text: str, spaced_letters: bool | None = None) -> dict[str, float]:
    """Counts of obfuscation that folding erases: mixed-script words, spaced-out letters, spelled-out dots.

    ``spaced_letters``: what :func:`deobfuscate_with_signal` found for this text, if it did (its scan
    is then not repeated).
    """
    text = (text or "")[:MAX_CHARS]
    out: dict[str, float] = {}
    mixed = 0 if text.isascii() else sum(_mixed(m.group(0)) for m in _WORD_RE.finditer(text))
    if mixed:
        out["mixed_script_words"] = float(mixed)
    if spaced_letters is None:
        spaced_letters = any(len(m.group(0)) >= 9 for m in _SPACED_LETTERS_RE.finditer(text))
    if spaced_letters:
        out["spaced_letters"] = 1.0
    if _has_dot(text) and (_BRACKET_DOT_RE.search(text) or _WORD_DOT_RE.search(text) or _GLUED_DOT_RE.search(text)):
        out["spelled_out_dot"] = 1.0
    return out


# --------------------------------------------------------------------------- domain lists

LISTS_DIR = Path(__file__).resolve().parent / "lists"


@functools.cache
def domain_list(name: str) -> frozenset[str]:
    """A bundled host list (see lists/README.md): lower-case hosts, comments and blanks skipped."""
    path = LISTS_DIR / f"{name}.txt"
    if not path.exists():
        return frozenset()
    hosts = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip().strip("/").lower()
        if line and not line.startswith("#"):
            hosts.add(line.removeprefix("www."))
    return frozenset(hosts)


def in_list(host: str, name: str) -> bool:
    """True when ``host`` or one of its parent domains is on the list (at most 8 look-ups)."""
    hosts = domain_list(name)
    labels = host.lower().removeprefix("www.").split(".")[-8:]
    return any(".".join(labels[i:]) in hosts for i in range(len(labels) - 1))


# --------------------------------------------------------------------------- comment-bot phrases

# Entries of the comment-bot blocklist (lists/blocklist.txt, splorp/wordpress-comment-blacklist) are
# substring rules for names, e-mails and URLs; only the plain ASCII word sequences (1-3 words, at
# least 4 characters) are used here, as whole words: a *count* feature whose weight the model learns
# (never a label or a rule: the list over-blocks ham).  Non-ASCII entries are skipped so that
# "non-Latin script ⇒ spam" cannot enter through them; the list's most frequent ham hits (informal
# spellings and fragments measured in its README) are dropped.  A multi-word entry needs at least
# two words that are not stop words: "clicking it" or "with your web" is one ordinary word padded with
# function words, no more specific than that word alone (which, if it were a signature, would be an
# entry of its own); such entries fire on everyday prose (docs/measurements.md, "Out-of-domain candidates").
_PHRASE_ENTRY_RE = re.compile(r"[a-z0-9]++(?: [a-z0-9]++){0,2}")
# Words keep inner apostrophes ("doesn't" is not the entry "doesn t"); URL parts are not phrases.
_PHRASE_WORD_RE = re.compile(r"[^\W_]++(?:['’][^\W_]++)*+")
_URL_WORDS = frozenset({"http", "https", "www", "com", "net", "org", "html", "php"})
_HAM_HITTERS = frozenset({"didnt", "doesnt", "dont know", "im not", "lol i", "hi hi", "long long", "code generat"})
# Names of large, legitimate exchanges: their users name them in complaints and questions ("my coinbase
# account was restricted", "Binance API rate limits"); the list's crypto spam keeps its glued names.
_LEGITIMATE_NAMES = frozenset({"binance", "coinbase"})
# Words that count as function words for MIN_CONTENT_WORDS besides the stop words: "using" works as a
# preposition in technical prose ("a webpage using Hugo", "a site using React").
_FUNCTION_LIKE = frozenset({"using"})
MAX_PHRASE_WORDS = 3
MIN_CONTENT_WORDS = 2


@functools.cache
def blocklist_phrases() -> frozenset[str]:
    path = LISTS_DIR / "blocklist.txt"
    if not path.exists():
        return frozenset()
    phrases = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = " ".join(line.strip().lower().split())
        if (
            len(entry) >= 4
            and _PHRASE_ENTRY_RE.fullmatch(entry)
            and entry not in _HAM_HITTERS
            and entry not in _LEGITIMATE_NAMES
            and len(set(entry.replace(" ", ""))) > 2
            and not _URL_WORDS.intersection(words := entry.split())
            and (
                len(words) == 1
                or sum(w not in ENGLISH_STOP_WORDS and w not in _FUNCTION_LIKE for w in words) >= MIN_CONTENT_WORDS
            )
        ):
            phrases.add(entry)
    return frozenset(phrases)


@functools.cache
def _phrase_followers() -> dict[str, frozenset[str]]:
    """Each proper prefix of a blocklist phrase ("buy", "buy cheap") → the words that follow it in some phrase."""
    followers: dict[str, set[str]] = {}
    for phrase in blocklist_phrases():
        words = phrase.split(" ")
        for n in range(1, len(words)):
            followers.setdefault(" ".join(words[:n]), set()).add(words[n])
    return {prefix: frozenset(words) for prefix, words in followers.items()}


# ASCII characters that end a phrase word (all but letters, digits and the apostrophe), as spaces.
_ASCII_NON_WORD = str.maketrans(
    dict.fromkeys((chr(i) for i in range(128) if not chr(i).isalnum() and chr(i) != "'"), " ")
)


# Endings that take "es" in the plural ("watch" → "watches", "box" → "boxes").
_ES_PLURAL_ENDINGS = ("ch", "sh", "s", "x", "z")


@functools.cache
def _plural_phrases() -> frozenset[str]:
    """The plurals of the one-word blocklist phrases ("s", and "es" after ch/sh/s/x/z)."""
    return frozenset(
        plural
        for phrase in blocklist_phrases()
        if " " not in phrase
        for plural in ((phrase + "s", phrase + "es") if phrase.endswith(_ES_PLURAL_ENDINGS) else (phrase + "s",))
    )


def _singulars(word: str, options: frozenset[str]) -> list[str]:
    """The singulars of ``word`` (a plural "s", then "es" dropped) that are in ``options``, in that order."""
    if word[-1] != "s":
        return []
    out = [word[:-1]] if word[:-1] in options else []
    if word[-2:] == "es" and word[:-2] in options and word[:-2].endswith(_ES_PLURAL_ENDINGS):
        out.append(word[:-2])
    return out


def phrase_words(text: str) -> list[str]:
    """The casefolded words of ``text`` (inner apostrophes kept) that blocklist entries are matched on.

    ASCII text is cut into runs of letters, digits and apostrophes by ``str.translate`` and ``split``
    (C loops, cheaper than the pattern); only a run holding an apostrophe goes through the pattern,
    which no match crosses a run's end.
    """
    text = (text or "")[:MAX_CHARS].casefold()
    if not text.isascii():
        return _PHRASE_WORD_RE.findall(text)
    runs = text.translate(_ASCII_NON_WORD).split()
    if "'" not in text:
        return runs
    return [word for run in runs for word in (_PHRASE_WORD_RE.findall(run) if "'" in run else (run,))]


def blocklist_hits(text: str) -> int:
    """How many distinct blocklist entries :func:`blocklist_found` finds in ``text``."""
    return len(blocklist_found(text))


def blocklist_found(text: str, words: list[str] | None = None) -> set[str]:
    """Distinct comment-bot phrases in ``text`` as whole words (casefolded; a plural "s" / "es" is ignored).

    Linear: one-word phrases by set intersection; longer ones by walking forward from each word
    while the words so far begin some phrase (at most ``MAX_PHRASE_WORDS`` steps), so an n-gram is
    only built when it can still be, or end, a phrase.  An n-gram that is not a phrase counts as its
    singular when it ends in a plural "s" or "es" and that is one.
    """
    phrases = blocklist_phrases()
    if words is None:  # the caller may pass phrase_words(text), computed once for several uses
        words = phrase_words(text)
    unique = set(words)
    found = unique & phrases
    for word in (unique & _plural_phrases()) - found:
        found.add(_singulars(word, phrases)[0])
    followers = _phrase_followers().get
    # map() looks every word up in C.  Most words start no phrase, and of those that do, most are not
    # followed by a word that continues one (nor by its plural): neither builds a slice or n-gram.  The
    # last word has no word after it to walk to.
    for i, (options, after) in enumerate(zip(map(followers, words), words[1:], strict=False)):
        if options is None or (after not in options and (after[-1] != "s" or not _singulars(after, options))):
            continue
        prefix = words[i]
        for word in words[i + 1 : i + MAX_PHRASE_WORDS]:
            if word in options and (gram := f"{prefix} {word}") in phrases:
                found.add(gram)
            else:
                for singular in _singulars(word, options):
                    if (gram := f"{prefix} {singular}") in phrases:
                        found.add(gram)
                        break
            if word not in options:
                break
            prefix = f"{prefix} {word}"
            options = followers(prefix)
            if options is None:
                break
    return found

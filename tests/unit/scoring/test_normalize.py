"""De-obfuscation rules (spamguard/scoring/normalize.py): adversarial examples per rule, ham left alone."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from work_count import SLACK, assert_linear, lines_run

from spamguard.comment import Comment
from spamguard.scoring import normalize
from spamguard.scoring.features import find_urls, meta_dict, prepare_text
from spamguard.scoring.normalize import MAX_CHARS, blocklist_hits, deobfuscate, in_list, obfuscation_signals


@pytest.mark.parametrize(
    "text, expected",
    [
        ("F o l l o w  m e on insta", "Follow me on insta"),
        ("s.u.b.s.c.r.i.b.e to my channel", "subscribe to my channel"),
        ("f*r*e*e  m*o*n*e*y", "free money"),
        ("C H E C K  O U T  my page", "CHECK OUT  my page"),
    ],
)
def test_spaced_letters_are_joined(text, expected):
    assert deobfuscate(text) == expected


@pytest.mark.parametrize(
    "ham", ["a b c d", "I love the U.S.A. and so do you", "Plan A or B, then C", "x = a * b - c", "Section 4 b"]
)
def test_ordinary_text_with_single_letters_is_unchanged(ham):
    assert deobfuscate(ham) == ham


@pytest.mark.parametrize(
    "text",
    [
        "visit ExampleDOTcom now",
        "go to example(dot)com",
        "go to example [dot] net",
        "example dot com has it",
        "see example. com",
        "see example .com today",
        "example {dot} org",
    ],
)
def test_spelled_out_domains_become_links(text):
    urls = find_urls(deobfuscate(text))
    assert len(urls) == 1 and urls[0].lower().startswith("example.")
    assert "urlx" in prepare_text(text)


@pytest.mark.parametrize(
    "ham", ["It works. Net effect is small", "the dot com bubble burst", "a red dot on it", "I wrote it down. Com'on"]
)
def test_prose_about_dots_is_not_a_link(ham):
    assert find_urls(deobfuscate(ham)) == []


def test_symbol_decorated_domain_is_found():
    text = "★★★FreeFilmsHere.comX★★★ watch all"
    assert find_urls(text) == []  # what the old pipeline saw: no link at all
    assert [u.lower() for u in find_urls(deobfuscate(text))] == ["freefilmshere.com"]
    assert meta_dict(Comment(comment_content=text)).get("n_links", 0) > 0


def test_hashtags_are_split_into_words():
    assert deobfuscate("#StreamTheNewAlbumNow") == "# Stream The New Album Now"
    assert "album" in prepare_text("#StreamTheNewAlbumNow").split()
    assert deobfuscate("#python rocks") == "#python rocks"  # one word: unchanged


def test_confusables_are_folded_only_inside_mixed_script_words():
    assert deobfuscate("Get frее mоney via Рауpal") == "Get free money via Paypal"
    assert deobfuscate("привет друг, как дела") == "привет друг, как дела"  # all Cyrillic: left alone
    assert obfuscation_signals("Get frее mоney")["mixed_script_words"] == 2
    assert "mixed_script_words" not in obfuscation_signals("привет друг")


def test_small_capitals_are_folded_but_not_counted_as_mixed_script():
    assert deobfuscate("ᴄᴏɴᴛᴀᴄᴛ ᴍᴇ ɴᴏᴡ, ꜱᴛᴀʀᴛᴇᴅ ᴛʜen") == "contact me now, started then"
    assert "mixed_script_words" not in obfuscation_signals("ᴄᴏɴᴛᴀᴄᴛ ᴍᴇ ɴᴏᴡ")  # a "font", not look-alikes
    assert deobfuscate("IPA /bɪt/, ʁ and ɪ") == "IPA /bit/, ʁ and ɪ"  # IPA's ɪ folds (harmless); one letter is no word


def test_zero_width_characters_and_leetspeak_are_undone_before_the_vectorisers():
    assert "subscribe" in prepare_text("sub\u200bscr\u200cibe")
    assert "free" in prepare_text("fr33 stuff") and "cash" in prepare_text("c4$h")


def test_signals_survive_folding():
    signals = obfuscation_signals("F o l l o w  m e at example(dot)com")
    assert signals == {"spaced_letters": 1.0, "spelled_out_dot": 1.0}
    assert obfuscation_signals("A perfectly ordinary comment.") == {}


def test_domain_lists_match_hosts_and_parents():
    assert in_list("bit.ly", "shorteners")
    assert in_list("www.bit.ly", "shorteners")
    assert not in_list("example.org", "shorteners")
    assert in_list("mailinator.com", "disposable_email")
    features = meta_dict(Comment(comment_content="win at http://bit.ly/x", comment_author_email="a@mailinator.com"))
    assert features["link_shorteners"] == 1.0 and features["email_disposable"] == 1.0


@pytest.mark.parametrize(
    "unit",
    ["a ", "a.", "Ab", "DO", "dot ", "★a", "а", "ᴀ"],
)
def test_hostile_input_is_capped_and_linear(unit):
    """Counted work, not CPU seconds (tests/work_count.py): 4x the input runs ~4x the Python lines, and
    input past MAX_CHARS costs nothing more."""
    heads = {"Ab": "#", "DO": "x" * 63, "dot ": "example ", "а": ""}  # the attack's own prefix

    def attack(n: int) -> str:
        return (heads.get(unit, "") + unit * n)[:n]

    def both(text: str) -> None:
        deobfuscate(text)
        obfuscation_signals(text)

    assert len(deobfuscate(attack(100_000))) <= 2 * MAX_CHARS
    assert_linear(both, attack, MAX_CHARS // 4, unit)
    at_cap, far_past = lines_run(both, attack(MAX_CHARS)), lines_run(both, attack(5 * MAX_CHARS))
    assert far_past <= at_cap * 1.1 + SLACK, f"{at_cap} lines at the cap, {far_past} at 5x: not capped"


def test_mixed_scripts_attack_is_capped():
    def both(text: str) -> None:
        deobfuscate(text)
        obfuscation_signals(text)

    text = "а" * 25_000 + "a" * 25_000  # Cyrillic, then Latin
    assert len(deobfuscate(text)) <= 2 * MAX_CHARS
    assert lines_run(both, text) <= lines_run(both, text[:MAX_CHARS]) * 1.1 + SLACK


@pytest.mark.parametrize(
    "spam, phrase_count",
    [
        ("Buy cheap viagra online now", 2),  # "buy cheap", "viagra"
        ("Great post! best online casino bonus here", 4),
        ("PAYDAY LOANS today", 1),  # case and a plural "s"
        ("Cheap replica watches", 1),  # a plural "es": "replica watch"
    ],
)
def test_comment_bot_phrases_are_counted_as_whole_words(spam, phrase_count):
    assert blocklist_hits(spam) == phrase_count


@pytest.mark.parametrize(
    "ham",
    [
        "It doesn't fit, see http://www.example.org/manual",  # URL parts, apostrophes
        "wow, 20 million subscribers already",
        "The casinos of Monaco",
        "I didnt know that",
        "viagrafalls is not a word",
    ],
)
def test_ham_and_word_fragments_do_not_count(ham):
    assert blocklist_hits(ham) == 0


def test_blocklist_features_reach_the_model():
    meta = meta_dict(Comment(comment_content="buy cheap viagra at http://0-100.ru/ today"))
    assert meta["blocklist_terms"] > 0
    assert blocklist_hits("x " * MAX_CHARS) == 0  # capped input, nothing to find


def _naive_blocklist_hits(text: str) -> int:
    """Every 1-3 word n-gram looked up, with and without a plural "s" / "es" (the definition)."""
    phrases = normalize.blocklist_phrases()
    words = normalize._PHRASE_WORD_RE.findall(text[:MAX_CHARS].casefold())
    found = set()
    for i in range(len(words)):
        for n in range(1, normalize.MAX_PHRASE_WORDS + 1):
            if i + n > len(words):
                break
            gram = " ".join(words[i : i + n])
            if gram in phrases:
                found.add(gram)
            elif gram.endswith("s") and gram[:-1] in phrases:
                found.add(gram[:-1])
            elif gram.endswith(("ches", "shes", "ses", "xes", "zes")) and gram[:-2] in phrases:
                found.add(gram[:-2])
    return len(found)


def test_blocklist_hits_match_the_plain_ngram_scan():
    """The head-word shortcut finds exactly what looking up every n-gram finds."""
    phrases = sorted(normalize.blocklist_phrases())
    rng = random.Random(7)
    vocabulary = [w for p in phrases for w in p.split()] + ["the", "s", "news", "cheap", "a", "loans"]
    for _ in range(300):
        words = [rng.choice(vocabulary) + rng.choice(["", "", "s", "S", "'s", "es"]) for _ in range(rng.randint(0, 40))]
        words += [rng.choice(phrases) + rng.choice(["", "s", "es"]) for _ in range(rng.randint(0, 3))]
        rng.shuffle(words)
        text = rng.choice([" ", "  ", ", ", "-"]).join(words)
        assert blocklist_hits(text) == _naive_blocklist_hits(text), text


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.sampled_from(["ab", "x", "-", "0", " ", "  ", ".", ". ", " .", "com", "net", "in", "A", "\n", "é"]),
        max_size=14,
    ).map("".join)
    | st.text(alphabet="ab .cmoint-", max_size=30)
)
def test_spaced_dot_hint_holds_for_every_match(text):
    """deobfuscate runs _SPACED_DOT_RE only where its hint matches: the hint must match wherever it does."""
    if normalize._SPACED_DOT_RE.search(text):
        assert normalize._SPACED_DOT_HINT_RE.search(text), text


def test_spaced_dots_still_joined():
    assert deobfuscate("visit example. com or example .net today") == "visit example.com or example.net today"


SPACED_PIECES = ["F o l l o w", "  m e", "s.u.b.s.c.r.i.b.e", "a b c d", " ", "  ", "   ", "x", "ab", "-", "*", "_", ".", "é", "ж", "1"]  # fmt: skip


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(SPACED_PIECES), max_size=12).map("".join) | st.text(max_size=30))
def test_spaced_letters_found_while_deobfuscating_equal_their_own_scan(text):
    """Analysis passes deobfuscate's finding to obfuscation_signals instead of scanning the text again."""
    plain, spaced = normalize.deobfuscate_with_signal(text)
    assert plain == deobfuscate(text)
    assert spaced is None or obfuscation_signals(text, spaced) == obfuscation_signals(text)


def test_spaced_letters_signal_is_passed_on_when_found():
    assert normalize.deobfuscate_with_signal("F o l l o w  m e")[1] is True
    assert normalize.deobfuscate_with_signal("a b c d")[1] is False  # a run, too short to count
    assert normalize.deobfuscate_with_signal("ｆ o l l o w")[1] is None  # not ASCII: scanned after folding


@pytest.mark.parametrize(
    "ham",
    [
        # entries "clicking it", "with your web", "bookmarked it": one ordinary word padded with
        # function words, found on long forum ham (issue: blocklist phrases in technical prose)
        "After clicking it the settings dialog opens.",
        "Open the page with your web browser and reload.",
        "I bookmarked it for later.",
    ],
)
def test_entries_of_one_word_padded_with_stop_words_do_not_count(ham):
    assert blocklist_hits(ham) == 0


def test_padded_entries_are_on_the_list_but_not_counted():
    """The rule drops list entries (not text matches): the entries exist, specific ones still count."""
    lines = set((normalize.LISTS_DIR / "blocklist.txt").read_text(encoding="utf-8").splitlines())
    assert {"clicking it", "with your web", "bookmarked it"} <= lines
    phrases = normalize.blocklist_phrases()
    assert not {"clicking it", "with your web", "bookmarked it"} & phrases
    assert {"make money", "money online", "thanks for sharing", "viagra"} <= phrases


@pytest.mark.parametrize(
    "spam, phrase_count",
    [
        ("Learn how to make money online from home", 2),  # "make money", "money online"
        ("I read your blog and bookmarked it, thanks for sharing", 2),  # "read your blog", "thanks for sharing"
    ],
)
def test_bot_phrases_with_two_content_words_still_count(spam, phrase_count):
    assert blocklist_hits(spam) == phrase_count

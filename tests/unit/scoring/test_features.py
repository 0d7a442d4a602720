"""Shared features: normalisation, missing metadata is neutral, proper sklearn estimators."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from spamguard.comment import Comment
from spamguard.scoring import features
from spamguard.scoring.features import (
    meta_dict,
    normalise_text,
    prepare_text,
    split_self_links,
)
from spamguard.scoring.transformers import MetaFeatures, make_features


def test_normalise_text_repairs_transport_damage():
    assert normalise_text("I&#39;m here<br />now\ufeff") == "I'm here\nnow"
    assert normalise_text("that\x92s") == "that’s"
    assert normalise_text("ＦＲＥＥ") == "FREE"  # NFKC folds full-width letters
    assert normalise_text('see <a href="http://x.example/a">this</a>') == "see  http://x.example/a this"


def test_prepare_text_handles_obfuscation_urls_and_numbers():
    text = prepare_text("FR33 C4$H at www.bit.ly/abc call 09061701461 in 2015")
    assert "free" in text and "cash" in text
    assert "urlx" in text and "bit.ly" not in text
    assert "00000000000" in text and "2015" in text


def test_missing_metadata_gives_an_all_zero_meta_row():
    corpus = [Comment(comment_content=t) for t in ("hello there", "buy cheap pills now", "nice song")]
    meta = MetaFeatures(min_count=1).fit(corpus)
    bare = Comment(comment_content="hello there")
    full = Comment(comment_content="hello there", user_agent="", referrer="", comment_author_email="")
    assert (meta.transform([bare]) != meta.transform([full])).nnz == 0
    d = meta_dict(bare)
    for key in (
        "has_email",
        "has_user_agent",
        "has_referrer",
        "has_author_url",
        "honeypot_filled",
        "post_age_days",
        "post_age_known",
        "n_links",
    ):
        assert key not in d  # missing = 0 = neutral; there are no "missing" indicator columns
    assert not any(k.endswith("_missing") for k in meta.vocabulary_)


def test_metadata_present_is_captured():
    now = datetime(2026, 1, 10, tzinfo=UTC)
    c = Comment(
        comment_content="visit http://bit.ly/x and http://spam.example/y",
        comment_author_email="a@mail.ru",
        user_agent="python-requests/2.0",
        referrer="http://r.example",
        comment_type="comment",
        honeypot_field_name="hp",
        honeypot_value="filled",
        comment_author="www.cheap-pills.com",
        comment_date_gmt=now,
        comment_post_modified_gmt=now - timedelta(days=400),
    )
    d = meta_dict(c)
    assert d["n_links"] > 0 and d["link_domain=bit.ly"] == 1 and d["link_domain=spam.example"] == 1
    assert d["email_domain=mail.ru"] == 1 and d["ua_bot"] == 1 and d["has_referrer"] == 1
    assert d["honeypot_filled"] == 1 and d["author_urlish"] == 1 and d["comment_type=comment"] == 1
    assert d["post_age_known"] == 1 and d["post_age_days"] > 5


def test_self_links_to_the_commented_page_are_separated():
    text, n = split_self_links(
        "best part https://youtu.be/abc123 and http://other.example", "https://www.youtube.com/watch?v=abc123"
    )
    assert n == 1 and "selflinkx" in text and "other.example" in text


def test_length_saturates_where_the_training_ham_ends():
    """A 5 kB technical comment is no "longer" than a 600-character one (issue 11): no training ham is."""
    sentence = "The migration fails with ActiveRecord::StatementInvalid at line 42 of schema.rb, see the trace. "
    long_ham = Comment(comment_content=sentence * 55)  # ~5.3 kB of prose
    over_cap = Comment(comment_content=("word " * 140).strip())  # 699 characters
    short = Comment(comment_content=sentence * 3)
    assert len(long_ham.comment_content) > 8 * features.LENGTH_CAP_CHARS
    assert meta_dict(long_ham)["length"] == meta_dict(over_cap)["length"]
    assert meta_dict(short)["length"] < meta_dict(long_ham)["length"]
    # Scaled by the training maximum, a long comment stays inside the range fit saw (≤ 1).
    meta = MetaFeatures().fit([short, over_cap])
    assert meta.transform([long_ham])[0, meta.vocabulary_["length"]] <= 1.0


def test_feature_union_is_a_clonable_estimator_with_params_in_init():
    union = make_features(word_ngram=(1, 1), char_ngram=(2, 3), min_df=1)
    copy = clone(union)
    assert copy.get_params()["word__tfidf__ngram_range"] == (1, 1)
    docs = [Comment(comment_content=t) for t in ("free money now", "lovely song", "Привет мир 🙂", "")]
    X = copy.fit_transform(docs)
    assert X.shape[0] == 4 and np.isfinite(X.data).all()
    # Nothing learned outside fit: an unfitted clone has no vocabulary.
    assert not hasattr(clone(union).transformer_list[0][1].named_steps["tfidf"], "vocabulary_")


# -- the shortcuts of the per-comment passes find exactly what the full scans find -------------------
def _normalise_every_pass(text: str) -> str:
    """normalise_text with every pass run, none skipped (its definition before the skips)."""
    if not text:
        return ""
    for _ in range(2):
        text = features._BR_RE.sub("\n", text)
        text = features._HREF_RE.sub(lambda m: f" {m.group(1)} ", text)
        text = features._TAG_RE.sub("", text)
        text = html.unescape(text)
    text = features._C1_RE.sub(features._fix_c1, text)
    text = features._ZERO_WIDTH_RE.sub("", text)
    return features.nfkc(text)[: features.MAX_TEXT_CHARS].strip()


MARKUP_PIECES = ["<br>", "< BR />", "&lt;br&gt;", '<a href="http://x.y">', "</a>", "&lt;a href=x&gt;", "<b>", "&amp;",
                 "&lt;", "&gt;", "&#128;", "&#x92;", "\x92", "\u200b", "&#8203;", "\ufeff", "é", "e\u0301", "x", " ", "<"]  # fmt: skip


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.sampled_from(MARKUP_PIECES), max_size=10).map("".join) | st.text(max_size=30))
def test_normalise_text_skips_only_passes_that_cannot_change_the_text(text):
    assert features.normalise_text(text) == _normalise_every_pass(text)


URL_PIECES = ["http://a.b", "HTTP://x", "ftp://", "www.", "WwW.", "Example.COM", ".co", ".comx", "a.ſite", "K.com",
              "ſ", "x@y.z", ".", ":", "//", "com", "site", "ＷＷＷ.", "é", " ", "-", "a"]  # fmt: skip


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.sampled_from(URL_PIECES), max_size=12).map("".join) | st.text(max_size=30))
def test_may_hold_url_is_false_only_when_the_url_pattern_finds_nothing(text):
    if features._URL_RE.search(text):
        assert features.may_hold_url(text)
    assert features.find_urls(text) == features._URL_RE.findall(text)


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet="aZ_é٣0134579@$ .-x\n", max_size=40) | st.text(max_size=30))
def test_leet_pattern_matches_exactly_the_words_holding_a_leet_character(text):
    runs = [m.span() for m in re.finditer(r"[\w@$]++", text) if features._LEET_CHAR_RE.search(m[0])]
    assert [m.span() for m in features._WORD_RE.finditer(text)] == runs


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=[chr(i) for i in range(128)], max_size=60) | st.text(max_size=30))
def test_char_counts_equal_counting_character_by_character(text):
    letters = [c for c in text if c.isalpha()]
    expected = (
        len(letters),
        sum(c.isupper() for c in letters),
        sum(unicodedata.category(c).startswith("P") for c in text),
    )
    assert features._char_counts(text) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://hackfbaccountlive.com/?ref=4604617",
        "https://www.paidverts.com/ref/tomuciux99",
        "www.swagbucks.com/refer/Nonturtle02",
        "https://aruble.net/?r=uqy00jeqox",
        "https://capital-hub.ltd/?utm_source=x&REF=Sandraelina1#top",
        "https://shop.example/register;aff_id=77",
    ],
)
def test_referral_codes_are_found(url):
    assert features.referral_link(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/post?ref=hn",  # a source tag: no account code
        "https://github.com/o/r/contents/setup.py?ref=main",  # a branch
        "https://github.com/o/r/archive?ref=v1.2.3",  # a version
        "https://www.amazon.com/dp/B000?ref=sr_1_3",  # a shop's page code
        "https://www.amazon.com/s/?keywords=cork+puller&ref=pd_sl_22lbr",
        "https://www.reddit.com/r/3Dprinting/",  # /r/ is a subreddit
        "https://example.com/preferences?reference=12",  # another parameter ending in "ref"
        "https://example.com/?ref=" + "9" * 65,  # longer than any account code
    ],
)
def test_source_tags_versions_and_page_codes_are_not_referrals(url):
    assert not features.referral_link(url)


def test_a_referral_link_sets_its_own_column_and_a_plain_link_does_not():
    referral = meta_dict(Comment(comment_content="esyest money ever https://www.paidverts.com/ref/tomuciux99"))
    plain = meta_dict(Comment(comment_content="the manual: https://docs.example.org/printers?ref=sidebar"))
    assert referral["link_referral"] == 1.0 and referral["n_links"] > 0
    assert "link_referral" not in plain and plain["n_links"] > 0

"""Corpus loaders: counts, quirks, dedupe, no DATE leak."""

from __future__ import annotations

import re

from model_training import data
from spamguard.scoring.features import meta_dict


def test_youtube_files_parse_line_aware_including_eminem_broken_quote():
    counts = {p.stem: data.read_youtube_file(p) for p in sorted(data.YOUTUBE_DIR.glob("Youtube0*.csv"))}
    eminem = counts["Youtube04-Eminem"]
    assert len(eminem) == 453
    assert sum(r[3] for r in eminem) == 245
    assert sum(len(v) for v in counts.values()) == 1961
    # The record with the unclosed quote is on its own; the five after it are separate records.
    contents = [r[2] for r in eminem]
    assert "This great Warning will happen soon. " in contents
    assert "Croatia &lt;3" in contents and "Nice one" in contents and "600m views." in contents


def test_sms_is_read_without_quoting():
    raw = data.load_sms(dedupe=False)
    assert len(raw) == 5574
    assert sum(e.label for e in raw) == 747


def test_dedupe_on_normalised_text_before_any_split():
    corpus = data.load_corpora()
    keys = [data.text_key(e.text) for e in corpus]
    assert len(keys) == len(set(keys))
    raw_total = (
        len(data.load_youtube(dedupe=False))
        + len(data.load_sms(dedupe=False))
        + len(data.load_stackexchange(dedupe=False))
        + len(data.load_instagram(dedupe=False))
    )
    assert (
        len([e for e in corpus if e.source not in ("synthetic", "telegram")]) < raw_total - 700
    )  # 403 SMS + ~200 YouTube + ~200 Instagram exact repeats at least
    lmfao = [e for e in corpus if e.group == "youtube:lmfao"]
    assert sum(data.text_key(e.text) == "check out this video on youtube:" for e in lmfao) == 1
    assert {e.group for e in corpus if e.source in ("sms", "youtube")} == {
        "sms",
        *(f"youtube:{v}" for v in data.YOUTUBE_VIDEO_IDS),
    }
    assert {e.source for e in corpus} == {"youtube", "sms", "stackexchange", "instagram", "telegram", "synthetic"}


def test_text_is_normalised():
    for e in data.load_corpora():
        assert "\ufeff" not in e.text
        assert "<br" not in e.text.lower()
        assert "&#39;" not in e.text and "&amp;" not in e.text and "&lt;" not in e.text
        assert not re.search("[\u0080-\u009f]", e.text)
    sms = data.load_sms()
    assert any("’" in e.text for e in sms)  # \x92 repaired to an apostrophe


def test_no_date_feature_anywhere():
    for e in data.load_corpora():
        assert e.comment.comment_date_gmt is None and e.comment.comment_post_modified_gmt is None
        assert not any(k.startswith("post_age") for k in meta_dict(e.comment))


def test_gate_split_is_deterministic_and_disjoint():
    corpus = data.load_corpora()
    train1, gate1 = data.gate_split(corpus)
    _, gate2 = data.gate_split(list(reversed(corpus)))
    assert data.gate_keys(gate1) == data.gate_keys(gate2)
    assert not data.gate_keys(gate1) & data.gate_keys(train1)
    assert 0.15 < len(gate1) / len(corpus) < 0.25


def test_stackexchange_is_ham_grouped_by_thread_without_markdown_shortcuts():
    se = data.load_stackexchange()
    assert len(se) > 8000 and all(e.label == 0 for e in se)
    assert all(e.group.startswith("stackexchange:") and "/" in e.group for e in se)
    leftovers = sum("](" in e.text or e.text.startswith("@") or "`" in e.text for e in se)
    assert leftovers < 0.005 * len(se)  # was 10-20 % of rows before (quirk 1 of the dataset's README)


def test_instagram_drops_texts_with_both_labels():
    raw = data.load_instagram(dedupe=False)
    assert {e.label for e in raw} == {0, 1}
    labels: dict[str, set[int]] = {}
    for e in raw:
        labels.setdefault(data.text_key(e.text), set()).add(e.label)
    assert all(len(v) == 1 for v in labels.values())
    assert not any(data.text_key(e.text).startswith("inbox me i can help you fix it") for e in raw)


def test_synthetic_spam_only_trains():
    corpus = data.load_corpora()
    synthetic = [e for e in corpus if e.source == "synthetic"]
    assert len(synthetic) > 200 and all(e.label == 1 for e in synthetic)
    assert not any("{" in e.text or "|" in e.text for e in synthetic)  # fully expanded spintax
    _, gate = data.gate_split(corpus)
    assert not any(e.source == "synthetic" for e in gate)
    assert "synthetic" not in data.EVAL_CORPORA


def test_telegram_spam_is_english_collected_training_only_and_without_telegram_links():
    raw = data.TELEGRAM_FILE.read_text(encoding="utf-8").split("\n")
    telegram = data.load_telegram()
    assert 25 <= len(telegram) <= 33 and all(e.label == 1 for e in telegram)  # 48 English lines - 15 written to order
    assert not any(re.search("[\u0400-\u04ff]", e.text) for e in telegram)  # the Russian lines stay out
    assert not any(int(e.group.split(":")[1]) in data.TELEGRAM_WRITTEN_TO_ORDER for e in telegram)
    assert "t.me/" in " ".join(raw) and "@" in " ".join(raw)  # upstream has them ...
    assert not any("t.me/" in e.text.lower() or re.search(r"@\w", e.text) for e in telegram)  # ... the rows not
    corpus = data.load_corpora()
    _, gate = data.gate_split(corpus)
    assert any(e.source == "telegram" for e in corpus) and not any(e.source == "telegram" for e in gate)
    assert "telegram" not in data.EVAL_CORPORA

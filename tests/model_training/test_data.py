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
    raw_total = len(data.load_youtube(dedupe=False)) + len(data.load_sms(dedupe=False))
    assert len(corpus) < raw_total - 500  # 403 SMS + ~200 YouTube exact repeats at least
    lmfao = [e for e in corpus if e.group == "youtube:lmfao"]
    assert sum(data.text_key(e.text) == "check out this video on youtube:" for e in lmfao) == 1
    assert {e.group for e in corpus} == {"sms", *(f"youtube:{v}" for v in data.YOUTUBE_VIDEO_IDS)}


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

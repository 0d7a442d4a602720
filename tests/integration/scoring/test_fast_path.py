"""The scoring fast path against sklearn: equal to 1e-9 on real and hostile comments, refused
(never approximate) for a pipeline it does not mirror; the one-analysis-per-comment refactor keeps
the features the model learns from unchanged."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import numpy as np
import pytest

from model_training.data import load_corpora
from spamguard.comment import Comment
from spamguard.scoring import features, model
from spamguard.scoring.features import (
    analyse,
    comment_text,
    find_urls,
    is_normalised,
    meta_dict,
    normalise_text,
    prepare_text,
    split_self_links,
    url_domain,
)
from spamguard.scoring.model import SpamModel, load_scorer, mirror_problems
from spamguard.scoring.normalize import deobfuscate
from spamguard.scoring.registry import Registry

WORDS = "free money click here subscribe my channel love this song".split()
HOSTILE_TEXTS = [
    "",
    " ",
    "\n\t ",
    "a",
    "!!!",
    "ok",
    "😀😀😀 🔥🔥",
    "FREE ＦＲＥＥ ｆｒｅｅ",
    "Ѕрам рrіzе fоr yоu",
    "e\u0301" * 5 + "a" + "\u0301" * 100,
    "\u200bz\u200be\u200br\u200bo",
    "that\x92s caf\xe9",
    "ﷺ ﷺ",
    "ß STRASSE straße",
    "مرحبا بالعالم",
    "שלום עולם",
    "日本語のコメントです",
    "ᴄʜᴇᴄᴋ ᴍʏ ᴘʀᴏғɪʟᴇ",
    "𝐅𝐫𝐞𝐞 𝐦𝐨𝐧𝐞𝐲",
    "I <3 this & that",
    "Tom &amp; Jerry",
    "&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt;",
    "&lt;br&gt;x&lt;br/&gt;",
    '<a href="http://spam.example/x">click</a> <b>now</b>',
    "line<br>break<br />again",
    "&#128; &#x92; &bogus;",
    "visit http://bit.ly/abc, www.free-prizes.tk and https://x.example/a?b=c.",
    "example(dot)com example dot com",
    "FreeFilmsHere.comX ★★★ #StreamTheNewAlbumNow",
    "F o l l o w  m e  n o w",
    "call 09061701461 or 555-1234 now",
    "mail me: john.doe+spam@example.com, .x@y.io",
    "fr33 c4$h 4u in 2015 $ex",
    "a.a.a.a.a.a.a.a.a.a.a.com",
    "WOW!!!!!!!!! sooooooo goooood",
    "http://" + "a" * 300 + ".com",
    "\x00\x01 control \x7f chars",
    " ".join(WORDS * 2000),  # very long, repeated words
    "banana bananas ananas nanana anana",  # the same char n-grams within and across words
    "aaaa aaaaa aa a aaaa",
    "free free free money money free",  # repeated words and bigrams
    "ab ab ab ab ba ba ab",
    "x" * 70000,  # one very long "word", over the text cap
    " ".join(f"w{i}rd" for i in range(6000)),  # many distinct words (char cache churn)
]


def hostile_comments() -> list[Comment]:
    out = [Comment(comment_content=t) for t in HOSTILE_TEXTS]
    when = datetime(2024, 5, 1, tzinfo=UTC)
    out += [
        Comment(
            comment_content="great video https://www.youtube.com/watch?v=abc123 watch it",
            permalink="https://www.youtube.com/watch?v=abc123",
            blog="https://www.youtube.com",
        ),
        Comment(comment_content="https://blog.example/post/1", permalink="https://blog.example/post/1/"),
        Comment(
            comment_content="Buy now http://pills.example",
            comment_author="www.pills.com",
            comment_author_email="Bot@Mailinator.com",
            comment_author_url="http://pills.example",
            user_agent="python-requests/2.31",
            referrer="http://x.example",
            comment_type="comment",
            honeypot_field_name="hp",
            honeypot_value="filled",
            user_role="subscriber",
            comment_date_gmt=when,
            comment_post_modified_gmt=datetime(2020, 1, 1, tzinfo=UTC),
            extra={"POST_ak_js": "120", "akismet_comment_nonce": "failed", "HTTP_USER_AGENT": "x"},
        ),
    ]
    return out


def corpus_comments(per_source: int = 150) -> list[Comment]:
    """A spread of every bundled corpus (spam and ham)."""
    by_source: dict[str, list[Comment]] = {}
    for e in load_corpora():
        by_source.setdefault(e.source, []).append(e.comment)
    out = []
    for comments in by_source.values():
        step = max(1, len(comments) // per_source)
        out += comments[::step][:per_source]
    return out


def fresh(comments: list[Comment]) -> list[Comment]:
    return [dataclasses.replace(c) for c in comments]


@pytest.fixture(scope="module")
def scorer(model_dir):
    return load_scorer(model_dir, Registry(model_dir).current_version())


@pytest.fixture(scope="module")
def pickled(model_dir) -> SpamModel:
    """The same version's sklearn model (model.joblib): the reference the serving artifact must equal."""
    return Registry(model_dir).load()[0]


@pytest.fixture(scope="module")
def comments() -> list[Comment]:
    return corpus_comments() + hostile_comments()


def test_fast_path_equals_sklearn_predict_proba(scorer, pickled, comments):
    assert isinstance(scorer.model, model.ServingModel)  # served from serving.npz
    assert pickled.fast_path_refused is None
    assert mirror_problems(pickled.pipeline) == []
    reference = pickled.predict_proba(fresh(comments))  # sklearn transform + decision_function + Platt
    for comment, expected in zip(fresh(comments), reference, strict=True):
        fast = scorer.score(comment).probability
        assert abs(fast - expected) <= 1e-9, (comment.comment_content[:80], fast, expected)


def test_reasons_equal_the_ranking_of_every_named_part(scorer, comments):
    """Scorer.score names only the text hits its reasons reach; the reasons and logit must equal those
    ranked from all of ServingModel.contributions' named parts (the sklearn path's way)."""
    spam_and_ham = set()
    for comment in fresh(comments):
        decision, parts = scorer.model.contributions(comment)
        logit = scorer.model.calibrated_logit(decision)
        for top in (3, 5):
            score = scorer.score(comment, top)
            assert score.logit == logit
            assert score.reasons == scorer._reasons(comment, parts, logit >= 0, top), comment.comment_content[:60]
        spam_and_ham.add(logit >= 0)
    assert spam_and_ham == {True, False}


def test_scores_do_not_depend_on_what_was_scored_before(scorer, comments):
    """Scoring keeps no state between comments (no caches): the same scores in either order."""
    forward = [scorer.score(c).probability for c in fresh(comments)]
    backward = [scorer.score(c).probability for c in fresh(comments[::-1])]
    assert forward == backward[::-1]


def test_analysis_keeps_the_features_the_model_learns(comments):
    """comment_text and the link features equal their definitions before the analysis was shared."""
    for c in fresh(comments):
        content, self_links = split_self_links(normalise_text(c.comment_content), c.permalink)
        assert comment_text(c) == prepare_text(content)
        urls = find_urls(deobfuscate(content))
        d = meta_dict(c)
        assert {k for k in d if k.startswith("link_domain=")} == {
            f"link_domain={u}" for u in map(url_domain, urls) if u
        }
        assert d.get("self_links", 0.0) == (1.0 if self_links else 0.0)


def test_is_normalised_never_claims_a_text_normalisation_would_change(comments):
    texts = [c.comment_content for c in comments]
    texts += [normalise_text(t) for t in texts] + [t + " " for t in texts[:50]] + ["  padded  ", "x" * 70000]
    claimed = [t for t in texts if is_normalised(t)]
    assert all(normalise_text(t) == t for t in claimed)
    # ...and it is not vacuous: nearly every normalised corpus text is recognised as one.
    normalised = [normalise_text(c.comment_content) for c in comments]
    assert sum(map(is_normalised, normalised)) >= 0.95 * len(normalised)


def test_analysis_is_memoised_until_the_content_changes():
    c = Comment(comment_content="see http://a.example now", permalink="")
    first = analyse(c)
    assert analyse(c) is first
    c.comment_content = "see http://b.example now"
    assert analyse(c).urls == ("http://b.example",)
    assert "_analysis" not in c.to_json() and c == Comment(comment_content="see http://b.example now")


MIRRORED_CHANGES = {  # pipelines trained with one setting the fast path does not implement
    "sublinear_tf": {"features__word__tfidf__sublinear_tf": False},
    "norm": {"features__char__tfidf__norm": "l1"},
    "binary": {"features__word__tfidf__binary": True},
    "analyzer": {"features__char__tfidf__analyzer": "char"},
    "dtype": {"features__word__tfidf__dtype": np.float32},
    "weights": {"features__transformer_weights": {"word": 2.0}},
    "token_pattern": {"features__word__tfidf__token_pattern": r"(?u)\b\w+\b"},
}


@pytest.fixture(scope="module")
def small_training_set() -> tuple[list[Comment], np.ndarray, list[Comment]]:
    examples = load_corpora()[::8]
    sample = fresh(corpus_comments(per_source=10) + hostile_comments()[:12])
    return [e.comment for e in examples], np.array([e.label for e in examples]), sample


@pytest.mark.parametrize("change", sorted(MIRRORED_CHANGES))
def test_fast_path_refuses_a_pipeline_it_does_not_mirror(change, small_training_set, caplog):
    from model_training.train import build_pipeline

    X, y, sample = small_training_set
    pipeline = build_pipeline().set_params(**MIRRORED_CHANGES[change]).fit(X, y)
    refusals = model.FAST_PATH_REFUSALS
    with caplog.at_level(logging.WARNING, logger="spamguard.scoring.model"):
        changed = SpamModel(pipeline, (1.3, -0.2))
    assert changed.fast_path_refused and change in changed.fast_path_refused
    assert model.FAST_PATH_REFUSALS == refusals + 1
    assert len([r for r in caplog.records if "fast path refused" in r.getMessage()]) == 1
    # Scored through sklearn instead: the pipeline's own numbers, with reasons.
    scorer = model.Scorer(changed, "changed", {"unsure": 0.5, "spam": 0.9, "discard": 0.99})
    reference = changed.predict_proba(fresh(sample))
    got = np.array([scorer.score(c).probability for c in fresh(sample)])
    assert np.max(np.abs(got - reference)) <= 1e-9
    assert any(scorer.score(c).reasons for c in fresh(sample))
    # What the refusal prevents: the fast path forced onto this pipeline diverges from sklearn (or its
    # tables cannot be built, and the serving artifact's loader refuses it too).
    if changed.fast is None:
        assert "not one the fast path mirrors" in changed.fast_path_refused
        return
    changed.fast_path_refused = None
    forced = np.array([scorer.score(c).probability for c in fresh(sample)])
    assert np.max(np.abs(forced - reference)) > 1e-9


def test_unchanged_small_pipeline_keeps_the_fast_path(small_training_set):
    from model_training.train import build_pipeline

    X, y, sample = small_training_set
    fitted = SpamModel(build_pipeline().fit(X, y), (1.3, -0.2))
    assert fitted.fast_path_refused is None
    scorer = model.Scorer(fitted, "small", {"unsure": 0.5, "spam": 0.9, "discard": 0.99})
    got = np.array([scorer.score(c).probability for c in fresh(sample)])
    assert np.max(np.abs(got - fitted.predict_proba(fresh(sample)))) <= 1e-9


def test_normalised_once_per_check(client, key, monkeypatch):
    """A whole comment-check (score, reasons, reputation read and write, stored hash) normalises and
    scans the content for URLs once."""
    calls = {"normalise_text": 0, "find_urls": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(features, "normalise_text", counted("normalise_text", features.normalise_text))
    monkeypatch.setattr(features, "find_urls", counted("find_urls", features.find_urls))
    response = client.post(
        "/1.1/comment-check",
        data={
            "api_key": key,
            "blog": "https://blog.example",
            "user_ip": "203.0.113.50",
            "comment_type": "comment",
            "comment_author_email": "someone@mail.example",
            "permalink": "https://blog.example/post/7",
            "comment_content": "Nice post, see https://blog.example/post/7 and cheap pills at http://pills.example/buy",
        },
    )
    assert response.status_code == 200 and response.get_data(as_text=True) in ("true", "false")
    assert calls == {"normalise_text": 1, "find_urls": 1}

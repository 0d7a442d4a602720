"""WordPress plugin signals: honeypot without honeypot_field_name, ak_js, nonce, headers, roles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spamguard.comment import Comment
from spamguard.scoring.decision import decide
from spamguard.scoring.features import meta_dict
from spamguard.scoring.registry import Registry
from spamguard.scoring.signals import request_signals


@pytest.fixture(scope="module")
def current_scorer_model(model_dir):
    return Registry(model_dir).load()[0]


THRESHOLDS = {"unsure": 0.5, "spam": 0.8, "discard": 0.99}
BODY = "Thanks for the write-up, the second step fixed my build."


def test_plugin_honeypot_without_field_name_is_a_honeypot_hit():
    bot = Comment(comment_content=BODY, extra={"POST_ak_hp_textarea": "buy cheap pills"})
    assert bot.honeypot_hit
    assert decide(bot, 0.01, [], THRESHOLDS).verdict == "discard"
    assert meta_dict(bot)["honeypot_filled"] == 1.0
    human = Comment(comment_content=BODY, extra={"POST_ak_hp_textarea": "  "})
    assert not human.honeypot_hit
    assert decide(human, 0.01, [], THRESHOLDS).verdict == "ham"


def test_ak_js_default_missing_and_fast():
    assert request_signals(Comment(extra={"POST_ak_js": "137"})) == {"ak_js_default": 1.0}
    assert request_signals(Comment(extra={"POST_comment": "hi"})) == {"ak_js_not_posted": 1.0}
    posted = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
    rendered_ms = int(posted.timestamp() * 1000) - 1500
    fast = Comment(comment_date_gmt=posted, extra={"POST_ak_js": str(rendered_ms)})
    assert request_signals(fast) == {"ak_js_fast": 1.0}
    slow = Comment(comment_date_gmt=posted, extra={"POST_ak_js": str(rendered_ms - 120_000)})
    assert request_signals(slow) == {}
    assert request_signals(Comment(extra={"POST_ak_js": "x" * 10_000})) == {}  # malformed = absent


def test_nonce_role_and_headers():
    s = request_signals(
        Comment(user_role="subscriber", extra={"akismet_comment_nonce": "failed", "HTTP_ACCEPT": "*/*"})
    )
    assert s == {"nonce_failed": 1.0, "logged_in": 1.0, "no_accept_language": 1.0}
    s = request_signals(
        Comment(user_role="administrator", extra={"akismet_comment_nonce": "passed", "HTTP_ACCEPT_LANGUAGE": "en"})
    )
    assert s == {"nonce_passed": 1.0}


def test_priors_move_the_score_of_a_trained_model(current_scorer_model):
    """The public corpora have none of these fields: without priors they would weigh nothing."""
    model = current_scorer_model
    plain = Comment(comment_content=BODY)
    bot = Comment(
        comment_content=BODY, extra={"POST_ak_js": "42", "akismet_comment_nonce": "failed", "HTTP_ACCEPT": "*/*"}
    )
    user = Comment(
        comment_content=BODY,
        user_role="subscriber",
        extra={"akismet_comment_nonce": "passed", "HTTP_ACCEPT_LANGUAGE": "en"},
    )
    p_plain, p_bot, p_user = model.predict_proba([plain, bot, user])
    assert p_bot > p_plain > p_user
    # Conservative: the signals alone do not make an ordinary comment certain spam.
    assert p_bot < 0.99


@pytest.mark.parametrize(
    "text",
    [
        "Great post! [url=http://pills.example/]cheap pills[/url]",
        "[URL]www.pills.example[/URL] best price",
        "nice [link='https://pills.example']here[/link]",
    ],
)
def test_forum_link_markup_in_a_blog_comment_is_a_signal(text):
    assert meta_dict(Comment(comment_content=text))["bbcode_links"] == 1.0
    assert meta_dict(Comment(comment_content=text, comment_type="comment"))["bbcode_links"] == 1.0
    # On a forum BBCode is the markup: no signal for its posts and replies.
    for forum_type in ("forum-post", "reply", " Forum-Post "):
        assert "bbcode_links" not in meta_dict(Comment(comment_content=text, comment_type=forum_type))


@pytest.mark.parametrize(
    "text",
    [
        "cache[url] = response; see http://docs.example/cache",  # code indexing by a variable named url
        "[url=http://pills.example/]no closing tag",
        "[link text](https://docs.example) is Markdown, not BBCode [/url]",
        "see [1] and [2]",
    ],
)
def test_code_and_other_brackets_are_not_forum_link_markup(text):
    assert "bbcode_links" not in meta_dict(Comment(comment_content=text))


def test_the_forum_markup_prior_moves_the_score_of_a_trained_model(current_scorer_model):
    """No corpus holds a blog comment with BBCode: the prior is what weighs it."""
    text = "Great post! [url=http://pills.example/]cheap pills[/url] today"
    forum = Comment(comment_content=text, comment_type="forum-post")  # the same words, no signal
    blog = Comment(comment_content=text, comment_type="comment")
    p_forum, p_blog = current_scorer_model.predict_proba([forum, blog])
    assert p_blog > p_forum

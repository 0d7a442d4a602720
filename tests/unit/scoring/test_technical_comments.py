"""Made-up technical-blog comments against the rule features (behaviour.py, the blocklist count): issue 11.

A technical blog's ham is long, holds links, code, config and tracebacks, and talks about brokers,
mining and exchanges in their technical sense; these assert which rule fires, not the model's verdict.
"""

from __future__ import annotations

import math

import pytest

from spamguard.comment import Comment
from spamguard.scoring.behaviour import COLUMNS, behaviour_signals
from spamguard.scoring.features import meta_dict, prepare_text
from spamguard.scoring.normalize import blocklist_found, phrase_words

BEHAVIOUR = COLUMNS

TECHNICAL_HAM = [
    'Traceback (most recent call last):\n  File "app/tasks.py", line 42, in run\n    broker.publish(msg)\n'
    "kombu.exceptions.OperationalError: [Errno 111] Connection refused",
    "My celeryconfig is:\n\n    broker_url = 'amqp://guest@localhost:5672//'\n    worker_prefetch_multiplier = 1\n\n"
    "and the message broker still redelivers every task twice.",
    "We do data mining on the access logs with Spark; see https://spark.apache.org/docs/latest/ml-guide.html",
    "The fix is in https://github.com/celery/kombu/pull/1234 — call `conn.ensure_connection()` before publishing.",
    "I wrote about this here: https://blog.example.dev/posts/celery-retries (short version: acks_late=True).",
    "In bash, `echo $1 $2` prints the first two arguments and $0 is the script name.",
    "Binance API rate limits bit me too: read the X-MBX-USED-WEIGHT header and back off.",
    "I moved my portfolio site from Jekyll to Hugo, the build went from 40 s to 2 s.",
    "This webpage using Hugo is built by a GitHub action on every push.",
    "Set `retry_policy = {'max_retries': 3}` in the config and it stops hammering the broker.",
]


def signals(text: str) -> dict[str, float]:
    plain = prepare_text(text)  # de-obfuscated and casefolded like the text meta_dict sees
    return behaviour_signals(plain, phrase_words(plain))


@pytest.mark.parametrize("text", TECHNICAL_HAM)
def test_technical_comments_fire_no_behaviour_signal(text):
    assert not set(signals(text)) & set(BEHAVIOUR)
    assert not set(meta_dict(Comment(comment_content=text))) & {*BEHAVIOUR, "blocklist_terms"}


@pytest.mark.parametrize(
    "text",
    [
        "data mining on the message broker",
        "a Kafka broker per rack",
        "my portfolio of side projects",
        "data mining, message brokers and a portfolio page",  # ambiguous stems together still count nothing
    ],
)
def test_technical_senses_of_mining_broker_portfolio_are_not_investment_talk(text):
    assert "investment_terms" not in signals(text)


@pytest.mark.parametrize(
    "text, stems",
    [
        ("bitcoin mining pays", 2),  # bitcoin + mining
        ("a forex broker doubled my money", 2),
        ("diversify your crypto portfolio", 2),
        ("investment returns", 1),
    ],
)
def test_ambiguous_stems_count_beside_an_unambiguous_one(text, stems):
    assert signals(text)["investment_terms"] == pytest.approx(math.log1p(stems))


@pytest.mark.parametrize(
    "text",
    [
        "Check out my blog post about Kubernetes operators, I go through the reconcile loop.",
        "see my site article on connection pooling",
        "I covered this in my blog write-up last year",
    ],
)
def test_citing_ones_own_write_up_is_not_self_promotion(text):
    assert "self_promotion" not in signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "Great read. Check out my blog for more tips",
        "visit my website, posts every day",  # a word after the venue that is not a piece of writing
        "Check out my channel",
    ],
)
def test_advertising_ones_venue_is_still_self_promotion(text):
    assert signals(text)["self_promotion"] == 1.0


def test_exchange_names_and_padded_phrases_are_not_blocklist_hits():
    assert blocklist_found("my coinbase account was restricted, binance too") == set()
    assert blocklist_found("a webpage using Hugo, a website using React") == set()
    assert blocklist_found("buy cheap viagra") == {"buy cheap", "viagra"}  # the list itself still works


@pytest.mark.parametrize(
    "text, column, count",
    [
        ("earning $4,000 a week, financial freedom at last", "earning_claim", 2),
        ("working from home I make money daily", "earning_claim", 2),
        ("paying 5 grand to the first (5) people to dm me", "urgency", 1),
        ("URGENT! You have won a prize, call now. Don't miss out", "urgency", 3),
        ("limited offer, only 3 spots left", "urgency", 2),
    ],
)
def test_earning_claims_and_urgency_count_distinct_sequences(text, column, count):
    assert signals(text)[column] == pytest.approx(math.log1p(count))


@pytest.mark.parametrize(
    "text",
    [
        "the first 5 rows of the table are headers",  # a number, then not people
        "the limited API quota resets daily",  # "limited", then not a time, offer or spots
        "the money module makes rounding explicit",  # "makes" then not "money"
        "call it now that the pool is warm",  # "call" then not "now"
        "I'd miss the old API, don't you?",
    ],
)
def test_technical_wording_near_the_sequences(text):
    assert not {"earning_claim", "urgency"} & set(signals(text))

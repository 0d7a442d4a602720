"""Behaviour signals (spamguard/scoring/behaviour.py): adversarial spellings per signal, ham left alone, bounded work."""

from __future__ import annotations

import math

import pytest
from work_count import assert_linear

from spamguard.comment import Comment
from spamguard.scoring.behaviour import behaviour_signals
from spamguard.scoring.features import meta_dict, prepare_text
from spamguard.scoring.normalize import MAX_CHARS, phrase_words


def signals(text: str) -> dict[str, float]:
    return behaviour_signals(text, phrase_words(text))


@pytest.mark.parametrize(
    "text, amounts",
    [
        ("I invested $1 000 and got $15 000 in 3 days", 2),
        ("You have WON £2,000! call now", 1),
        ("win € 500 or ₹10000 today", 2),
        ("I made 5k last week, 200 dollars a day, 0.5 btc", 3),
        ("send 50 USDT to get 500 usdt back", 2),
    ],
)
def test_money_amounts_in_any_currency_are_counted(text, amounts):
    assert signals(text)["money_amounts"] == pytest.approx(math.log1p(amounts))


@pytest.mark.parametrize(
    "text",
    [
        "Works in 2.3 too, tested on 2015 hardware with 4 cores",
        'echo "$1" and $0 are the shell arguments',  # single-digit "amounts" are variables
        "The 5kg frame and the 10 km ride",  # a number before a unit that starts like a currency word
        "I paid in cash",
        "$ is the shell prompt, $HOME the variable",
    ],
)
def test_numbers_that_are_not_money_are_not_amounts(text):
    assert "money_amounts" not in signals(text)


def test_investment_terms_count_stems_once():
    assert signals("invested, investing, my investment")["investment_terms"] == pytest.approx(math.log1p(1))
    assert signals("crypto trading profits via a forex broker")["investment_terms"] == pytest.approx(math.log1p(5))
    assert "investment_terms" not in signals("a traditional, profitable bike shop")  # whole words only


@pytest.mark.parametrize(
    "text",
    [
        "contact her on WhatsApp for more info",
        "dm @trade_with_deni now",
        "Call 09061221066 from a landline",
        "text me on +44 7700 900123",
        "message admin on telegram",
        "Txt POD to 80182 to get entry (std txt rate)",
        "2 play text STORE to 88039. SkilGme",
        "Text 1,2 or 3 to 83049. Cost 50p",
        "STOP? Send STOP FRND to 62468",
        # a phone number a few words after the call verb
        "Call MobileUpd8 on 08000839402 or call2optout/N9DX",
        "please call customer services on 09065069120",
        "To find out who it is call from a landline 09058098002.",
        "Dial 08712300220 to claim - National Rate Call",
        "To claim, call09050000327. T&C: RSTM",
        "Call FREEPHONE 0800 542 0578 now!",
        "ring the claims line on 09050005321.",
        "Slow Running Speed of IE Browser? Call at 1-800-778-9936",
        "Call us at +91-8696823273 for love back",
    ],
)
def test_off_site_contact_requests(text):
    assert signals(text)["contact_request"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "call me later when you are back",
        "I'll text you at 5pm",
        "the context 12345678 of the call stack",  # "text" inside a word; number far from the verb
        "see the whatsapp API docs, version 2.3",  # an app named without a contact verb
        "call the method with 3 args",
        "call signal handlers only from the main thread",
        "reply 5 to 2000 users a day",  # a round number is a count, not a short code
        "send 2 patches to 12345678 reviewers",  # too long for a short code
        "text wrapping to 1024 columns",  # no keyword in capitals: technical
        "send output to 8080",
        # numbers a few words after a call verb that are no phone numbers
        "call the function 1000000000 times",  # a count: no leading 0 or +
        "we call it version 2016 build 20180617",
        "call from the loop 0.5 seconds later",
        "recall the 08000839402 figure",  # the verb inside a word
        "callbacks fire 0123456789 times",  # not the verb "call"
        "call the method, then a b c d e 01234567890",  # more than four words between
    ],
)
def test_ordinary_mentions_of_calls_and_texts_are_not_contact_requests(text):
    assert "contact_request" not in signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "Please check out my new music video",
        "SUBSCRIBE TO MY CHANNEL",
        "s.u.b.s.c.r.i.b.e to my channel",
        "suscribe please",
        "don't forget to subscribe, thanks!",
        "visit our online store today",
        "follow my insta page and like my videos",
    ],
)
def test_self_promotion(text):
    plain = prepare_text(text)  # de-obfuscated like the comment meta_dict sees
    assert signals(plain)["self_promotion"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "Follow me on Twitter @mscalifornia95",
        "follow me on instagram bigboss286",
        "buy and hold frzw, follow @4arzin",  # the handle as the metadata sees it (the n-grams read "aaarzin")
        "please follow us @shopdeals",
        "FOLLOW ME ON IG",
    ],
)
def test_asking_to_follow_an_account_is_self_promotion(text):
    assert meta_dict(Comment(comment_content=text))["self_promotion"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "I like my new bike",
        "check out the docs page for the channel API",  # not "my"/"our"
        "I checked my account and the site was down",
        "subscribers went up after the subscription change",
        "you can subscribe an empty delegate to the event",  # technical: a thing to subscribe follows
        "subscribe to the RSS feed for updates",
        # following, described rather than asked for, or not an account
        "I follow @rustlang for release news",
        "you can follow us on twitter if you like",
        "how to follow @mentions in the API",
        "follow the steps on the twitter docs",
        "following @dan on the project was useful",
        "unfollow @spam_bot now",
    ],
)
def test_talking_about_channels_is_not_self_promotion(text):
    assert "self_promotion" not in signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "Earn $500 a day from home",
        "you can earn up to 12 000 in seven working days",
        "earn money online with 0 efforts",
        "learn how to earn over 30k in a week",
        "my friends wife earns 4000dollars a month",
        "invest in bitcoin trading platforms today to earn tremendous profits",
        "I started earning weekly with her",
        "daily earnings, no problem",
        "earn with @maria_fx",  # the handle that promises it
    ],
)
def test_earning_claims(text):
    assert signals(text)["earning_claim"] > 0


@pytest.mark.parametrize(
    "text",
    [
        "hang around the site and earn some reputation first",
        "you can delete it to earn the Peer Pressure badge",
        "earn 15 reputation and you can comment everywhere",  # an amount of merit, not money
        "He earned a reputation for careful reviews",
        "you have to earn their trust",
    ],
)
def test_earning_merit_or_trust_is_not_an_earning_claim(text):
    assert "earning_claim" not in signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hurry, offer ends tonight!",
        "hurry up and buy before the price moons",
        "Only 3 left, hurry!",
        "no delay, hurry, inbox me now",
        "Call now 09061221066 to claim your prize",
        "reply or CALL NOW for delivery tomorrow",
        "Act now: limited time offer",
        "for a limited time only",
        "don't miss out, subscribe",
        "Don't miss this opportunity to earn",
        "URGENT! Your mobile number has been awarded a bonus",
        "last chance to claim ur discount",
    ],
)
def test_urgency_of_an_offer(text):
    assert signals(text)["urgency"] > 0


@pytest.mark.parametrize(
    "text",
    [
        "can i call now?",
        "I'll order now and report back",  # a statement about the writer, not an order
        "we can call now if you are free",
        "it has a limited time that it can be used",
        "a limited time brew, good stuff",
    ],
)
def test_everyday_now_and_limited_time_are_not_urgency(text):
    assert "urgency" not in signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "Great read. Printer helpline number",
        "Nice post. Best packers and movers in Pune",
        "Thanks for sharing. Cheap flights booking",
        "Very informative article! Customer care number",
        "Thank you for sharing this. Web design company near me",
        "Great post!! Car rental services in New Delhi",
        "Loved it. Cheap flights to Dubai",
        "Enjoyed this post. Best SEO services in Delhi",
    ],
)
def test_a_trade_name_after_a_token_compliment_is_self_promotion(text):
    assert signals(prepare_text(text))["self_promotion"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "Great answer. Python 3.11 docs say the same",
        "Great answer. The service restarts when the config changes",
        "Nice article. Line number",  # a number that is no helpline's
        "Thanks for sharing, great customer service",  # more praise, not a name
        "Thanks for sharing. I had the same problem with systemd services",
        "Great post. Printer helpline number? I cannot find it anywhere in the manual, "
        "which is odd for such an expensive device, and the vendor site is down",  # a sentence follows
        "Printer helpline number",  # no compliment
        "Good job",
    ],
)
def test_compliments_in_replies_are_not_seo_plugs(text):
    assert "self_promotion" not in signals(prepare_text(text))


@pytest.mark.parametrize(
    "text",
    [
        "Helpful. Try our free online grammar checker tool",
        "Download our app today!",
        "Check out our new WordPress plugin",
        "Get our browser extension, it blocks every ad",
    ],
)
def test_an_imperative_to_use_our_product_is_self_promotion(text):
    assert signals(prepare_text(text))["self_promotion"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "we use our own tool for this",  # a description, with a subject
        "you can try our staging app first",
        "how to install our plugin on a multisite network",
        "Try our suggestion from the answer above and report back",  # no product noun
        "Try restarting; our team has seen this before with the tool",  # "our" is not the verb's object
        "Loved it, thanks",
        "Like this. Welcome to Delhi",  # no trade word
    ],
)
def test_describing_our_tools_is_not_a_plug(text):
    assert "self_promotion" not in signals(prepare_text(text))


@pytest.mark.parametrize(
    "text",
    [
        "There is one video on my channel about my brother...",
        "please go to my channel",
        "I make guitar covers, please have a look at my YouTube channel",
        "Like this comment if you are watching in 2015",
        "please like my comment so everyone can see",
        "Thumbs up this comment!!",
        "Check me out! I rap so yeah",
        "Check out this video on YouTube: http://youtu.be/x",
        "Take a look at this playlist on YouTube",
    ],
)
def test_asking_the_audience_over_or_for_likes_is_self_promotion(text):
    assert signals(prepare_text(text))["self_promotion"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "I close my channel before the goroutine returns",  # "my channel" as a thing, not a place
        "I like this comment, it explains the race",  # describes, with a subject
        "don't like this comment? downvote it",
        "you should check me out of the hotel by noon",
        "I saw this video on YouTube about the same bug",  # not the share text
        "this channel has 20 million subscribers already",
    ],
)
def test_mentioning_channels_comments_and_youtube_is_not_self_promotion(text):
    assert "self_promotion" not in signals(prepare_text(text))


def test_money_named_handles_count_their_stems():
    # The testimonial scams credit a handle whose words are glued together.
    assert signals("i earned 45k with @createwealthwithluna1")["investment_terms"] == pytest.approx(math.log1p(1))
    assert signals("thanks to @linda._trades and @grace_annafx_")["investment_terms"] == pytest.approx(math.log1p(2))
    assert signals("trading with @linda_trades")["investment_terms"] == pytest.approx(math.log1p(1))  # one stem
    assert "investment_terms" not in signals("ask @learnpython or @machinelearning")  # "learn" is no "earn"
    assert "investment_terms" not in signals("#buildwealthwithmilly")  # tags are not handles here
    assert "investment_terms" not in signals("wealth, money and income as words are no stems")


@pytest.mark.parametrize("text", ["", "   ", "Great", "Thanks for", "Nice post.", "!!!"])
def test_empty_and_bare_compliments_fire_nothing(text):
    assert signals(text) == {}


def test_signals_reach_the_model_as_metadata():
    meta = meta_dict(
        Comment(
            comment_content="ɪ ɪɴᴠᴇꜱᴛᴇᴅ £500, contact her on WhatsApp. Subscribe to my channel. "
            "Financial freedom for the first 5 people!"
        )
    )
    assert {
        "money_amounts",
        "investment_terms",
        "contact_request",
        "self_promotion",
        "earning_claim",
        "urgency",
    } <= set(meta)


def test_currency_signs_are_one_token_for_the_vectorisers():
    assert prepare_text("win £500 or €20") == "win $500 or $20"


@pytest.mark.parametrize(
    "unit",
    [
        "call ",
        "call 1 ",
        "contact a a ",
        "check out my my ",
        "like my ",
        "1 k ",
        "$1,",
        "1,",
        "@a ",
        "subscribe ",
        "first 5 ",
        "make make ",
        "work from ",
        "check my blog post ",
        "earn ",
        "earn 5 ",
        "hurry ",
        "hurry up ",
        "i call now ",
        "great read ",
        "thanks for sharing ",
        "try our ",
        "try out our our ",
        "loved it ",
        "in to in ",
        "on my ",
        "like this ",
        "thumbs up this ",
        "check us ",
        "this video on youtube ",
        "@wealthtrade ",
        "txt A to ",
        "text A B C to 1",
        "send 1,1,1,",
        "#fxfxfxfx",
        "call a ",
        "call a 0 ",
        "call ab ab ab ab ab 0",
        "dial 0 0 0 0 ",
        "follow ",
        "follow me on ",
        "follow us @",
    ],
)
def test_hostile_input_is_linear(unit):
    """Counted work (tests/work_count.py): 4x the input runs ~4x the Python lines."""

    def run(text: str) -> None:
        signals(text)

    assert_linear(run, lambda n: (unit * (n // len(unit) + 1))[:n], MAX_CHARS // 4, unit)


def _rules_matching_anywhere(words, rules):
    """The rules' definition read literally: a rule counts when, at some position, each slot holds the word
    there (a number slot any digits), the word before is none of its ``not_after`` and none of its ``stop``
    words comes in the ``after`` words that follow."""
    from spamguard.scoring.behaviour import _NUMBER

    def holds(word, slot):
        return word in slot or (slot == _NUMBER and word.isdigit())

    count = 0
    for rule in rules:
        width = len(rule.slots)
        count += any(
            all(holds(words[i + j], slot) for j, slot in enumerate(rule.slots))
            and not (i and words[i - 1] in rule.not_after)
            and rule.stop.isdisjoint(words[i + width : i + width + rule.after])
            for i in range(len(words) - width + 1)
        )
    return count


def test_sequence_count_visits_only_rule_openers_and_counts_every_matching_rule():
    """Random word lists drawn from every rule's words, the stop and not-after words, numbers and filler:
    the position scan counts exactly the rules that match somewhere, read literally."""
    import random

    from spamguard.scoring import behaviour

    vocabulary = {"the", "a", "you", "and", "now", "12", "3.5", "reputation", "to", "my", "daily"}
    for rules in (behaviour._EARNING, behaviour._URGENCY):
        for rule in rules:
            vocabulary.update(w for slot in rule.slots for w in slot if w)
            vocabulary.update(rule.not_after)
            vocabulary.update(rule.stop)
    vocabulary.discard("")
    pool = sorted(vocabulary)
    rng = random.Random(11)
    hits = 0
    for _ in range(3000):
        words = [rng.choice(pool) for _ in range(rng.randint(0, 30))]
        for rules, by_first in (
            (behaviour._EARNING, behaviour._EARNING_BY_FIRST),
            (behaviour._URGENCY, behaviour._URGENCY_BY_FIRST),
        ):
            expected = _rules_matching_anywhere(words, set(rules))
            assert behaviour._count_sequences(words, by_first, set(words)) == expected, words
            hits += expected > 0
    assert hits > 500  # the lists do reach the rules, not only the empty case

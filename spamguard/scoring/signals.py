"""Request signals real blogs send (the WordPress Akismet plugin), and forum link markup in a blog
comment, as metadata features with priors.

The public corpora carry none of these fields, so a model trained on them would give every one a
weight of zero.  Each feature therefore has a *prior*: a conservative logit contribution used
until enough labelled rows with the feature exist (``MIN_SUPPORT``, e.g. from sites' feedback and
moderator decisions), after which the learned weight is kept.  The priors are deliberately small
next to the text evidence: a single signal moves a comment one band at most, never to discard.

| feature | sent when | prior (logit) | why |
|---|---|---|---|
| ``ak_js_default`` | ``POST_ak_js`` is an integer 0-250 | +1.5 | the plugin's JavaScript replaces its random default 0-250 with the page-render timestamp; bots that never ran the page post the default |
| ``ak_js_not_posted`` | other ``POST_*`` fields but no ``POST_ak_js`` | +0.5 | the form was posted without the plugin's field (scripted POST) |
| ``ak_js_fast`` | render-to-submit < 3 s (needs ``comment_date_gmt``) | +0.5 | humans do not read and type in 3 seconds (clock skew makes it noisy) |
| ``nonce_failed`` | ``akismet_comment_nonce=failed`` | +0.4 | the form's nonce did not verify (replayed or forged POST); weak because page caches make real visitors fail it too |
| ``nonce_passed`` | ``akismet_comment_nonce=passed`` | -0.25 | a real form render; weak, nonces are easy to fetch |
| ``logged_in`` | ``user_role`` set, not administrator | -1.0 | a registered user of the site (administrators are always ham, §3) |
| ``no_accept_language`` | ``HTTP_*`` headers sent without ``HTTP_ACCEPT_LANGUAGE`` | +0.5 | every browser sends it; HTTP libraries do not |
| ``ua_bot`` | user agent names a library or crawler | +0.75 | same reasoning |
| ``honeypot_filled`` | a honeypot field is filled | +3.0 | also a discard trigger (decision.py); the feature matters for training rows |
| ``bbcode_links`` | the text holds BBCode link markup (``[url=…]``, ``[link]``) and the comment is no forum post or reply | +1.5 | WordPress does not render BBCode: a blog comment carrying it was written for forums and posted everywhere by a bot (found in the text by ``features.meta_dict`` with two linear patterns; no corpus holds one) |

The request fields' values are capped and parsed without regexes; malformed values are treated as absent.
"""

from __future__ import annotations

from typing import Any

from spamguard.comment import Comment

MIN_SUPPORT = 30
PRIORS: dict[str, float] = {
    "ak_js_default": 1.5,
    "ak_js_not_posted": 0.5,
    "ak_js_fast": 0.5,
    "nonce_failed": 0.4,
    "nonce_passed": -0.25,
    "logged_in": -1.0,
    "no_accept_language": 0.5,
    "ua_bot": 0.75,
    "honeypot_filled": 3.0,
    "bbcode_links": 1.5,
}
NAMES = tuple(k for k in PRIORS if k not in ("ua_bot", "honeypot_filled"))


def _int(value: Any) -> int | None:
    text = str(value or "").strip()[:20]
    return int(text) if text.isdigit() else None


def request_signals(comment: Comment) -> dict[str, float]:
    """The WordPress-plugin signals of one comment (absent = 0 = neutral)."""
    if not comment.extra and not comment.user_role:  # most callers send neither: every signal below needs one
        return {}
    extra = comment.extra or {}
    out: dict[str, float] = {}
    ak_js = _int(extra.get("POST_ak_js"))
    if "POST_ak_js" in extra:
        if ak_js is not None and ak_js <= 250:
            out["ak_js_default"] = 1.0
        elif ak_js is not None and ak_js > 10**11 and comment.comment_date_gmt is not None:
            seconds = comment.comment_date_gmt.timestamp() - ak_js / 1000.0
            if 0 <= seconds < 3:
                out["ak_js_fast"] = 1.0
    elif any(str(k).startswith("POST_") for k in extra):
        out["ak_js_not_posted"] = 1.0
    nonce = str(extra.get("akismet_comment_nonce") or "").strip().lower()
    if nonce == "failed":
        out["nonce_failed"] = 1.0
    elif nonce == "passed":
        out["nonce_passed"] = 1.0
    if comment.roles and "administrator" not in comment.roles:
        out["logged_in"] = 1.0
    if any(str(k).startswith("HTTP_") for k in extra) and not str(extra.get("HTTP_ACCEPT_LANGUAGE") or "").strip():
        out["no_accept_language"] = 1.0
    return out

"""Undo WordPress's `wp_slash()` on comment-check bodies from its Akismet plugin.

WordPress adds backslashes to all request data (`wp_magic_quotes`) and hands
`wp_slash()`ed comment data to the `preprocess_comment` filter, where Akismet
builds its comment-check body: `We'd` arrives as `We\\'d`, and every `POST_*` and
`HTTP_*` value is slashed too.  Its submit-spam/submit-ham reports, built from the
database row and the unslashed `akismet_as_submitted` meta, are not slashed, and
neither are cron rechecks of stored rows (they carry `recheck_reason`).  So only
a first check from the plugin is unslashed, with PHP's `stripslashes()` semantics,
so the model and the report matching both see what the visitor wrote.
"""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from spamguard.api.form import Fields

# `WordPress/6.1.9 | Akismet/5.0.2` (the plugin's default `akismet_ua`).
USER_AGENT = re.compile(r"WordPress/[^\s|]{1,40} \| Akismet/[^\s|]{1,40}")
PLUGIN_HONEYPOT = "POST_ak_hp_textarea"
_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)  # one pass, linear: each backslash consumes the next character


def is_plugin(user_agent: str | None) -> bool:
    return bool(USER_AGENT.fullmatch((user_agent or "").strip()[:200]))


def stripslashes(value: str) -> str:
    """PHP's stripslashes: `\\x` → `x`, `\\\\` → `\\`, a trailing lone backslash dropped (`\\0` is NUL there,
    which SpamGuard never stores, so it is dropped too)."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: "" if m.group(1) == "0" else m.group(1), value)


def check_fields(fields: MultiDict[str, str], user_agent: str | None) -> MultiDict[str, str]:
    """A comment-check's fields as the visitor wrote them, with the plugin's honeypot named.

    Akismet 5.x puts a hidden textarea in the comment form and sends it as `POST_ak_hp_textarea`
    without declaring it in `honeypot_field_name`; declaring it lets the usual honeypot rule apply.
    """
    if is_plugin(user_agent) and not (fields.get("recheck_reason") or "").strip():
        unslashed = Fields()
        # A MultiDict is a dict of value lists: rebuilt list by list, not by one `add` call a value, and
        # stripslashes called only for a value with a backslash (most of the plugin's fields have none).
        dict.update(
            unslashed,
            {
                name: [stripslashes(value) if "\\" in value else value for value in values]
                for name, values in dict.items(fields)
            },
        )
        fields = unslashed
    if PLUGIN_HONEYPOT in fields and not (fields.get("honeypot_field_name") or "").strip():
        fields = fields.copy()
        fields["honeypot_field_name"] = PLUGIN_HONEYPOT
    return fields

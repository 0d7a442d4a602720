"""Undoing WordPress's wp_slash() on comment-check bodies, and recognising the plugin."""

from __future__ import annotations

from spamguard.api.wordpress import is_plugin, stripslashes


def test_stripslashes_semantics():
    assert stripslashes(r"We\'d say \"hi\" to C:\\dir") == 'We\'d say "hi" to C:\\dir'
    assert stripslashes("no slashes") == "no slashes"
    assert stripslashes("trailing\\") == "trailing"
    assert stripslashes("a\\0b") == "ab"  # PHP makes \0 a NUL byte; SpamGuard never stores NULs
    assert stripslashes("\\" * 200001) == "\\" * 100000  # one linear pass
    assert is_plugin("WordPress/6.1.9 | Akismet/5.0.2")
    assert not is_plugin("WordPress/6.1.9; https://blog.example") and not is_plugin("akismet.py/25.10.1 | Python/3.11")

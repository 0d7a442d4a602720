"""A serving worker must not keep what it no longer needs: old models after a swap, comments it has scored."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

from spamguard.comment import Comment
from spamguard.memory import limit_malloc_arenas, release_freed_memory, release_freed_memory_later
from spamguard.scoring import features
from spamguard.scoring.model import ModelHolder


class _Loaded:
    def __init__(self, version: str) -> None:
        self.version = version
        self.payload = bytearray(1 << 20)


def _point(model_dir: Path, version: str) -> None:
    (model_dir / "current.json").write_text(json.dumps({"version": version}))


def test_a_swapped_out_model_is_released(tmp_path):
    loaded: list[weakref.ref] = []

    def loader(_directory, version):
        model = _Loaded(version)
        loaded.append(weakref.ref(model))
        return model

    holder = ModelHolder(tmp_path, reload_seconds=0, loader=loader)
    for version in ("v1", "v2", "v3"):
        _point(tmp_path, version)
        assert holder.current().version == version
    gc.collect()
    assert [ref() is not None for ref in loaded] == [False, False, True]


def test_scoring_does_not_keep_served_comments(model_dir):
    """The per-comment analysis lives on the comment object: once a request drops it, nothing holds it."""
    scorer = ModelHolder(model_dir).current()
    served: list[weakref.ref] = []
    for i in range(50):
        comment = Comment(comment_content=f"comment number {i} about the {i}th post, thanks http://x{i}.example")
        scorer.score(comment)
        assert features.analyse(comment) is features.analyse(comment)  # memoised per comment...
        served.append(weakref.ref(comment))
        del comment
    gc.collect()
    assert not any(ref() is not None for ref in served)  # ...and gone with it


def test_memory_helpers_work_on_glibc():
    """The platforms SpamGuard ships on (Debian, the Docker image) have glibc: both calls must take effect."""
    assert limit_malloc_arenas(8)
    assert release_freed_memory()


def test_delayed_release_runs_every_pass():
    thread = release_freed_memory_later((0.0, 0.01))
    thread.join(timeout=30)
    assert not thread.is_alive()

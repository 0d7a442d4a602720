"""The sklearn transformers moved out of features.py stay reachable under their old name (old pickles)."""

from __future__ import annotations

import pickle

import pytest

from spamguard.scoring import features, transformers


def test_old_names_resolve_to_the_moved_classes():
    assert features.CommentText is transformers.CommentText
    assert features.MetaFeatures is transformers.MetaFeatures
    assert features.make_features is transformers.make_features
    with pytest.raises(AttributeError):
        _ = features.NoSuchThing  # type: ignore[attr-defined]


def test_a_pickle_naming_the_old_module_loads():
    # What joblib wrote for models trained before the move: a global reference by module and name.
    for name in ("CommentText", "MetaFeatures"):
        assert pickle.loads(f"cspamguard.scoring.features\n{name}\n.".encode()) is getattr(transformers, name)

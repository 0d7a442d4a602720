"""Freezing a worker's loaded objects: they leave the collector's generations, still freed by refcount."""

import gc

from spamguard.memory import freeze_loaded_objects


def test_freezing_moves_every_live_object_out_of_the_generations():
    try:
        frozen = freeze_loaded_objects()
        assert frozen == gc.get_freeze_count() > 0
        assert gc.get_count()[2] == 0
    finally:
        gc.unfreeze()

"""Registry copies for tests that need a model directory of their own."""

from __future__ import annotations

import shutil
from pathlib import Path


def clone_registry(src: Path, dst: Path) -> Path:
    """Copy every version of `src` (a registry) into `dst`, with the same pointer file."""
    dst.mkdir(parents=True, exist_ok=True)
    for child in Path(src).iterdir():
        if child.is_dir():
            shutil.copytree(child, dst / child.name)
        elif child.name == "current.json":
            shutil.copy2(child, dst / child.name)
    return dst

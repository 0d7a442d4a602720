"""Read-only access to the model registry's per-version files for the UI.

Only a version directory that exists under the registry root, and only a file
that is a direct child of it with an allowed type, is ever opened: names are
compared against the directory listing (never joined from user input first), so
`..`, absolute paths, symlinks out of the directory and hidden files are refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SHOWN_TYPES = {".md": "text/plain; charset=utf-8", ".png": "image/png", ".json": "application/json"}
PLOTS = {".png"}


def version_dir(root: str | Path, version: str) -> Path | None:
    """The version's directory when `version` names one directly under `root`, else None."""
    if not isinstance(version, str) or not VERSION_RE.match(version) or version in (".", ".."):
        return None
    root = Path(root).resolve()
    if not root.is_dir():
        return None
    for child in root.iterdir():
        if child.name == version and child.is_dir() and not child.is_symlink():
            return child
    return None


def manifest(root: str | Path, version: str) -> dict[str, Any] | None:
    folder = version_dir(root, version)
    if folder is None:
        return None
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def listed_files(root: str | Path, version: str) -> list[str]:
    """Names of the viewable files in the version's directory (report, plots, metrics)."""
    folder = version_dir(root, version)
    if folder is None:
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file()
        and not p.is_symlink()
        and not p.name.startswith(".")
        and p.suffix.lower() in SHOWN_TYPES
        and p.name != MANIFEST
    )


def file_path(root: str | Path, version: str, name: str) -> Path | None:
    """The file when `name` is one of `listed_files`, else None."""
    if name not in listed_files(root, version):
        return None
    directory = version_dir(root, version)
    return directory / name if directory else None

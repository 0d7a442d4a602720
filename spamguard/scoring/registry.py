"""Model registry: versioned artifacts + manifests, verification, an atomic pointer, promotion history.

Serving owns the registry (training only writes to it through this class), so
`spamguard` never imports `model_training`.  There is ONE way to point workers at
a version, :meth:`Registry.promote`, and it verifies the artifact first: the CLI,
the admin UI, rollbacks and automatic promotion after training all go through it.

Layout::

    <model_dir>/<version>/model.joblib       (the pickled sklearn model: training, evaluation)
    <model_dir>/<version>/serving.npz        (what workers score with: numpy arrays, no pickle)
    <model_dir>/<version>/manifest.json      (sha256 of both, the serving fields, metrics, thresholds, ...)
    <model_dir>/<version>/{metrics.json,report.md,roc.png,pr.png}
    <model_dir>/current.json                 {"version": ..., "stack": [...], "history": [...]}

``current.json`` is written to a temporary file and moved into place with
``os.replace``; writers hold an ``fcntl`` lock on ``<model_dir>/.lock``.

Nothing is unpickled that the service did not write and verify: each artifact's bytes are hashed
and compared with the manifest before they are read.  ``serving.npz`` is read with
``allow_pickle=False`` besides, and a worker that has it never opens ``model.joblib`` (nor imports
sklearn); versions without it (older ones, or pipelines the scoring fast path refuses) are served
from the pickle.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import io
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

POINTER = "current.json"
ARTIFACT = "model.joblib"
MANIFEST = "manifest.json"
SERVING = "serving.npz"


class RegistryError(RuntimeError):
    pass


class ChecksumMismatch(RegistryError):
    """The artifact on disk does not match the sha256 in its manifest (corrupted or tampered with)."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def new_version(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def _atomic_write_json(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Registry:
    def __init__(self, model_dir: str | Path):
        self.root = Path(model_dir)

    # -- helpers -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise RegistryError(f"invalid version {version!r}")
        return self.root / version

    def _read_verified(self, path: Path, expected: Any) -> bytes:
        # Hash and parse the same bytes: no window for the file to change in between.
        data = path.read_bytes()
        actual = sha256_bytes(data)
        if actual != expected:
            raise ChecksumMismatch(
                f"refusing to load {path}: sha256 {actual} does not match manifest "
                f"{expected} (file corrupted or tampered with)"
            )
        return data

    def _pointer(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / POINTER).read_text())
        except FileNotFoundError:
            return {"version": None, "history": []}

    # -- reading -------------------------------------------------------------------------------
    def manifest(self, version: str) -> dict[str, Any]:
        path = self.path(version) / MANIFEST
        if not path.exists():
            raise RegistryError(f"unknown model version {version!r} in {self.root}")
        return json.loads(path.read_text())

    def list(self) -> list[dict[str, Any]]:
        """Manifests of every version, oldest first, with a ``promoted`` flag."""
        if not self.root.exists():
            return []
        current = self.current_version()
        out = []
        for child in sorted(self.root.iterdir()):
            if child.is_dir() and (child / MANIFEST).exists():
                manifest = json.loads((child / MANIFEST).read_text())
                manifest["promoted"] = manifest["version"] == current
                out.append(manifest)
        return out

    def current_version(self) -> str | None:
        return self._pointer().get("version")

    def history(self) -> builtins.list[dict[str, Any]]:
        return list(self._pointer().get("history", []))

    def load(self, version: str | None = None) -> tuple[Any, dict[str, Any]]:
        """(model, manifest). Verifies the artifact's sha256 *before* unpickling it."""
        version = version or self.current_version()
        if not version:
            raise RegistryError(f"no promoted model in {self.root}")
        import joblib  # not at module level: workers serving a serving.npz never unpickle

        manifest = self.manifest(version)
        data = self._read_verified(self.path(version) / ARTIFACT, manifest.get("artifact_sha256"))
        return joblib.load(io.BytesIO(data)), manifest

    def load_serving(self, version: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """(arrays of serving.npz, manifest), verified by sha256 and read without pickle; None when
        the version has no serving artifact (then only :meth:`load` serves it)."""
        manifest = self.manifest(version)
        serving = manifest.get("serving")
        if not serving:
            return None
        data = self._read_verified(self.path(version) / SERVING, serving.get("sha256"))
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}, manifest

    # -- writing -------------------------------------------------------------------------------
    def register(self, model: Any, manifest: dict[str, Any], version: str | None = None) -> str:
        import joblib

        version = version or new_version()
        directory = self.path(version)
        directory.mkdir(parents=True, exist_ok=False)
        tmp = directory / f".{ARTIFACT}.tmp"
        joblib.dump(model, tmp, compress=3)
        os.replace(tmp, directory / ARTIFACT)
        manifest = dict(
            manifest,
            version=version,
            artifact_sha256=sha256_file(directory / ARTIFACT),
            artifact_bytes=(directory / ARTIFACT).stat().st_size,
        )
        manifest.pop("serving", None)  # a copied manifest's: this version's own (or none) follows
        # SpamModel.serving_artifact(): (arrays, JSON fields), or None when scoring must go through sklearn.
        export = getattr(model, "serving_artifact", None)
        serving = export() if export is not None else None
        if serving is not None:
            arrays, fields = serving
            tmp = directory / f".{SERVING}.tmp"
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, allow_pickle=False, **arrays)
            os.replace(tmp, directory / SERVING)
            manifest["serving"] = dict(
                fields, sha256=sha256_file(directory / SERVING), bytes=(directory / SERVING).stat().st_size
            )
        manifest.setdefault("created", datetime.now(UTC).isoformat())
        _atomic_write_json(directory / MANIFEST, manifest)
        return version

    def update_manifest(self, version: str, **changes: Any) -> dict[str, Any]:
        manifest = self.manifest(version)
        manifest.update(changes)
        _atomic_write_json(self.path(version) / MANIFEST, manifest)
        return manifest

    def verify(self, version: str) -> dict[str, Any]:
        """Load ``version`` as a worker would; its manifest, or an error.

        With a serving artifact: that one (checksum, then read without pickle), and the pickle's
        checksum only (training reads it; unpickling would import sklearn into the admin's worker).
        Without: the pickle (checksum, then unpickle).
        """
        try:
            serving = self.load_serving(version)
            if serving is None:
                _model, manifest = self.load(version)
            else:
                manifest = serving[1]
                self._read_verified(self.path(version) / ARTIFACT, manifest.get("artifact_sha256"))
        except RegistryError:  # unknown version, checksum mismatch: already says what is wrong
            raise
        except Exception as exc:  # unpicklable despite a matching checksum: still not servable
            raise RegistryError(f"model {version} does not load: {exc}") from exc
        return manifest

    def promote(self, version: str, reason: str = "manual") -> None:
        """Point ``current.json`` at ``version`` after verifying it; skips the gate (the caller's choice).

        Raises :class:`RegistryError` (or :class:`ChecksumMismatch`) and leaves the pointer
        unchanged when the version is unknown or does not load.
        """
        self.verify(version)
        with self._locked():
            pointer = self._pointer()
            history = pointer.get("history", [])
            stack = [v for v in pointer.get("stack", []) if v != version] + [version]
            history.append({"version": version, "at": datetime.now(UTC).isoformat(), "reason": reason})
            _atomic_write_json(self.root / POINTER, {"version": version, "stack": stack, "history": history})

    def rollback(self) -> str:
        """Go back to the previously promoted version (a stack: repeated rollbacks go further back).

        The target is verified like any promotion; a rollback never points workers at a broken artifact.
        """
        with self._locked():
            pointer = self._pointer()
            history = pointer.get("history", [])
            current = pointer.get("version")
            stack = [v for v in pointer.get("stack", []) if (self.path(v) / MANIFEST).exists()]
            if stack and stack[-1] == current:
                stack.pop()
            if not stack:
                raise RegistryError("nothing to roll back to: no earlier promoted version")
            previous = stack[-1]
            self.verify(previous)
            history.append(
                {"version": previous, "at": datetime.now(UTC).isoformat(), "reason": f"rollback from {current}"}
            )
            _atomic_write_json(self.root / POINTER, {"version": previous, "stack": stack, "history": history})
            return previous

    def fallbacks(self, exclude: str | None = None) -> builtins.list[str]:
        """Earlier promoted versions, most recent first: what a worker may serve when the current one is broken."""
        seen: set[str] = {exclude} if exclude else set()
        out = []
        for entry in reversed(self.history()):
            version = entry.get("version")
            if not version or version in seen or "/" in version or version.startswith("."):
                continue
            if (self.root / version / MANIFEST).exists():
                seen.add(version)
                out.append(version)
        return out

"""Registry: versions, checksums, atomic pointer, promotion history, rollback, the gate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from model_training import train as train_mod
from model_training.cli import model as model_cli
from model_training.registry import gate
from spamguard.scoring.registry import ChecksumMismatch, Registry, RegistryError


def _clone_version(registry: Registry, version: str) -> str:
    model, manifest = registry.load(version)
    manifest = {k: v for k, v in manifest.items() if k not in ("version", "artifact_sha256", "artifact_bytes")}
    return registry.register(model, manifest)


def test_manifest_has_provenance(registry_dir, current_version):
    manifest = Registry(registry_dir).manifest(current_version)
    for key in ("version", "created", "training_data", "libraries", "metrics", "thresholds", "artifact_sha256"):
        assert key in manifest
    assert len(manifest["training_data"]["sha256"]) == 64 and manifest["training_data"]["bytes"] > 0
    assert manifest["libraries"]["scikit-learn"]
    assert set(manifest["thresholds"]) == {"unsure", "spam", "discard"}
    for name in ("metrics.json", "report.md", "roc.png", "pr.png", "model.joblib"):
        assert (registry_dir / current_version / name).stat().st_size > 0


def test_checksum_mismatch_refuses_to_load(registry_dir, current_version):
    artifact = registry_dir / current_version / "model.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with pytest.raises(ChecksumMismatch, match="does not match manifest"):
        Registry(registry_dir).load(current_version)


def test_promote_rollback_and_history(registry_dir, current_version):
    registry = Registry(registry_dir)
    v2 = _clone_version(registry, current_version)
    v3 = _clone_version(registry, current_version)
    assert registry.current_version() == current_version  # registering does not promote
    registry.promote(v2)
    registry.promote(v3)
    assert registry.current_version() == v3
    assert registry.rollback() == v2
    assert registry.rollback() == current_version
    with pytest.raises(RegistryError):
        registry.rollback()
    assert [h["version"] for h in registry.history()][-4:] == [v2, v3, v2, current_version]
    pointer = json.loads((registry_dir / "current.json").read_text())
    assert pointer["version"] == current_version
    assert not list(registry_dir.glob(".current.json.*"))  # temp files replaced, none left over
    assert {m["version"] for m in registry.list()} == {current_version, v2, v3}


def _corrupt(registry_dir, version: str) -> None:
    artifact = registry_dir / version / "model.joblib"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))


def test_promote_and_rollback_refuse_a_version_that_does_not_verify(registry_dir, current_version):
    registry = Registry(registry_dir)
    bad = _clone_version(registry, current_version)
    _corrupt(registry_dir, bad)
    with pytest.raises(ChecksumMismatch):
        registry.promote(bad)
    assert registry.current_version() == current_version
    result = CliRunner().invoke(model_cli, ["--model-dir", str(registry_dir), "promote", bad])
    assert result.exit_code != 0 and "does not match manifest" in result.output
    assert registry.current_version() == current_version
    # A rollback is a promotion too: it does not go back to an artifact corrupted since.
    good = _clone_version(registry, current_version)
    registry.promote(good)
    _corrupt(registry_dir, current_version)
    with pytest.raises(ChecksumMismatch):
        registry.rollback()
    assert registry.current_version() == good


def test_gate_function():
    good = {"roc_auc": 0.99, "recall_at_1pct_fpr": 0.90}
    assert gate(good, None, 0.005)[0]
    assert gate({"roc_auc": 0.987, "recall_at_1pct_fpr": 0.897}, good, 0.005)[0]
    ok, why = gate({"roc_auc": 0.99, "recall_at_1pct_fpr": 0.80}, good, 0.005)
    assert not ok and "recall_at_1pct_fpr" in why
    # Out-of-domain: a worse worst-held-out-corpus recall fails even when the gate set is as good.
    ood = {**good, "loco_worst_recall_at_1pct_fpr": 0.30}
    ok, why = gate({**good, "loco_worst_recall_at_1pct_fpr": 0.20}, ood, 0.005)
    assert not ok and "loco_worst" in why
    assert gate({**good, "loco_worst_recall_at_1pct_fpr": 0.20}, good, 0.005)[0]  # current predates LOCO


def test_gate_refuses_a_worse_candidate_but_keeps_it(registry_dir, current_version, monkeypatch):
    real_fit = train_mod.fit_quick

    def sabotaged(examples):
        rng = np.random.default_rng(0)
        for e, flip in zip(examples, rng.random(len(examples)) < 0.35, strict=True):
            if flip:
                e.label = 1 - e.label
        return real_fit(examples)

    monkeypatch.setattr(train_mod, "fit_quick", sabotaged)
    manifest = train_mod.train_and_register(registry_dir, quick=True, progress=False)
    assert manifest["promoted"] is False and manifest["gate_decision"]["passed"] is False
    registry = Registry(registry_dir)
    assert registry.current_version() == current_version
    assert manifest["version"] in {m["version"] for m in registry.list()}
    # ...and the operator can still promote it by hand.
    result = CliRunner().invoke(model_cli, ["--model-dir", str(registry_dir), "promote", manifest["version"]])
    assert result.exit_code == 0, result.output
    assert registry.current_version() == manifest["version"]


def test_cli_help_list_promote_rollback(registry_dir, current_version):
    runner = CliRunner()
    for args in ([], ["train"], ["evaluate"], ["list"], ["promote"], ["rollback"]):
        result = runner.invoke(model_cli, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
    base = ["--model-dir", str(registry_dir)]
    result = runner.invoke(model_cli, [*base, "list"])
    assert result.exit_code == 0 and f"* {current_version}" in result.output
    assert runner.invoke(model_cli, [*base, "promote", "nope"]).exit_code != 0
    result = runner.invoke(model_cli, [*base, "rollback"])
    assert result.exit_code != 0 and "nothing to roll back" in result.output
    v2 = _clone_version(Registry(registry_dir), current_version)
    assert runner.invoke(model_cli, [*base, "promote", v2]).exit_code == 0
    result = runner.invoke(model_cli, [*base, "rollback"])
    assert result.exit_code == 0 and current_version in result.output


def test_cli_evaluate_scores_the_gate_set(registry_dir, current_version):
    result = CliRunner().invoke(model_cli, ["--model-dir", str(registry_dir), "evaluate"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["version"] == current_version
    assert out["gate"]["roc_auc"] > 0.97 and out["gate"]["n"] > 1000


def test_python_dash_m_model_training_help():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-m", "model_training", "--help"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and "rollback" in out.stdout and "train" in out.stdout

"""`spamguard model ...`: train, evaluate, list, promote, rollback.

`spamguard/cli.py` loads this group by name when `spamguard model` is invoked (serving
never imports training code); ``python -m model_training`` runs the same group.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click


def _model_dir() -> Path:
    from spamguard.config import from_env

    return Path(from_env()["SPAMGUARD_MODEL_DIR"])


@click.group(name="model")
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Registry directory (default: $SPAMGUARD_MODEL_DIR).",
)
@click.pass_context
def model(ctx: click.Context, model_dir: Path | None) -> None:
    """Train, evaluate and manage spam-model versions."""
    ctx.ensure_object(dict)
    ctx.obj["model_dir"] = model_dir or _model_dir()


@model.command()
@click.option(
    "--quick", is_flag=True, help="Fixed C; leave-one-corpus-out thresholds only, no nested/baseline/LOVO report."
)
@click.option("--from-db", is_flag=True, help="Add labelled feedback from DATABASE_URL (capped per key).")
@click.option("--no-promote", is_flag=True, help="Register the candidate but never promote it.")
@click.option("--jobs", default=2, show_default=True, help="Parallel processes for CV / evaluation.")
@click.pass_context
def train(ctx: click.Context, quick: bool, from_db: bool, no_promote: bool, jobs: int) -> None:
    """Train a candidate, evaluate it, register it and promote it if it passes the gate."""
    from model_training.train import train_and_register

    session = None
    if from_db:
        from dataclasses import replace

        from spamguard.config import from_env
        from spamguard.storage import Timeouts, make_sessionmaker

        config = from_env()  # a batch job: no statement timeout
        session = make_sessionmaker(config["DATABASE_URL"], replace(Timeouts.from_config(config), statement=0))()
    try:
        manifest = train_and_register(
            ctx.obj["model_dir"], quick=quick, from_db_session=session, promote=not no_promote, n_jobs=jobs
        )
    finally:
        if session is not None:
            session.close()
    m = manifest["metrics"]
    click.echo(f"registered {manifest['version']} in {ctx.obj['model_dir']}")
    click.echo(
        f"  training examples: {manifest['training_data']['n_examples']} "
        f"(feedback {manifest['training_data']['n_feedback']}), {m['train_seconds']:.1f}s"
    )
    click.echo(f"  gate set: AUC {m['gate']['roc_auc']:.4f}, recall@1%FPR {m['gate']['recall_at_1pct_fpr']:.4f}")
    click.echo(f"  leave-one-corpus-out, worst held-out recall@1%FPR: {m['loco_worst_recall_at_1pct_fpr']:.4f}")
    for corpus, c in m["loco"].items():
        nested = m.get("loco_nested", {}).get(corpus, {})
        base = m.get("loco_baseline", {}).get(corpus, {})
        auc = f"AUC {c['roc_auc']:.4f}, recall@1%FPR {c['recall_at_1pct_fpr']:.4f}, " if c.get("roc_auc") else ""
        click.echo(
            f"    {corpus}: {auc}ham blocked {c['ham_blocked_at_spam_threshold']:.4f}"
            + (f" (nested {nested['ham_blocked_at_spam_threshold']:.4f})" if nested else "")
            + (f"; baseline AUC {base['roc_auc']:.4f}" if base.get("roc_auc") else "")
        )
    if "lovo_pooled" in m:
        click.echo(
            f"  leave-one-video-out (YouTube, pooled): AUC {m['lovo_pooled']['roc_auc']:.4f}, recall@1%FPR "
            f"{m['lovo_pooled']['recall_at_1pct_fpr']:.4f} (baseline {m['lovo_pooled_baseline']['roc_auc']:.4f} / "
            f"{m['lovo_pooled_baseline']['recall_at_1pct_fpr']:.4f})"
        )
    click.echo(f"  thresholds: {json.dumps(manifest['thresholds'])}")
    gate = manifest["gate_decision"]
    state = (
        "promoted" if manifest["promoted"] else ("NOT promoted (--no-promote)" if gate["passed"] else "NOT promoted")
    )
    click.echo(f"  {state}: {gate['reason']}")
    click.echo(f"  report: {Path(ctx.obj['model_dir']) / manifest['version'] / 'report.md'}")


@model.command()
@click.argument("version", required=False)
@click.pass_context
def evaluate(ctx: click.Context, version: str | None) -> None:
    """Score VERSION (default: the current one) on the fixed gate set and show its stored metrics."""
    from model_training.evaluate import evaluate_version
    from spamguard.scoring.registry import RegistryError

    try:
        result = evaluate_version(ctx.obj["model_dir"], version)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result, indent=2, sort_keys=True))


@model.command(name="list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List registered versions (* = promoted)."""
    from spamguard.scoring.registry import Registry

    manifests = Registry(ctx.obj["model_dir"]).list()
    if not manifests:
        click.echo("no models registered")
        return
    for m in manifests:
        gate = m.get("metrics", {}).get("gate", {})
        click.echo(
            f"{'*' if m['promoted'] else ' '} {m['version']}  {m.get('kind', ''):5}  "
            f"AUC {gate.get('roc_auc', float('nan')):.4f}  "
            f"recall@1% {gate.get('recall_at_1pct_fpr', float('nan')):.4f}  "
            f"spam≥{m['thresholds']['spam']:.3f}  {m.get('gate_decision', {}).get('reason', '')}"
        )


@model.command()
@click.argument("version")
@click.pass_context
def promote(ctx: click.Context, version: str) -> None:
    """Promote VERSION by hand (skips the gate: the operator's explicit choice; the checksum is still verified)."""
    from spamguard.scoring.registry import Registry, RegistryError

    try:
        Registry(ctx.obj["model_dir"]).promote(version, reason="manual")
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"promoted {version}")


@model.command()
@click.pass_context
def rollback(ctx: click.Context) -> None:
    """Go back to the previously promoted version."""
    from spamguard.scoring.registry import Registry, RegistryError

    try:
        version = Registry(ctx.obj["model_dir"]).rollback()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rolled back to {version}")


def main() -> None:  # pragma: no cover - console entry
    model(obj={}, prog_name=os.environ.get("SPAMGUARD_PROG", "python -m model_training"))

"""Moderation's dependencies run one way: views hold no SQL, storage knows no views, no module registers
routes by being imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "spamguard"
VIEWS = ("admin", "auth", "deliveries", "detail", "models_page", "queue", "stats")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("view", VIEWS)
def test_views_hold_no_sql_and_do_not_reach_the_blueprint(view):
    found = imports(PACKAGE / "moderation" / f"{view}.py")
    assert not {n for n in found if n.startswith("sqlalchemy")}, "queries belong in spamguard/storage/queries"
    assert not {n for n in found if n.startswith("spamguard.moderation.blueprint")}


def test_storage_and_delivery_do_not_import_the_ui():
    for path in [*(PACKAGE / "storage").rglob("*.py"), *(PACKAGE / "delivery").rglob("*.py")]:
        if "migrations" not in path.parts:
            assert not {n for n in imports(path) if n.startswith("spamguard.moderation")}, path
    for path in (PACKAGE / "storage" / "queries").glob("*.py"):
        assert not {n for n in imports(path) if n.startswith(("flask", "spamguard.api"))}, path


def _module_graph(package: str) -> dict[str, set[str]]:
    folder = PACKAGE / package.split(".")[-1]
    names = {f"{package}.{p.stem}" for p in folder.glob("*.py")} - {f"{package}.__init__"}
    return {name: {n for n in imports(folder / f"{name.rsplit('.', 1)[1]}.py") if n in names} for name in names}


def test_no_import_cycle_inside_moderation():
    """Static: the module graph of spamguard.moderation has no cycle (blueprint <-> security was one)."""
    graph = _module_graph("spamguard.moderation")
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, " -> ".join(path + (node,))
        if node in done:
            return
        for nxt in graph[node]:
            visit(nxt, path + (node,))
        done.add(node)

    for node in graph:
        visit(node, ())
    assert "spamguard.moderation.security" in graph["spamguard.moderation.blueprint"]  # the graph is read


def test_the_blueprint_module_alone_builds_every_route():
    done = subprocess.run(
        [sys.executable, "-c", "from spamguard.moderation.blueprint import bp, ROUTES; print(len(ROUTES))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-1500:]
    assert int(done.stdout.strip()) >= 20

"""The domain logic depends on its ports only: it imports nothing of the process's composition
(genjobs.deps), of the boto3 side (genjobs.dal) or of the entry points (handlers, routes), not even
for types, so the layers are one-way and logic runs against any implementation of its ports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LOGIC = Path(__file__).resolve().parents[2] / "functions" / "genjobs" / "logic"
OUTSIDE = ("genjobs.deps", "genjobs.dal", "genjobs.handlers", "genjobs.routes")


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


@pytest.mark.parametrize("path", sorted(LOGIC.glob("*.py")), ids=lambda p: p.stem)
def test_logic_imports_nothing_outside_its_layer(path: Path) -> None:
    # GIVEN a logic module's imports
    # THEN none reaches the composition root, the repositories or the entry points
    outside = sorted(name for name in imports(path) if any(_within(name, layer) for layer in OUTSIDE))
    assert outside == []

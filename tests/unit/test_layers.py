"""The layers import downwards only: storage, db and xet know nothing of the Hub's domain or its HTTP API;
the domain (hub/) knows nothing of the API. Read from the source, so a new import that breaks the shape
fails here rather than in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "hubd"
FORBIDDEN = {
    "storage": ("hubd.api", "hubd.hub", "hubd.web", "hubd.xet", "hubd.dataviewer", "hubd.mirror", "hubd.git"),
    "db": ("hubd.api", "hubd.hub", "hubd.web", "hubd.storage", "hubd.xet", "hubd.mirror"),
    "xet": ("hubd.api", "hubd.hub", "hubd.web", "hubd.mirror"),
    "hub": ("hubd.api", "hubd.web"),
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(package: str) -> None:
    wrong = {
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / package).rglob("*.py")
        for name in imports_of(path)
        if name.startswith(FORBIDDEN[package])
    }
    assert not wrong, sorted(wrong)

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


# Handlers parse, call the domain and shape the answer: SQL and storage are the domain's to touch.
HANDLER_PACKAGES = ("api", "web")
HANDLERS_ALLOWED: set[str] = set()  # none: keep it so


def _names_hub(node: ast.expr) -> bool:
    """`hub`, `ctx.hub`, `self.hub`: an expression naming the Hub."""
    return (isinstance(node, ast.Name) and node.id == "hub") or (isinstance(node, ast.Attribute) and node.attr == "hub")


def storage_or_sql_in(path: Path) -> set[str]:
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for name in imports_of(path):
        if name.split(".")[0] == "sqlalchemy" or name.startswith("hubd.db"):
            found.add(f"imports {name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "blobs":
            found.add(f"line {node.lineno}: .blobs")
        elif isinstance(node, ast.Attribute) and node.attr == "db" and _names_hub(node.value):
            found.add(f"line {node.lineno}: hub.db")
        elif isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Name) and f.id == "select") or (isinstance(f, ast.Attribute) and f.attr == "execute"):
                found.add(f"line {node.lineno}: {ast.unparse(f)}(")
    return found


@pytest.mark.parametrize("package", HANDLER_PACKAGES)
def test_handlers_touch_no_storage_or_sql(package: str) -> None:
    wrong = {
        f"{path.relative_to(SRC)} {what}"
        for path in (SRC / package).rglob("*.py")
        if str(path.relative_to(SRC)) not in HANDLERS_ALLOWED
        for what in storage_or_sql_in(path)
    }
    assert not wrong, sorted(wrong)

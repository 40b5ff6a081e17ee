"""Migrations are complete: a database migrated from nothing matches the models, on both engines."""

from __future__ import annotations

from pathlib import Path

from hubd.db.engine import Database
from hubd.db.migrate import drift
from tests.backends import BACKEND, new_database


def test_migrated_schema_matches_models(tmp_path: Path) -> None:
    url = new_database() if BACKEND == "postgres-s3" else f"sqlite:///{tmp_path / 'm.db'}"
    db = Database(url)
    db.create_schema()
    assert drift(db) == []
    db.create_schema()  # a second start migrates nothing and fails nothing
    assert drift(db) == []

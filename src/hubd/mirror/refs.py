"""Revisions of mirrored repos are the upstream's: names resolved upstream (with a TTL), commits fetched."""

from __future__ import annotations

from typing import Any

from hubd.db.engine import Database
from hubd.hub.models import Repo
from hubd.hub.refs import Refs


class MirrorRefs(Refs):
    def __init__(self, db: Database, mirror: Any) -> None:
        super().__init__(db)
        self.mirror = mirror

    def resolve(self, repo: Repo, rev: str) -> str:
        if self.mirror.is_mirrored(repo.id):
            return self.mirror.resolve(repo, rev, super().resolve)
        return super().resolve(repo, rev)

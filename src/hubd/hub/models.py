"""Plain records the domain hands to the API layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hubd.hub.names import TYPE_PREFIX


@dataclass(frozen=True)
class Repo:
    id: int
    type: str
    namespace: str
    name: str
    private: bool
    gated: str  # "" | "auto" | "manual"
    sdk: str | None
    created_at: float
    last_modified: float
    head_sha: str | None
    downloads: int = 0
    downloads_all_time: int = 0
    likes: int = 0
    trending_score: float = 0.0
    pipeline_tag: str | None = None
    library_name: str | None = None
    used_storage: int = 0
    derived_sha: str | None = None
    created_by: int | None = None  # the account that created it (an org's contributors write only to theirs)

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def url_path(self) -> str:
        return f"{TYPE_PREFIX[self.type]}{self.namespace}/{self.name}"

    @property
    def gated_value(self) -> str | bool:
        return self.gated or False


def repo_from_row(row: Any) -> Repo:
    m = row._mapping
    return Repo(
        id=m["id"], type=m["type"], namespace=m["namespace"], name=m["name"], private=bool(m["private"]),
        gated=m["gated"] or "", sdk=m["sdk"], created_at=m["created_at"], last_modified=m["last_modified"],
        head_sha=m["head_sha"], downloads=m["downloads"] or 0, downloads_all_time=m["downloads_all_time"] or 0,
        likes=m["likes"] or 0, trending_score=m["trending_score"] or 0.0, pipeline_tag=m["pipeline_tag"],
        library_name=m["library_name"], used_storage=m["used_storage"] or 0, derived_sha=m["derived_sha"],
        created_by=m["created_by"],
    )


def iso(ts: float) -> str:
    """The only date format the client parses: milliseconds and a Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

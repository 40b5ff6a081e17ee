"""Plain records the domain hands to the API layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NewType

CommitSha = NewType("CommitSha", str)


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

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def url_path(self) -> str:
        prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[self.type]
        return f"{prefix}{self.namespace}/{self.name}"

    @property
    def gated_value(self) -> str | bool:
        return self.gated or False


def repo_from_row(row: Any) -> Repo:
    m = row._mapping
    return Repo(
        id=m["id"], type=m["type"], namespace=m["namespace"], name=m["name"], private=bool(m["private"]),
        gated=m["gated"] or "", sdk=m["sdk"], created_at=m["created_at"], last_modified=m["last_modified"],
        head_sha=m["head_sha"],
    )


def iso(ts: float) -> str:
    """The only date format the client parses: milliseconds and a Z."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

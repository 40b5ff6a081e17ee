"""Deleting a repo removes every row that names it, through the schema's ON DELETE CASCADE, on the
engine of the pass (SQLite with foreign keys on, or PostgreSQL built by the Alembic migrations)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from sqlalchemy import func, select

from hubd.db.schema import metadata
from tests.inprocess import inprocess_hub


def test_delete_leaves_no_row_naming_the_repo(tmp_path: Path) -> None:
    with inprocess_hub(tmp_path) as h:
        h.add_user("alice")
        auth = h.auth("alice")
        assert h.client.post("/api/repos/create", json={"name": "doomed", "type": "model"},
                             headers=auth).status_code == 200
        readme = b"---\nlicense: mit\ntags: [a]\n---\n# doomed\n"
        body = b"\n".join(json.dumps(x).encode() for x in [
            {"key": "header", "value": {"summary": "card"}},
            {"key": "file", "value": {"path": "README.md", "content": base64.b64encode(readme).decode(),
                                      "encoding": "base64"}}])
        r = h.client.post("/api/models/alice/doomed/commit/main", content=body,
                          headers={**auth, "Content-Type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        assert h.client.post("/api/models/alice/doomed/like", headers=auth).status_code == 200
        r = h.client.post("/api/models/alice/doomed/discussions", json={"title": "t", "description": "d"},
                          headers=auth)
        assert r.status_code == 200, r.text
        assert h.client.get("/alice/doomed/resolve/main/README.md").status_code == 200  # a download
        repo = h.hub.repos.find("model", "alice", "doomed")
        assert repo is not None
        tables = [t for t in metadata.sorted_tables if "repo_id" in t.c and t.name != "jobs"]
        with h.hub.db.read() as conn:
            before = {t.name: conn.execute(select(func.count()).select_from(t).where(t.c.repo_id == repo.id))
                      .scalar() for t in tables}
        assert {"refs", "repo_commits", "likes", "discussions"} <= {name for name, n in before.items() if n}

        r = h.client.request("DELETE", "/api/repos/delete", json={"name": "doomed", "type": "model"}, headers=auth)
        assert r.status_code == 200, r.text
        with h.hub.db.read() as conn:
            after = {t.name: conn.execute(select(func.count()).select_from(t).where(t.c.repo_id == repo.id))
                     .scalar() for t in tables}
        assert set(after.values()) == {0}, after
        assert h.client.get("/api/models/alice/doomed", headers=auth).status_code == 404

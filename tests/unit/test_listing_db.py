"""The listing query against a real database: both search strategies give the brute-force answer."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import insert

from hubd.db.engine import Database
from hubd.db.schema import repo_tags, repos
from hubd.hub import listing
from hubd.hub.listing import ListQuery, list_repos
from tests.backends import BACKEND, new_database

WORDS = ["alpha", "bert", "common", "delta", "rare", "zeta"]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    url = new_database() if BACKEND == "postgres-s3" else f"sqlite:///{tmp_path / 'l.db'}"
    database = Database(url)
    database.create_schema()
    rng = random.Random(3)
    rows, tags = [], []
    for i in range(1, 401):
        word = "common" if i % 3 == 0 else rng.choice(WORDS[:-2])
        if i in (17, 333):
            word = "zetarare"
        name = f"{word}-{i}"
        rows.append({"id": i, "type": "model", "namespace": f"user{i % 7}", "name": name,
                     "search_id": f"user{i % 7}/{name}".lower(), "private": i % 50 == 0, "gated": "",
                     "created_at": float(rng.randrange(10**6)), "last_modified": float(i),
                     "downloads": rng.randrange(100), "likes": rng.randrange(5), "trending_score": 0.0,
                     "next_discussion": 1})
        tags.append({"repo_id": i, "tag": "tag-common" if i % 2 else "tag-odd"})
        if i in (5, 250):
            tags.append({"repo_id": i, "tag": "tag-rare"})
    with database.write() as conn:
        conn.execute(insert(repos), rows)
        conn.execute(insert(repo_tags), tags)
    return database


def brute_force(db: Database, q: ListQuery) -> list[str]:
    with db.read() as conn:
        all_rows = [dict(r) for r in conn.execute(repos.select()).mappings()]
        tagged = {}
        for r in conn.execute(repo_tags.select()).mappings():
            tagged.setdefault(r["repo_id"], set()).add(r["tag"])
    key = {"createdAt": "created_at", "downloads": "downloads", "lastModified": "last_modified"}[q.sort]
    keep = [r for r in all_rows if not r["private"] and all(t in r["search_id"] for t in q.search)
            and all(t in tagged.get(r["id"], set()) for t in q.tags)]
    keep.sort(key=lambda r: (r[key], r["id"]), reverse=q.descending)
    return [f"{r['namespace']}/{r['name']}" for r in keep]


def walk(db: Database, q: ListQuery) -> list[str]:
    out, cursor = [], None
    while True:
        q.cursor = cursor
        items, cursor = list_repos(db, None, q)
        out += [i.repo.repo_id for i in items]
        if cursor is None:
            return out


@pytest.mark.parametrize("budget", [5, 2000])
@pytest.mark.parametrize(("search", "tags"), [
    ([], []), (["common"], []), (["zetarare"], []), (["rar"], []), (["USER3", "bert"], []), ([], ["tag-rare"]),
    ([], ["tag-common"]), (["common"], ["tag-odd"]), (["nothing-matches"], []),
])
@pytest.mark.parametrize(("sort", "descending"), [("createdAt", True), ("downloads", False), ("lastModified", True)])
def test_listing_matches_brute_force(db: Database, monkeypatch: pytest.MonkeyPatch, budget: int, search: list[str],
                                     tags: list[str], sort: str, descending: bool) -> None:
    monkeypatch.setattr(listing, "SCAN_BUDGET", budget)
    q = ListQuery("model", search=search, tags=tags, sort=sort, descending=descending, limit=7)
    expected = brute_force(db, ListQuery("model", search=[s.lower() for s in search], tags=tags, sort=sort,
                                         descending=descending))
    assert walk(db, q) == expected

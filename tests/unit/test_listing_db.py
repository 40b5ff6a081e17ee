"""The listing query against a real database: both search strategies give the brute-force answer."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from hubd.db.engine import Database
from hubd.db.schema import repo_tags, repos
from hubd.hub import listing
from hubd.hub.access import Principal
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


def walk(db: Database, q: ListQuery, p: Principal | None = None) -> list[str]:
    """Every page of a listing for this caller, following its cursors."""
    out, cursor = [], None
    while True:
        q.cursor = cursor
        items, cursor = list_repos(db, p, q)
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


SORT_COLUMNS = {"createdAt": "created_at", "lastModified": "last_modified", "downloads": "downloads",
                "likes": "likes", "trendingScore": "trending_score"}


def visible_by_tag(db: Database, tags: list[str], sort: str, descending: bool, p: Principal | None) -> list[str]:
    """What a listing by tags shows, straight from `repos` (the order listings had before tag rows carried
    the sort keys): (sort key, id), public repos and the private ones the caller may list."""
    seen = listing.visibility_class(p)
    with db.read() as conn:
        tagged: dict[int, set[str]] = {}
        for r in conn.execute(repo_tags.select()).mappings():
            tagged.setdefault(r["repo_id"], set()).add(r["tag"])
        rows = [dict(r) for r in conn.execute(repos.select()).mappings()]
    key = SORT_COLUMNS[sort]
    keep = [r for r in rows if r["type"] == "model" and set(tags) <= tagged.get(r["id"], set())
            and (not r["private"] or seen == listing.ADMIN or r["namespace"] in seen)]
    keep.sort(key=lambda r: (r[key], r["id"]), reverse=descending)
    return [f"{r['namespace']}/{r['name']}" for r in keep]


def assert_copies_current(db: Database) -> None:
    """Every tag row carries its repo's current type, visibility and sort keys (the triggers' job)."""
    cols = ("type", "private", *SORT_COLUMNS.values())
    with db.read() as conn:
        pairs = conn.execute(select(*(repo_tags.c[c] for c in cols), *(repos.c[c] for c in cols))
                             .join(repos, repos.c.id == repo_tags.c.repo_id)).all()
    assert pairs
    assert [tuple(r[:len(cols)]) for r in pairs] == [tuple(r[len(cols):]) for r in pairs]


PRINCIPALS = {
    "anonymous": None,
    "user0 + org user1": Principal(1, "user0", "", None, False, "t", "read", org_roles={"user1": "read"}),
    "admin": Principal(2, "root", "", None, True, "t", "write"),
}


@pytest.mark.parametrize("who", list(PRINCIPALS))
@pytest.mark.parametrize("tags", [["tag-common"], ["tag-rare"], ["tag-odd", "tag-mid"], ["tag-none"]])
def test_listing_by_tag_each_sort_as_before(db: Database, tags: list[str], who: str) -> None:
    """A listing by tag reads the tag rows' copies of the sort keys: same items, same order, same pages as the
    order of `repos`, for every sort and direction — and still after writes to the repos and their tags."""
    p = PRINCIPALS[who]
    with db.write() as conn:  # a mid-sized tag on a third of the odd ones; a second tag filter
        conn.execute(insert(repo_tags), [{"repo_id": i, "tag": "tag-mid"} for i in range(2, 401, 6)])
    assert_copies_current(db)

    def check() -> None:
        for sort in SORT_COLUMNS:
            for descending in (True, False):
                expected = visible_by_tag(db, tags, sort, descending, p)
                q = ListQuery("model", tags=tags, sort=sort, descending=descending, limit=7)
                assert walk(db, q, p) == expected, (sort, descending)

    check()
    with db.write() as conn:
        # one statement over many rows (PostgreSQL: one set-based copy), single rows, visibility both ways
        conn.execute(update(repos).where(repos.c.id % 3 == 0).values(downloads=repos.c.downloads + 50,
                                                                     trending_score=repos.c.id * 0.5))
        conn.execute(update(repos).where(repos.c.id == 8).values(likes=99, last_modified=10.0**7))
        conn.execute(update(repos).where(repos.c.id.in_([2, 4, 9, 14])).values(private=True))
        conn.execute(update(repos).where(repos.c.id == 50).values(private=False))
        conn.execute(update(repos).where(repos.c.id == 7).values(type="dataset"))
        conn.execute(delete(repos).where(repos.c.id == 5))
        conn.execute(delete(repo_tags).where(repo_tags.c.repo_id == 3))  # re-derived: its tags rewritten
        conn.execute(insert(repo_tags), [{"repo_id": 3, "tag": "tag-rare"}, {"repo_id": 3, "tag": "tag-odd"}])
    assert_copies_current(db)
    check()


@pytest.mark.parametrize("author", [None, "user3"])
@pytest.mark.parametrize("sort", list(SORT_COLUMNS))
@pytest.mark.parametrize("descending", [True, False])
def test_rows_of_plain_listing_as_before(db: Database, sort: str, descending: bool, author: str | None) -> None:
    """list_rows answers an anonymous listing with no filter in one statement off the sort index: the same
    repos, order and pages as list_repos (ids, then rows), with the sort key last and the cursor of the next."""
    with db.write() as conn:  # ties on the sort key, so the id decides within them
        conn.execute(update(repos).where(repos.c.id % 4 == 0).values(likes=2, downloads=7, trending_score=1.5))
    expected, cursor = [], None
    while True:
        q = ListQuery("model", author=author, sort=sort, descending=descending, limit=9, cursor=cursor)
        items, cursor = list_repos(db, None, q)
        expected += [(i.repo.id, i.repo.repo_id) for i in items]
        if cursor is None:
            break
    got, cursor = [], None
    while True:
        q = ListQuery("model", author=author, sort=sort, descending=descending, limit=9, cursor=cursor)
        rows, cursor = listing.list_rows(db, None, q)
        at = [c.name for c in listing.ROW_COLUMNS].index(SORT_COLUMNS[sort])
        assert all(r[-1] == r[at] for r in rows)
        got += [(r.id, f"{r.namespace}/{r.name}") for r in rows]
        if cursor is None:
            break
    assert got == expected
    assert len(expected) == len({i for i, _ in expected}) > 9

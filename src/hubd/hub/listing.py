"""Listing and search of repos with the visibility rules applied in SQL."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, or_, select

from hubd.db.engine import Database
from hubd.db.schema import repo_tags, repos
from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest
from hubd.hub.models import Repo, repo_from_row

SORTS = {
    "lastModified": repos.c.last_modified,
    "createdAt": repos.c.created_at,
    # Counters arrive with the discovery work; until then these sort by recency, stated in docs/status.md.
    "downloads": repos.c.last_modified,
    "likes": repos.c.last_modified,
    "trendingScore": repos.c.last_modified,
    "id": repos.c.id,
}
MAX_LIMIT = 1000


@dataclass
class ListQuery:
    repo_type: str
    search: list[str] = field(default_factory=list)
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    sort: str = "createdAt"
    descending: bool = True
    limit: int = 30
    offset: int = 0


def list_repos(db: Database, p: Principal | None, q: ListQuery) -> list[Repo]:
    if q.sort not in SORTS:
        raise BadRequest(f"Invalid sort {q.sort!r}: one of {', '.join(SORTS)}")
    if not 1 <= q.limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    cond = [repos.c.type == q.repo_type]
    if p is None:
        cond.append(repos.c.private.is_(False))
    elif not p.is_admin:
        cond.append(or_(repos.c.private.is_(False), repos.c.namespace.in_([p.name, *p.org_roles])))
    for term in q.search:
        full_id = func.lower(repos.c.namespace + "/" + repos.c.name)
        cond.append(full_id.contains(term.lower(), autoescape=True))
    if q.author:
        cond.append(repos.c.namespace == q.author)
    for tag in q.tags:
        cond.append(exists().where(and_(repo_tags.c.repo_id == repos.c.id, repo_tags.c.tag == tag)))
    key = SORTS[q.sort]
    order = [key.desc(), repos.c.id.desc()] if q.descending else [key.asc(), repos.c.id.asc()]
    stmt = select(repos).where(and_(*cond)).order_by(*order).limit(q.limit).offset(q.offset)
    with db.read() as conn:
        return [repo_from_row(r) for r in conn.execute(stmt)]


def tags_of(db: Database, repo_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in repo_ids}
    if repo_ids:
        with db.read() as conn:
            for row in conn.execute(select(repo_tags).where(repo_tags.c.repo_id.in_(repo_ids))):
                out[row.repo_id].append(row.tag)
    return out

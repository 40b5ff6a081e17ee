"""Listing and search of repos: visibility in SQL, keyset cursors on (sort key, id), tag filters."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, or_, select

from hubd.db.engine import Database
from hubd.db.schema import repo_meta, repo_tags, repos
from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest
from hubd.hub.models import Repo, repo_from_row

SORTS = {
    "lastModified": repos.c.last_modified,
    "createdAt": repos.c.created_at,
    "downloads": repos.c.downloads,
    "likes": repos.c.likes,
    "trendingScore": repos.c.trending_score,
}
ALIASES = {"last_modified": "lastModified", "created_at": "createdAt", "trending_score": "trendingScore",
           "downloadsAllTime": "downloads", "modified": "lastModified"}
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
    cursor: str | None = None


@dataclass
class Listed:
    repo: Repo
    tags: list[str]
    card_data: dict | None
    config: dict | None
    transformers_info: dict | None
    safetensors: dict | None


def encode_cursor(value: float | int, repo_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, repo_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        value, repo_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return float(value), int(repo_id)
    except (ValueError, TypeError):
        raise BadRequest("Invalid cursor") from None


def list_repos(db: Database, p: Principal | None, q: ListQuery) -> tuple[list[Listed], str | None]:
    """One page, and the cursor of the next one (None on the last page)."""
    sort = ALIASES.get(q.sort, q.sort)
    if sort not in SORTS:
        raise BadRequest(f"Invalid sort {q.sort!r}: one of {', '.join(SORTS)}")
    if not 1 <= q.limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    key = SORTS[sort]
    cond = [repos.c.type == q.repo_type]
    if p is None:
        cond.append(repos.c.private.is_(False))
    elif not p.is_admin:
        cond.append(or_(repos.c.private.is_(False), repos.c.namespace.in_([p.name, *p.org_roles])))
    for term in q.search:
        cond.append(repos.c.search_id.contains(term.lower(), autoescape=True))
    if q.author:
        cond.append(repos.c.namespace == q.author)
    for tag in q.tags:
        cond.append(exists().where(and_(repo_tags.c.repo_id == repos.c.id, repo_tags.c.tag == tag)))
    if q.cursor:
        value, last_id = _decode_cursor(q.cursor)
        if q.descending:
            cond.append(or_(key < value, and_(key == value, repos.c.id < last_id)))
        else:
            cond.append(or_(key > value, and_(key == value, repos.c.id > last_id)))
    order = [key.desc(), repos.c.id.desc()] if q.descending else [key.asc(), repos.c.id.asc()]
    page = select(repos).where(and_(*cond)).order_by(*order).limit(q.limit + 1).subquery()
    stmt = (select(page, repo_meta.c.tags.label("meta_tags"), repo_meta.c.card_data, repo_meta.c.config,
                   repo_meta.c.transformers_info, repo_meta.c.safetensors)
            .outerjoin(repo_meta, repo_meta.c.repo_id == page.c.id)
            .order_by(page.c[key.name].desc() if q.descending else page.c[key.name].asc(),
                      page.c.id.desc() if q.descending else page.c.id.asc()))
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    items = [Listed(repo_from_row(r), list(r.meta_tags or []), r.card_data, r.config, r.transformers_info,
                    r.safetensors) for r in rows[:q.limit]]
    next_cursor = None
    if len(rows) > q.limit:
        last = items[-1].repo
        next_cursor = encode_cursor(getattr(last, _ATTR[key.name]), last.id)
    return items, next_cursor


_ATTR = {"last_modified": "last_modified", "created_at": "created_at", "downloads": "downloads",
         "likes": "likes", "trending_score": "trending_score"}

"""Listing and search of repos: visibility in SQL, keyset cursors on (sort key, id), tag filters."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, or_, select

from hubd.db.engine import Database
from hubd.db.schema import repo_meta, repo_tags, repos
from hubd.db.search import MIN_TRIGRAM, matching_ids
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
SCAN_BUDGET = 2000


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
    """One page, and the cursor of the next one (None on the last page).

    Selective filters (search, tags) run in two steps. First the page is looked for among the next
    SCAN_BUDGET repos in sort order: a common term or tag fills it there, at the cost of one short index
    scan. When it does not, the matches come from the trigram or tag index and are sorted: few matches,
    since the term was rare in a sample of thousands."""
    sort = ALIASES.get(q.sort, q.sort)
    if sort not in SORTS:
        raise BadRequest(f"Invalid sort {q.sort!r}: one of {', '.join(SORTS)}")
    if not 1 <= q.limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    key = SORTS[sort]
    base = [repos.c.type == q.repo_type]
    if p is None:
        base.append(repos.c.private.is_(False))
    elif not p.is_admin:
        base.append(or_(repos.c.private.is_(False), repos.c.namespace.in_([p.name, *p.org_roles])))
    if q.author:
        base.append(repos.c.namespace == q.author)
    if q.cursor:
        value, last_id = _decode_cursor(q.cursor)
        if q.descending:
            base.append(or_(key < value, and_(key == value, repos.c.id < last_id)))
        else:
            base.append(or_(key > value, and_(key == value, repos.c.id > last_id)))
    order = [key.desc(), repos.c.id.desc()] if q.descending else [key.asc(), repos.c.id.asc()]
    terms = [t.lower() for t in q.search]
    scan_filters = [repos.c.search_id.contains(t, autoescape=True) for t in terms]
    scan_filters += [exists().where(and_(repo_tags.c.repo_id == repos.c.id, repo_tags.c.tag == tag)) for tag in q.tags]
    with db.read() as conn:
        if not scan_filters:
            rows = conn.execute(_page(select(repos.c.id).where(and_(*base)).order_by(*order), q.limit, order)).all()
        else:
            sample = select(repos.c.id).where(and_(*base)).order_by(*order).limit(SCAN_BUDGET)
            ids = conn.execute(select(repos.c.id).where(repos.c.id.in_(sample), *scan_filters)
                               .order_by(*order).limit(q.limit + 1)).scalars().all()
            exhausted = len(ids) <= q.limit and conn.execute(
                select(func.count()).select_from(sample.subquery())).scalar_one() >= SCAN_BUDGET
            if exhausted:  # rare: ask the indexes
                indexed = [search_condition(t, db) for t in terms]
                indexed += [repos.c.id.in_(select(repo_tags.c.repo_id).where(repo_tags.c.tag == tag))
                            for tag in q.tags]
                ids = conn.execute(select(repos.c.id).where(*base, *indexed, *scan_filters).order_by(*order)
                                   .limit(q.limit + 1)).scalars().all()
            rows = conn.execute(_page(select(repos.c.id).where(repos.c.id.in_(ids)).order_by(*order),
                                      q.limit, order)).all()
    items = [Listed(repo_from_row(r), list(r.meta_tags or []), r.card_data, r.config, r.transformers_info,
                    r.safetensors) for r in rows[:q.limit]]
    next_cursor = None
    if len(rows) > q.limit:
        last = items[-1].repo
        next_cursor = encode_cursor(getattr(last, _ATTR[key.name]), last.id)
    return items, next_cursor


def search_condition(term: str, db: Database):  # type: ignore[no-untyped-def]
    if db.has_trigram_index and len(term) >= MIN_TRIGRAM:
        return matching_ids(term, db.is_sqlite)
    return repos.c.search_id.contains(term, autoescape=True)


def _page(ids, limit: int, order):  # type: ignore[no-untyped-def]
    """The full rows (and their meta) of the first limit+1 ids of an ordered id query."""
    page = ids.limit(limit + 1).subquery()
    return (select(repos, repo_meta.c.tags.label("meta_tags"), repo_meta.c.card_data, repo_meta.c.config,
                   repo_meta.c.transformers_info, repo_meta.c.safetensors)
            .join(page, page.c.id == repos.c.id)
            .outerjoin(repo_meta, repo_meta.c.repo_id == repos.c.id)
            .order_by(*order))


_ATTR = {"last_modified": "last_modified", "created_at": "created_at", "downloads": "downloads",
         "likes": "likes", "trending_score": "trending_score"}

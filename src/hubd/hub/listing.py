"""Listing and search of repos: visibility in SQL, keyset cursors on (sort key, id), tag filters."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Text, and_, cast, exists, or_, select

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
MAX_CURSOR_CHARS = 200  # a cursor hubd made is ~40 characters
_INT64 = 2**63  # every sort key and id is a 64-bit integer or a double; larger ones overflow the database


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
    fragment: str | None = None  # the derive job's listing members (hub.listing_fragment), None until it ran


def encode_cursor(value: float | int, repo_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, repo_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, int]:
    """The (sort value, id) a cursor names. It comes from the client: anything but a pair of numbers in
    the database's range (a 10^30 overflows SQLite's integers, a NaN matches nothing) is a 400."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise BadRequest("Invalid cursor")
    try:
        value, repo_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, RecursionError):
        raise BadRequest("Invalid cursor") from None
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or abs(value) >= _INT64):
        raise BadRequest("Invalid cursor")
    if isinstance(repo_id, bool) or not isinstance(repo_id, int) or not 0 <= repo_id < _INT64:
        raise BadRequest("Invalid cursor")
    return float(value), repo_id


ADMIN = ("*",)  # no namespace is named "*"


def visibility_class(p: Principal | None) -> tuple[str, ...]:
    """Whose private repos the caller lists: () none, ADMIN all, else these namespaces (sorted). Two callers
    of one class get the same page for the same query, which is what lets a cached page be shared."""
    if p is None:
        return ()
    if p.is_admin:
        return ADMIN
    # namespace_role, not membership: a fine-grained token lists only the namespaces it is scoped to
    return tuple(sorted({ns for ns in (p.name, *p.org_roles) if p.namespace_role(ns) is not None}))


def list_repos(db: Database, p: Principal | None, q: ListQuery,
               with_meta: bool = False) -> tuple[list[Listed], str | None]:
    """One page, and the cursor of the next one (None on the last page).

    Public repos and the caller's private ones are looked up apart (each on an index that has the
    visibility in its key) and merged. Tags alone are read off the tag rows' own sort indexes (_tagged).
    Other selective filters (search, or tags with search or author) run in two steps: first among the next
    SCAN_BUDGET repos in sort order, which a common term or tag fills at the cost of one short index scan;
    when that does not fill the page, from the trigram or tag index, whose matches are few."""
    with db.read() as conn:
        key, ids = _page_ids(conn, db, p, q)
        rows = conn.execute(_page(ids, _order(key, q), with_meta)).all() if ids else []
    items = [Listed(repo_from_row(r), list(r.meta_tags or []), r.card_data if with_meta else None,
                    r.config if with_meta else None, r.transformers_info if with_meta else None,
                    r.safetensors if with_meta else None, r.meta_listing) for r in rows[:q.limit]]
    next_cursor = None
    if len(rows) > q.limit:
        last = items[-1].repo
        next_cursor = encode_cursor(getattr(last, _ATTR[key.name]), last.id)
    return items, next_cursor


# What a listing item without `full`/`expand`/`cardData`/`config` is made of (api.listing._item), in this order.
ROW_COLUMNS = (repos.c.id, repos.c.type, repos.c.namespace, repos.c.name, repos.c.private, repos.c.gated,
               repos.c.sdk, repos.c.created_at, repos.c.last_modified, repos.c.head_sha, repos.c.downloads,
               repos.c.likes, repos.c.trending_score, repos.c.pipeline_tag, repos.c.library_name)


def list_rows(db: Database, p: Principal | None, q: ListQuery) -> tuple[list, str | None]:
    """The page as plain rows: ROW_COLUMNS, then the stored listing fragment and the tags as JSON text (for
    repos the derive job has not reached), then the sort key. For the default listing, where decoding every
    row into a Repo and its tags would cost more than the query."""
    with db.read() as conn:
        page = select(*ROW_COLUMNS, repo_meta.c.listing, cast(repo_meta.c.tags, Text)).outerjoin(
            repo_meta, repo_meta.c.repo_id == repos.c.id)
        if not q.search and not q.tags and not visibility_class(p):
            # public repos only, no filter: the rows in sort order straight off the sort index, in one statement
            # (a 1000-item page: one heap visit per row instead of an id query and 1000 primary-key probes)
            key = _sort_key(q)
            base = _repo_filter(q, key, False, (), _decode_cursor(q.cursor) if q.cursor else None)
            rows = list(conn.execute(page.add_columns(key).where(*base).order_by(*_order(key, q))
                                     .limit(q.limit + 1)).all())
        else:
            key, ids = _page_ids(conn, db, p, q)
            if not ids:
                return [], None
            rows = list(conn.execute(page.add_columns(key).where(repos.c.id.in_(ids))
                                     .order_by(*_order(key, q))).all())
    next_cursor = encode_cursor(rows[q.limit - 1][-1], rows[q.limit - 1][0]) if len(rows) > q.limit else None
    return rows[:q.limit], next_cursor


def _order(key, q: ListQuery) -> list:
    return [key.desc(), repos.c.id.desc()] if q.descending else [key.asc(), repos.c.id.asc()]


def _page_ids(conn: Any, db: Database, p: Principal | None, q: ListQuery) -> tuple[Any, list[int]]:
    """The sort column and the ids of the page's repos plus one (which tells whether a next page exists)."""
    key = _sort_key(q)
    cursor = _decode_cursor(q.cursor) if q.cursor else None
    parts: list[tuple[bool, tuple[str, ...]]] = [(False, ())]  # (private, only these namespaces if any)
    seen = visibility_class(p)
    if seen == ADMIN:
        parts.append((True, ()))
    elif seen:
        parts.append((True, seen))
    # tags alone: the tag rows carry the sort keys, so the page is one keyset scan of a tag index
    by_tag = bool(q.tags) and not q.search and not q.author
    order = _order(key, q)
    found: list[tuple[float, int]] = []
    for private, namespaces in parts:
        if by_tag:
            rows = _tagged(conn, q, key, private, namespaces, cursor)
        else:
            rows = _matching(conn, db, _repo_filter(q, key, private, namespaces, cursor), key, order, q)
        found += [(float(k), int(i)) for k, i in rows]
    found.sort(reverse=q.descending)
    return key, [i for _k, i in found[:q.limit + 1]]


def _sort_key(q: ListQuery):
    """The sort column (400 on an unknown sort or a limit out of range)."""
    sort = ALIASES.get(q.sort, q.sort)
    if sort not in SORTS:
        raise BadRequest(f"Invalid sort {q.sort!r}: one of {', '.join(SORTS)}")
    if not 1 <= q.limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return SORTS[sort]


def _repo_filter(q: ListQuery, key, private: bool, namespaces: tuple[str, ...],
                 cursor: tuple[float, int] | None) -> list:
    """Conditions on `repos` for one visibility part: type, visibility, the cursor, the author, and for
    private repos the namespaces the caller may list (empty: all)."""
    out = _keyset(repos.c.type, repos.c.private, key, repos.c.id, q, private, cursor)
    if q.author:
        out.append(repos.c.namespace == q.author)
    if namespaces:
        out.append(repos.c.namespace.in_(namespaces))
    return out


def _keyset(type_col, private_col, key, id_col, q: ListQuery, private: bool,
            cursor: tuple[float, int] | None) -> list:
    """Type, visibility and the position after the cursor, on `repos` or on `repo_tags` (same columns)."""
    out = [type_col == q.repo_type, private_col.is_(private)]
    if cursor is not None:
        value, last_id = cursor
        if q.descending:
            out.append(or_(key < value, and_(key == value, id_col < last_id)))
        else:
            out.append(or_(key > value, and_(key == value, id_col > last_id)))
        out.append(_bound(key, value, q.descending))
    return out


def _bound(key, value: float, descending: bool):
    """key <= value (descending) or >= (ascending), implied by the cursor condition but, unlike its OR, a range
    an index scan starts from. In the column's own type: PostgreSQL compares a bigint to a float parameter by
    casting the column, which no index can serve."""
    if isinstance(key.type, Integer):
        edge = math.floor(value) if descending else math.ceil(value)
        value = max(-_INT64 + 1, min(_INT64 - 1, edge))
    return key <= value if descending else key >= value


def _tagged(conn, q: ListQuery, key, private: bool, namespaces: tuple[str, ...],
            cursor: tuple[float, int] | None) -> list:
    """(sort value, id) of the first limit+1 repos with all of q.tags: the first tag's rows in sort order (an
    index of (tag, type, private, key, id)), the other tags and a namespace list as filters."""
    rt = repo_tags
    k = rt.c[key.name]
    where = [rt.c.tag == q.tags[0],
             *_keyset(rt.c.type, rt.c.private, k, rt.c.repo_id, q, private, cursor)]
    for tag in q.tags[1:]:
        other = repo_tags.alias()
        where.append(rt.c.repo_id.in_(select(other.c.repo_id).where(other.c.tag == tag)))
    stmt = select(k, rt.c.repo_id)
    if namespaces:
        stmt = stmt.join(repos, repos.c.id == rt.c.repo_id)
        where.append(repos.c.namespace.in_(namespaces))
    order = [k.desc(), rt.c.repo_id.desc()] if q.descending else [k.asc(), rt.c.repo_id.asc()]
    return conn.execute(stmt.where(*where).order_by(*order).limit(q.limit + 1)).all()


def _matching(conn, db: Database, base: list, key, order: list, q: ListQuery) -> list:
    """(sort value, id) of the first limit+1 repos that pass `base` and the query's filters."""
    terms = [t.lower() for t in q.search]
    if not terms and not q.tags:
        return conn.execute(select(key, repos.c.id).where(*base).order_by(*order).limit(q.limit + 1)).all()
    sample = (select(repos.c.id, key.label("k"), repos.c.search_id).where(*base).order_by(*order)
              .limit(SCAN_BUDGET).subquery())
    filters = [sample.c.search_id.contains(t, autoescape=True) for t in terms]
    filters += [exists().where(and_(repo_tags.c.repo_id == sample.c.id, repo_tags.c.tag == tag)) for tag in q.tags]
    first = select(sample.c.k, sample.c.id).where(*filters).limit(q.limit + 1)
    if not db.is_sqlite:  # SQLite keeps the sample's order as it streams it; PostgreSQL needs telling
        first = first.order_by(*((sample.c.k.desc(), sample.c.id.desc()) if q.descending
                                 else (sample.c.k.asc(), sample.c.id.asc())))
    rows = conn.execute(first).all()
    if len(rows) > q.limit:
        return rows
    indexed = [search_condition(t, db) for t in terms]
    indexed += [repos.c.id.in_(select(repo_tags.c.repo_id).where(repo_tags.c.tag == tag)) for tag in q.tags]
    return conn.execute(select(key, repos.c.id).where(*base, *indexed).order_by(*order).limit(q.limit + 1)).all()


def search_condition(term: str, db: Database):
    if db.has_trigram_index and len(term) >= MIN_TRIGRAM:
        return matching_ids(term, db.is_sqlite)
    return repos.c.search_id.contains(term, autoescape=True)


def _page(ids: list[int], order: list, with_meta: bool):
    """The rows of `ids`, in order, with their tags (and the larger metadata when asked for)."""
    meta = [repo_meta.c.card_data, repo_meta.c.config, repo_meta.c.transformers_info,
            repo_meta.c.safetensors] if with_meta else []
    return (select(repos, repo_meta.c.tags.label("meta_tags"), repo_meta.c.listing.label("meta_listing"), *meta)
            .outerjoin(repo_meta, repo_meta.c.repo_id == repos.c.id)
            .where(repos.c.id.in_(ids)).order_by(*order))


_ATTR = {"last_modified": "last_modified", "created_at": "created_at", "downloads": "downloads",
         "likes": "likes", "trending_score": "trending_score"}


class Listings:
    """The repo listings over one database: the API's /api/models (and kin) and the web's lists."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def generation(self) -> int | None:
        """The catalogue generation, read from the event loop (None when unreadable: cache nothing by it)."""
        return await self.db.generation.read()

    def page(self, p: Principal | None, q: ListQuery, with_meta: bool = False) -> tuple[list[Listed], str | None]:
        return list_repos(self.db, p, q, with_meta)

    def rows(self, p: Principal | None, q: ListQuery) -> tuple[list, str | None]:
        return list_rows(self.db, p, q)

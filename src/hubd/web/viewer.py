"""The dataset viewer as a table: pages of rows and a search, from the viewer's own bounded queries."""

from __future__ import annotations

import pyarrow.parquet as pq
from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.api.viewer import MAX_SEARCH_CHARS, _limits, local_shards
from hubd.dataviewer import query
from hubd.dataviewer.export import export_of
from hubd.hub.errors import BadRequest, NotFound
from hubd.web.base import page, view
from hubd.web.pages import repo_context, repo_of

ROWS_PER_PAGE = 25
MAX_PAGE = 10**9
MAX_CELL_CHARS = 300  # a cell beyond this is cut in the table: pages never hold a whole large value


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


@page
async def viewer_page(ctx: Ctx) -> Response:
    hub = ctx.hub
    raw_p = ctx.request.query_params.get("p", "0")
    if not raw_p.isdigit() or len(raw_p) > 10 or int(raw_p) > MAX_PAGE:
        raise BadRequest("p must be a page number")
    number = int(raw_p)
    q = (ctx.request.query_params.get("q") or "").strip()
    if len(q) > MAX_SEARCH_CHARS:
        raise BadRequest(f"A search has at most {MAX_SEARCH_CHARS} characters")
    limits = _limits(ctx)

    def build() -> dict:
        repo = repo_of(ctx)
        data = repo_context(ctx, repo, "main", "viewer")
        repo = hub.repos.for_download(ctx.principal, repo.type, repo.namespace, repo.name)
        export = export_of(hub, repo)
        ready = export is not None and export["source_sha"] == repo.head_sha and export["state"] == "ok"
        base = {**data, "ready": ready, "configs": {}, "columns": [], "rows": [], "total": 0, "q": q,
                "number": number, "per_page": ROWS_PER_PAGE, "config": None, "split": None}
        if not ready:
            return base
        assert export is not None
        configs = {c: list(ss) for c, ss in export["info"].items()}
        config = ctx.params.get("config") or next(iter(configs), None)
        if config is None:
            return base
        split = ctx.params.get("split") or next(iter(configs.get(config, [])), None)
        if config not in configs or split not in configs[config]:
            raise NotFound("No such config or split")
        meta = export["info"][config][split]
        paths = local_shards(hub, meta)
        rows: list[dict] = []
        total = 0
        columns: list[str] = []
        if paths:
            schema = pq.read_schema(paths[0])
            columns = list(schema.names)
            with query.connect(paths, limits) as session:
                offset = number * ROWS_PER_PAGE
                if q:
                    rows, total = query.search(session, schema, q, offset, ROWS_PER_PAGE)
                else:
                    rows, total = query.page(session, offset, ROWS_PER_PAGE), int(meta["num_rows"])
        table = [{"idx": r["row_idx"], "cells": [_cell(r["row"].get(c)) for c in columns]} for r in rows]
        return {**base, "configs": configs, "config": config, "split": split, "columns": columns, "rows": table,
                "total": total, "last": max(0, (total - 1) // ROWS_PER_PAGE)}

    return view(ctx, "viewer.html", **await ctx.run(build))

"""The seed's /api/datasets/{id}/parquet, the Hub's parquet URL forms, and the dataset viewer API."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from urllib.parse import quote

import pyarrow.parquet as pq
from starlette.responses import RedirectResponse, Response

from hubd.api.http import Ctx, json_response
from hubd.dataviewer import query
from hubd.dataviewer.export import export_of
from hubd.dataviewer.features import feature_list
from hubd.dataviewer.shardcache import ShardCache
from hubd.dataviewer.where import compile_orderby, compile_where
from hubd.hub.errors import BadRequest, HubError, NotFound
from hubd.hub.models import Repo
from hubd.hub.service import Hub
from hubd.mirror.datasets import parquet_export, viewer_export
from hubd.storage.blobstore import lfs_key

MAX_LENGTH = 100
MAX_OFFSET = 2**40  # far beyond any split (exports stop at 5 GB) and well inside DuckDB's BIGINT
MAX_INT_CHARS = 20  # an integer parameter longer than this is refused before int() sees it
MAX_SEARCH_CHARS = 1000
MAX_SHARD_DIGITS = 6
PARQUET_REF = quote("refs/convert/parquet", safe="")


class ResponseNotReady(HubError):
    status = 500
    code = "ResponseNotReady"
    default_message = "The parquet export of this dataset is not ready yet; try again shortly"


class MissingParameter(HubError):
    status = 422
    code = "MissingRequiredParameter"


def _param(ctx: Ctx, name: str) -> str:
    value = ctx.request.query_params.get(name)
    if not value:
        raise MissingParameter(f"Parameter '{name}' is required")
    return value


def _int(ctx: Ctx, name: str, default: int, maximum: int) -> int:
    raw = ctx.request.query_params.get(name)
    if raw is not None and len(raw) > MAX_INT_CHARS:
        raise BadRequest(f"Parameter '{name}' must be between 0 and {maximum}")
    try:
        value = default if raw in (None, "") else int(raw)
    except ValueError:
        raise BadRequest(f"Parameter '{name}' must be an integer") from None
    if value < 0 or value > maximum:
        raise BadRequest(f"Parameter '{name}' must be between 0 and {maximum}")
    return value


def _limits(ctx: Ctx) -> query.Limits:
    """The DuckDB bounds of one viewer request, from the settings (defaults when a setting is absent)."""
    s = ctx.hub.settings
    return query.Limits(memory_mib=int(getattr(s, "viewer_memory_mib", 256)),
                        timeout_s=float(getattr(s, "viewer_timeout", 10.0)),
                        concurrent=int(getattr(s, "viewer_concurrency", 2)))


async def _export(ctx: Ctx, dataset: str, listing: bool = False) -> tuple[Repo, dict]:
    ns, _, name = dataset.partition("/")
    repo = await ctx.run(ctx.hub.repos.for_download, ctx.principal, "dataset", ns, name)
    if ctx.hub.mirror is not None and await ctx.run(ctx.hub.mirror.is_mirrored, repo.id):
        if not listing:  # rows, search, statistics: run here over the upstream's parquet files, cached
            return repo, await ctx.run(viewer_export, ctx.hub, repo)
        return repo, await ctx.run(parquet_export, ctx.hub, repo)  # the upstream's listing (hubd.mirror)
    export = await ctx.run(export_of, ctx.hub, repo)
    if export is None or export["source_sha"] != repo.head_sha:
        raise ResponseNotReady()
    return repo, export


def _respond(data: dict | list, export: dict, status: int = 200) -> Response:
    return json_response(data, status, {"X-Revision": export["source_sha"]})


def _failed(repo: Repo, export: dict) -> list[dict]:
    if export["state"] != "failed":
        return []
    return [{"dataset": repo.repo_id, "error": {"error": export["error"]}}]


def _parquet_files(ctx: Ctx, repo: Repo, export: dict, config: str | None = None) -> list[dict]:
    out = []
    for cfg, splits in export["info"].items():
        if config and cfg != config:
            continue
        for split, meta in splits.items():
            for shard in meta["shards"]:
                out.append({"dataset": repo.repo_id, "config": cfg, "split": split,
                            "url": f"{ctx.base_url}/datasets/{repo.repo_id}/resolve/{PARQUET_REF}/{shard['path']}",
                            "filename": shard["filename"], "size": shard["size"]})
    return out


async def api_parquet(ctx: Ctx) -> Response:
    """GET /api/datasets/{id}/parquet, in the seed's shape."""
    repo, export = await _export(ctx, f"{ctx.params['ns']}/{ctx.params['name']}", listing=True)
    partial = any(m["partial"] for s in export["info"].values() for m in s.values())
    return _respond({"parquet_files": _parquet_files(ctx, repo, export), "pending": [],
                     "failed": _failed(repo, export), "partial": partial}, export)


def _split_meta(export: dict, config: str, split: str) -> dict:
    meta = export["info"].get(config, {}).get(split)
    if meta is None:
        raise NotFound(f"No split {split!r} in config {config!r}")
    return meta


async def api_parquet_split(ctx: Ctx) -> Response:
    repo, export = await _export(ctx, f"{ctx.params['ns']}/{ctx.params['name']}", listing=True)
    meta = _split_meta(export, ctx.params["config"], ctx.params["split"])
    base = f"{ctx.base_url}/api/datasets/{repo.repo_id}/parquet/{ctx.params['config']}/{ctx.params['split']}"
    return _respond([f"{base}/{n}.parquet" for n in range(len(meta["shards"]))], export)


async def api_parquet_shard(ctx: Ctx) -> Response:
    repo, export = await _export(ctx, f"{ctx.params['ns']}/{ctx.params['name']}", listing=True)
    meta = _split_meta(export, ctx.params["config"], ctx.params["split"])
    if len(ctx.params["n"]) > MAX_SHARD_DIGITS:  # int() of thousands of digits is slow, then a ValueError
        raise NotFound("No such shard")
    n = int(ctx.params["n"])
    if n >= len(meta["shards"]):
        raise NotFound(f"No shard {n}")
    url = f"{ctx.base_url}/datasets/{repo.repo_id}/resolve/{PARQUET_REF}/{meta['shards'][n]['path']}"
    return RedirectResponse(url, status_code=302)


def local_shards(hub: Hub, meta: dict) -> list[str]:
    """Paths DuckDB can read: the blob itself on disk, or a cached copy (dataviewer/shardcache.py) from S3."""
    cache = ShardCache(Path(hub.settings.data_dir) / "cache" / "parquet", hub.settings.viewer_cache_mib * 2**20)
    paths = []
    for shard in meta["shards"]:
        key = lfs_key(shard["oid"])
        local = hub.content.local_path(key)
        if local is None:
            local = cache.path(shard["oid"], partial(hub.content.iter_range, key, 0, shard["size"], 8 << 20))
        paths.append(local)
    return paths


async def _split(ctx: Ctx) -> tuple[Repo, dict, dict, str, str]:
    repo, export = await _export(ctx, _param(ctx, "dataset"))
    config, split = _param(ctx, "config"), _param(ctx, "split")
    return repo, export, _split_meta(export, config, split), config, split


def _schema(paths: list[str]):
    return pq.read_schema(paths[0])


async def viewer_is_valid(ctx: Ctx) -> Response:
    repo, export = await _export(ctx, _param(ctx, "dataset"))
    ok = export["state"] == "ok" and any(export["info"].values())
    return _respond({"viewer": ok, "preview": ok, "search": ok, "filter": ok, "statistics": ok}, export)


async def viewer_splits(ctx: Ctx) -> Response:
    repo, export = await _export(ctx, _param(ctx, "dataset"))
    config = ctx.request.query_params.get("config")
    splits = [{"dataset": repo.repo_id, "config": c, "split": s} for c, ss in export["info"].items()
              for s in ss if not config or c == config]
    return _respond({"splits": splits, "pending": [], "failed": _failed(repo, export)}, export)


async def viewer_parquet(ctx: Ctx) -> Response:
    repo, export = await _export(ctx, _param(ctx, "dataset"), listing=True)
    files = _parquet_files(ctx, repo, export, ctx.request.query_params.get("config"))
    partial = any(m["partial"] for s in export["info"].values() for m in s.values())
    return _respond({"parquet_files": files, "pending": [], "failed": _failed(repo, export), "partial": partial},
                    export)


def _config_info(repo: Repo, config: str, splits: dict) -> dict:
    first: dict = next(iter(splits.values()), {})
    return {
        "dataset_name": repo.name, "config_name": config, "builder_name": "parquet",
        "version": {"version_str": "0.0.0"},
        "features": first.get("features", {}),
        "splits": {s: {"name": s, "num_bytes": m["num_bytes_parquet"], "num_examples": m["num_rows"],
                       "dataset_name": repo.name} for s, m in splits.items()},
        "download_size": sum(m["num_bytes_original"] for m in splits.values()),
        "dataset_size": sum(m["num_bytes_parquet"] for m in splits.values()),
    }


async def viewer_info(ctx: Ctx) -> Response:
    repo, export = await _export(ctx, _param(ctx, "dataset"))
    config = ctx.request.query_params.get("config")
    infos = {c: _config_info(repo, c, s) for c, s in export["info"].items()}
    partial = any(m["partial"] for s in export["info"].values() for m in s.values())
    if config:
        if config not in infos:
            raise NotFound(f"No config {config!r}")
        return _respond({"dataset_info": infos[config], "partial": partial}, export)
    return _respond({"dataset_info": infos, "pending": [], "failed": _failed(repo, export), "partial": partial},
                    export)


async def viewer_size(ctx: Ctx) -> Response:
    repo, export = await _export(ctx, _param(ctx, "dataset"))
    splits, configs = [], []
    for c, ss in export["info"].items():
        for s, m in ss.items():
            splits.append({"dataset": repo.repo_id, "config": c, "split": s, "num_bytes_parquet_files":
                           m["num_bytes_parquet"], "num_bytes_original_files": m["num_bytes_original"],
                           "num_rows": m["num_rows"], "num_columns": len(m["features"])})
        mine = [x for x in splits if x["config"] == c]
        configs.append({"dataset": repo.repo_id, "config": c, "num_columns": max([x["num_columns"] for x in mine],
                                                                                  default=0),
                        **{k: sum(x[k] for x in mine) for k in ("num_bytes_parquet_files",
                                                              "num_bytes_original_files", "num_rows")}})
    total = {k: sum(x[k] for x in configs) for k in ("num_bytes_parquet_files", "num_bytes_original_files", "num_rows")}
    return _respond({"size": {"dataset": {"dataset": repo.repo_id, **total, "estimated_num_rows": None},
                              "configs": configs, "splits": splits},
                     "pending": [], "failed": _failed(repo, export), "partial": False}, export)


async def viewer_first_rows(ctx: Ctx) -> Response:
    repo, export, meta, config, split = await _split(ctx)
    limits = _limits(ctx)

    def run() -> dict:
        paths = local_shards(ctx.hub, meta)
        if not paths:
            return {"features": [], "rows": []}
        with query.connect(paths, limits) as session:
            rows = query.page(session, 0, MAX_LENGTH)
        return {"features": feature_list(_schema(paths)), "rows": rows}

    data = await ctx.run(run)
    return _respond({"dataset": repo.repo_id, "config": config, "split": split, **data,
                     "truncated": meta["num_rows"] > MAX_LENGTH}, export)


async def _paged(ctx: Ctx, kind: str) -> Response:
    repo, export, meta, config, split = await _split(ctx)
    offset, length = _int(ctx, "offset", 0, MAX_OFFSET), _int(ctx, "length", MAX_LENGTH, MAX_LENGTH)
    where = orderby = q = None
    if kind == "search":
        q = _param(ctx, "query")
        if len(q) > MAX_SEARCH_CHARS:
            raise BadRequest(f"Parameter 'query' is longer than {MAX_SEARCH_CHARS} characters")
    if kind == "filter":
        # parsed and rebuilt against the split's columns before any file is opened or query run
        columns = list(meta.get("features", {}))
        raw_where = ctx.request.query_params.get("where")
        raw_orderby = ctx.request.query_params.get("orderby")
        where = compile_where(raw_where, columns) if raw_where else None
        orderby = compile_orderby(raw_orderby, columns) if raw_orderby else None
    limits = _limits(ctx)

    def run() -> tuple[list, list, int]:
        paths = local_shards(ctx.hub, meta)
        if not paths:
            return [], [], 0
        schema = _schema(paths)
        with query.connect(paths, limits) as session:
            if kind == "rows":
                return feature_list(schema), query.page(session, offset, length), meta["num_rows"]
            if kind == "search":
                rows, total = query.search(session, schema, q or "", offset, length)
            else:
                rows, total = query.filtered(session, where, orderby, offset, length)
        return feature_list(schema), rows, total

    features, rows, total = await ctx.run(run)
    return _respond({"features": features, "rows": rows, "num_rows_total": total, "num_rows_per_page": length,
                     "partial": meta["partial"]}, export)


async def viewer_rows(ctx: Ctx) -> Response:
    return await _paged(ctx, "rows")


async def viewer_search(ctx: Ctx) -> Response:
    return await _paged(ctx, "search")


async def viewer_filter(ctx: Ctx) -> Response:
    return await _paged(ctx, "filter")


async def viewer_statistics(ctx: Ctx) -> Response:
    repo, export, meta, config, split = await _split(ctx)
    limits = _limits(ctx)

    def run() -> list:
        paths = local_shards(ctx.hub, meta)
        if not paths:
            return []
        with query.connect(paths, limits) as session:
            return query.statistics(session, _schema(paths), meta["num_rows"])

    stats = await ctx.run(run)
    return _respond({"num_examples": meta["num_rows"], "statistics": stats, "partial": meta["partial"]}, export)

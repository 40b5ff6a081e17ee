"""The parquet listing of a mirrored dataset: the upstream's, kept as the dataset's export record.

The files themselves are the upstream's `refs/convert/parquet` commit, read through like any other revision;
only the listing (which file is which config and split) is asked of the upstream, and kept in
`parquet_exports` with the upstream commit it describes, so it is answered offline from the last sync."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

from sqlalchemy import delete, insert

from hubd.db.schema import parquet_exports
from hubd.hub.models import Repo
from hubd.mirror.errors import UpstreamUnavailable

MAX_FILES = 100_000


def _info(data: Any) -> tuple[dict, bool]:
    """The upstream's listing ({parquet_files: [{config, split, url, filename, size}]}) → hubd's export info."""
    if not isinstance(data, dict) or not isinstance(data.get("parquet_files"), list):
        raise UpstreamUnavailable("The upstream's parquet listing is malformed")
    files = data["parquet_files"][:MAX_FILES]
    info: dict[str, dict[str, dict]] = {}
    for f in files:
        try:
            url, config, split = str(f["url"]), str(f["config"]), str(f["split"])
            rest = url.split("/resolve/", 1)[1].split("/", 1)[1]  # after the revision: the path in the export
            shard = {"path": unquote(rest), "filename": str(f["filename"]), "size": int(f["size"])}
        except (KeyError, IndexError, TypeError, ValueError):
            raise UpstreamUnavailable("The upstream's parquet listing is malformed") from None
        info.setdefault(config, {}).setdefault(split, {"shards": [], "partial": False})["shards"].append(shard)
    partial = bool(data.get("partial"))
    for splits in info.values():
        for meta in splits.values():
            meta["partial"] = partial
    return info, partial


def parquet_export(hub: Any, repo: Repo) -> dict:
    """The export record of a mirrored dataset (see the module's docstring)."""
    from hubd.dataviewer.export import export_of

    mirror = hub.mirror
    cached = export_of(hub, repo)
    fresh = cached is not None and cached["source_sha"] == repo.head_sha and (
        time.time() - cached["updated_at"] < mirror.ttl)
    if fresh:
        assert cached is not None
        return cached
    try:
        data = mirror.upstream._get_json(f"/api/datasets/{repo.repo_id}/parquet", mirror._tokens.get(repo.id),
                                         f"parquet listing of {repo.repo_id}")
    except UpstreamUnavailable:
        if cached is None:
            raise
        return {**cached, "source_sha": repo.head_sha}  # offline: the listing of the last sync
    info, _partial = _info(data)
    record = {"repo_id": repo.id, "source_sha": repo.head_sha, "export_sha": None, "state": "ok", "error": None,
              "info": info, "updated_at": time.time()}
    with hub.db.write() as conn:
        conn.execute(delete(parquet_exports).where(parquet_exports.c.repo_id == repo.id))
        conn.execute(insert(parquet_exports).values(**record))
    return record

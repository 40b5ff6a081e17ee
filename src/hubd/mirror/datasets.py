"""The parquet listing of a mirrored dataset: the upstream's, kept as the dataset's export record.

The files themselves are the upstream's `refs/convert/parquet` commit, read through like any other revision;
only the listing (which file is which config and split) is asked of the upstream, and kept in
`parquet_exports` with the upstream commit it describes, so it is answered offline from the last sync."""

from __future__ import annotations

import io
import threading
import time
from typing import Any
from urllib.parse import unquote

from sqlalchemy import delete, insert

from hubd.db.schema import parquet_exports
from hubd.hub.errors import HubError, NotFound, RevisionNotFound
from hubd.hub.models import Repo
from hubd.mirror.errors import UpstreamUnavailable
from hubd.storage.blobstore import lfs_key

EXPORT_REF = "refs/convert/parquet"

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


_viewer_infos: dict[tuple[int, str], dict] = {}  # (repo, parquet commit) → info: immutable once built
_viewer_lock = threading.Lock()
MAX_VIEWER_INFOS = 256


def viewer_export(hub: Any, repo: Repo) -> dict:
    """The export record of a mirrored dataset with what the viewer's queries need: the upstream's parquet
    files (read through refs/convert/parquet like any revision, filled and verified by sha256), and each
    split's row count, features and sizes read from the files' own parquet metadata. The viewer then runs
    its queries here, over the cache, with the repo's access rules (decided by the upstream, per user)."""
    record = parquet_export(hub, repo)
    try:
        sha = hub.refs.resolve(repo, EXPORT_REF)
    except RevisionNotFound:
        raise NotFound(f"{repo.repo_id} has no parquet export upstream") from None
    key = (repo.id, sha)
    info = _viewer_infos.get(key)
    if info is None:
        info = _viewer_info(hub, repo, sha, record["info"])
        with _viewer_lock:
            _viewer_infos[key] = info
            while len(_viewer_infos) > MAX_VIEWER_INFOS:
                _viewer_infos.pop(next(iter(_viewer_infos)))
    return {**record, "info": info}


def _viewer_info(hub: Any, repo: Repo, sha: str, listing: dict) -> dict:
    import pyarrow.parquet as pq

    from hubd.dataviewer.features import features

    info: dict[str, dict[str, dict]] = {}
    original = _original_sizes(hub, repo)
    for config, splits in listing.items():
        for split, meta in splits.items():
            shards, rows, schema = [], 0, None
            for shard in meta["shards"]:
                entry = hub.browse.lookup(sha, shard["path"])
                if entry is None or entry.is_dir or entry.lfs is None:
                    raise NotFound(f"{shard['path']} is not a parquet file of {repo.repo_id}'s export")
                oid = _local_lfs_copy(hub, repo, entry)
                # only the footer is read (by range: object storage streams are not seekable)
                parquet = pq.ParquetFile(_RangeFile(hub.blobs, lfs_key(oid), entry.lfs.size))
                rows += parquet.metadata.num_rows
                schema = schema or parquet.schema_arrow
                shards.append({**shard, "oid": oid, "size": entry.lfs.size})
            nbytes = sum(s["size"] for s in shards)
            info.setdefault(config, {})[split] = {
                **meta, "shards": shards, "num_rows": rows, "num_bytes_parquet": nbytes,
                "num_bytes_original": original.get((config, split), nbytes),
                "features": features(schema) if schema is not None else {}}
    return info


def _original_sizes(hub: Any, repo: Repo) -> dict[tuple[str, str], int]:
    """Bytes of each split's source files, as the upstream's viewer counts them (the mirror may hold none of
    the sources); offline or unsaid: the parquet bytes stand in."""
    mirror = hub.mirror
    try:
        data = mirror.upstream._get_json("/viewer/size", mirror._tokens.get(repo.id), f"sizes of {repo.repo_id}",
                                         {"dataset": repo.repo_id})
        return {(str(s["config"]), str(s["split"])): int(s["num_bytes_original_files"])
                for s in data["size"]["splits"]}
    except (HubError, KeyError, TypeError, ValueError):
        return {}


class _RangeFile(io.RawIOBase):
    """A stored blob as a seekable read-only file, each read a ranged read of the store."""

    def __init__(self, blobs: Any, key: str, size: int) -> None:
        self.blobs, self.key, self.size, self.pos = blobs, key, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        end = min(self.size, self.pos + len(buffer))
        data = b"".join(self.blobs.iter_range(self.key, self.pos, end)) if end > self.pos else b""
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)


def _local_lfs_copy(hub: Any, repo: Repo, entry: Any) -> str:
    """The shard's bytes under its LFS key (where the viewer's DuckDB reads them): filled through the mirror
    (linked to this repo, sha256 verified); a file the mirror keeps in Xet is written out once."""
    linked = hub.content.linked_object(repo.id, entry)  # authorizes and fills
    oid: str = entry.lfs.oid
    if linked.xet_hash is not None and not hub.blobs.exists(lfs_key(oid)):
        staged = hub.blobs.stage(lfs_key(oid))
        try:
            for block in hub.content.iter_content(repo.id, entry):
                staged.write(block)
            staged.publish()
        finally:
            staged.abort()
    return oid

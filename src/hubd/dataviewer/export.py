"""The parquet export job: convert a dataset's splits and commit them to refs/convert/parquet."""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from hubd.dataviewer.configs import ConfigError, data_format, resolve
from hubd.dataviewer.convert import ConversionError, convert_split
from hubd.dataviewer.features import features
from hubd.db.schema import parquet_exports
from hubd.hub.access import Principal
from hubd.hub.commits import new_commit
from hubd.hub.gitattributes import default_gitattributes
from hubd.hub.models import Repo
from hubd.hub.refs import RefConflict, cas_ref
from hubd.hub.service import Hub
from hubd.hub.treeedit import TreeEditor
from hubd.storage.blobstore import lfs_key
from hubd.storage.lfspointer import pointer_bytes

EXPORT_REF = "refs/convert/parquet"
CONVERTER = Principal(user_id=0, name="parquet-converter", fullname="parquet-converter",
                      email="parquet-converter@users.noreply.hubd", is_admin=False, token_name="", token_role="write")
log = logging.getLogger("hubd.export")


def _download(hub: Hub, repo: Repo, path: str, dest: Path) -> Path:
    """A local path holding the file: the stored blob itself when storage is a local disk, else a copy."""
    entry = hub.browse.lookup(repo.head_sha or "", path)
    assert entry is not None
    local = hub.content.local_file(repo.id, entry)
    if local is not None:
        return Path(local)
    with open(dest, "wb") as f:
        for block in hub.content.iter_content(repo.id, entry):
            f.write(block)
    return dest


def _store(hub: Hub, repo_id: int, path: Path) -> tuple[str, int]:
    """Put a shard into the LFS store (hashed first: the key is its sha256) and link it to the repo."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 * 1024 * 1024):
            digest.update(block)
    oid, size = digest.hexdigest(), path.stat().st_size
    if not hub.blobs.exists(lfs_key(oid)):
        staged = hub.blobs.stage(lfs_key(oid))
        try:
            with open(path, "rb") as f:
                while block := f.read(8 * 1024 * 1024):
                    staged.write(block)
            staged.publish()
        finally:
            staged.abort()
    hub.objects.link(repo_id, oid, size)
    return oid, size


def build(hub: Hub, repo: Repo, work: Path) -> tuple[dict, dict[str, tuple[str, int]]]:
    """(info per config and split, parquet path in the export → (oid, size)). Raises on bad data."""
    sha = repo.head_sha or ""
    files = {f.path: f for f in hub.browse.files(sha)}
    info: dict = {}
    pointers: dict[str, tuple[str, int]] = {}
    for config in resolve(hub.content.card(sha), list(files)):
        for split in config.splits:
            sources = []
            for i, name in enumerate(split.files):
                fmt = data_format(name)
                assert fmt is not None
                sources.append((_download(hub, repo, name, work / f"src-{i}"), fmt))
            try:
                result = convert_split(sources, work / "out" / config.name / split.name, split.files)
            except ConversionError as exc:
                # the recorded error says which config and split (the message names the file)
                raise ConversionError(f"config {config.name!r}, split {split.name!r}: {exc}") from None
            folder = f"partial-{split.name}" if result.partial else split.name
            shards: list[dict[str, Any]] = []
            for shard in result.shards:
                oid, size = _store(hub, repo.id, shard)
                pointers[f"{config.name}/{folder}/{shard.name}"] = (oid, size)
                shards.append({"filename": shard.name, "path": f"{config.name}/{folder}/{shard.name}", "size": size,
                               "oid": oid})
                shard.unlink()
            for src, _fmt in sources:
                if src.is_relative_to(work):
                    src.unlink()
            info.setdefault(config.name, {})[split.name] = {
                "num_rows": result.num_rows,
                "num_bytes_original": sum(files[n].size for n in split.files),
                "num_bytes_parquet": sum(s["size"] for s in shards),
                "features": features(result.schema) if result.schema is not None else {},
                "partial": result.partial,
                "shards": shards,
            }
    return info, pointers


def run_export(hub: Hub, repo_id: int) -> None:
    repo = hub.repos.by_id(repo_id)
    if repo is None or repo.type != "dataset" or repo.head_sha is None:
        return
    state, error = "ok", None
    with tempfile.TemporaryDirectory(prefix="hubd-export-") as tmp:
        try:
            info, pointers = build(hub, repo, Path(tmp))
        except (ConfigError, ConversionError) as exc:
            # bad data is the dataset's problem, not a crash: record it, export nothing
            state, error, info, pointers = "failed", str(exc), {}, {}
            log.info("parquet export of %s failed: %s", repo.repo_id, exc)
    editor = TreeEditor(hub.git, None)
    editor.add(".gitattributes", hub.git.add_blob(default_gitattributes("dataset")))
    for path, (oid, size) in sorted(pointers.items()):
        editor.add(path, hub.git.add_blob(pointer_bytes(oid, size)))
    tree = editor.write()
    for _ in range(10):
        old = hub.refs.get(repo, EXPORT_REF)
        commit = hub.git.add(new_commit(tree, [old] if old else [], "Update parquet files\n", CONVERTER))
        try:
            with hub.db.write() as conn:
                cas_ref(conn, repo.id, EXPORT_REF, old, commit)
                conn.execute(delete(parquet_exports).where(parquet_exports.c.repo_id == repo.id))
                conn.execute(insert(parquet_exports).values(
                    repo_id=repo.id, source_sha=repo.head_sha, export_sha=commit, state=state, error=error,
                    info=info, updated_at=time.time()))
            return
        except RefConflict:
            continue
    raise RuntimeError("refs/convert/parquet kept moving")


def export_of(hub: Hub, repo: Repo) -> dict | None:
    with hub.db.read() as conn:
        row = conn.execute(select(parquet_exports).where(parquet_exports.c.repo_id == repo.id)).mappings().first()
    return dict(row) if row else None

"""Derived metadata of a commit: computed by a job after each commit to main (and on the fly for other
revisions), from the README card, config.json and safetensors headers (read by range, never whole)."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select, update

from hubd.db.schema import repo_meta, repo_metrics, repo_tags, repos
from hubd.hub import modelmeta
from hubd.hub.browse import PathEntry
from hubd.hub.listing_fragment import listing_fragment
from hubd.hub.models import Repo
from hubd.hub.service import Hub

log = logging.getLogger("hubd.derive")
MAX_JSON_FILE = 2 * 1024 * 1024
# The largest real checkpoints have a few hundred shards; each costs two range reads.
MAX_SAFETENSORS_SHARDS = 2048


@dataclass
class Derived:
    sha: str
    card_data: dict | None = None
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str | None = None
    library_name: str | None = None
    config: dict | None = None
    transformers_info: dict | None = None
    safetensors: dict | None = None
    used_storage: int = 0
    sdk: str | None = None
    metrics: list[str] = field(default_factory=list)
    error: str | None = None


def _json_file(hub: Hub, repo: Repo, entry: PathEntry | None) -> dict | None:
    if entry is None or entry.size > MAX_JSON_FILE:
        return None
    try:
        data = json.loads(hub.content.read_range(repo.id, entry, 0, entry.size), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # broken, nested too deeply, NaN/Infinity: the file counts as absent
        return None
    return data if isinstance(data, dict) else None


def _no_constant(name: str) -> None:
    # NaN and Infinity are not JSON: stored, they would make the row unreadable to PostgreSQL and to clients.
    raise ValueError(f"{name} is not JSON")


def _safetensors(hub: Hub, repo: Repo, by_path: dict[str, PathEntry]) -> dict | None:
    """Parameter counts over all shards; a bad header anywhere raises SafetensorsError (a partial count would
    be a wrong one)."""
    index = _json_file(hub, repo, by_path.get("model.safetensors.index.json"))
    if index and isinstance(index.get("weight_map"), dict):
        shards = sorted({str(v) for v in index["weight_map"].values()})
    else:
        shards = sorted(p for p in by_path if p.endswith(".safetensors") and "/" not in p)
    if not shards:
        return None
    if len(shards) > MAX_SAFETENSORS_SHARDS:
        raise modelmeta.SafetensorsError(f"more than {MAX_SAFETENSORS_SHARDS} safetensors shards")
    counts: dict[str, int] = {}
    for name in shards:
        entry = by_path.get(name)
        if entry is None or entry.is_dir:
            raise modelmeta.SafetensorsError(f"safetensors shard {name[:200]} is missing")
        try:
            read = hub.content.read_range
            n = modelmeta.safetensors_header_size(read(repo.id, entry, 0, min(8, entry.size)), entry.size)
            shard = modelmeta.count_parameters(read(repo.id, entry, 8, 8 + n), entry.size - 8 - n)
        except modelmeta.SafetensorsError as exc:
            raise modelmeta.SafetensorsError(f"{name[:200]}: {exc}") from None
        for dtype, count in shard.items():
            counts[dtype] = counts.get(dtype, 0) + count
    total = sum(counts.values())
    if total > modelmeta.MAX_PARAMETERS:
        raise modelmeta.SafetensorsError(f"more than {modelmeta.MAX_PARAMETERS} parameters over all shards")
    return {"parameters": counts, "total": total}


def derive(hub: Hub, repo: Repo, sha: str) -> Derived:
    files = hub.browse.files(sha)
    by_path = {f.path: f for f in files}
    paths = list(by_path)
    card = hub.content.card(sha)
    card_dict = card or {}
    readme_entry = by_path.get("README.md")
    readme = ""
    if readme_entry is not None and readme_entry.size <= MAX_JSON_FILE:
        readme = hub.content.read_range(repo.id, readme_entry, 0, readme_entry.size).decode("utf-8", errors="replace")
    out = Derived(sha=sha, card_data=card, used_storage=sum(f.size for f in files))
    if repo.type == "model":
        config = _json_file(hub, repo, by_path.get("config.json"))
        tokenizer_config = _json_file(hub, repo, by_path.get("tokenizer_config.json"))
        out.transformers_info = modelmeta.transformers_info(config, paths)
        out.config = modelmeta.config_subset(config, tokenizer_config)
        pipeline = card_dict.get("pipeline_tag")
        out.pipeline_tag = pipeline if isinstance(pipeline, str) else (out.transformers_info or {}).get(
            "pipeline_tag")
        out.library_name = modelmeta.library_name(card_dict, config, paths)
        out.tags = modelmeta.model_tags(card_dict, readme, out.library_name, out.pipeline_tag, config, paths)
        out.metrics = modelmeta.card_metrics(card_dict)
        try:
            out.safetensors = _safetensors(hub, repo, by_path)
        except modelmeta.SafetensorsError as exc:
            # Recorded, never raised: the job completes (no retries of a hopeless header) and repo_info
            # answers without safetensors info, as for a repo that has none.
            out.error = f"safetensors: {exc}"
            log.warning("%s/%s@%s: safetensors info skipped: %s", repo.namespace, repo.name, sha[:12], exc)
    elif repo.type == "dataset":
        out.tags = modelmeta.dataset_tags(card_dict, readme, paths)
    else:
        sdk = card_dict.get("sdk")
        out.sdk = sdk if isinstance(sdk, str) else repo.sdk
        out.tags = modelmeta.space_tags(card_dict, out.sdk)
    return out


def store(hub: Hub, repo_id: int, repo_type: str, d: Derived) -> None:
    with hub.db.write() as conn:
        conn.execute(update(repos).where(repos.c.id == repo_id).values(
            pipeline_tag=d.pipeline_tag, library_name=d.library_name, used_storage=d.used_storage,
            derived_sha=d.sha, **({"sdk": d.sdk} if d.sdk else {}),
        ))
        conn.execute(delete(repo_meta).where(repo_meta.c.repo_id == repo_id))
        conn.execute(insert(repo_meta).values(
            repo_id=repo_id, card_data=d.card_data, tags=d.tags, config=d.config,
            transformers_info=d.transformers_info, safetensors=d.safetensors, error=d.error,
            listing=listing_fragment(repo_type, d.tags, d.pipeline_tag, d.library_name, d.card_data),
        ))
        conn.execute(delete(repo_metrics).where(repo_metrics.c.repo_id == repo_id))
        if d.metrics:
            conn.execute(insert(repo_metrics), [{"repo_id": repo_id, "metric": m} for m in d.metrics])
        conn.execute(delete(repo_tags).where(repo_tags.c.repo_id == repo_id))
        if d.tags:
            conn.execute(insert(repo_tags), [{"repo_id": repo_id, "tag": t[:255]} for t in dict.fromkeys(d.tags)])


def load(hub: Hub, repo: Repo) -> Derived | None:
    """The stored derivation of the repo's main head, if the job has caught up with it."""
    if repo.head_sha is None:
        return None
    with hub.db.read() as conn:
        row = conn.execute(select(repos.c.derived_sha, repos.c.pipeline_tag, repos.c.library_name,
                                  repos.c.used_storage, repo_meta)
                           .join(repo_meta, repo_meta.c.repo_id == repos.c.id)
                           .where(repos.c.id == repo.id)).mappings().first()
    if row is None or row["derived_sha"] != repo.head_sha:
        return None
    return Derived(
        sha=row["derived_sha"], card_data=row["card_data"], tags=list(row["tags"] or []),
        pipeline_tag=row["pipeline_tag"], library_name=row["library_name"], config=row["config"],
        transformers_info=row["transformers_info"], safetensors=row["safetensors"],
        used_storage=row["used_storage"], sdk=repo.sdk, error=row["error"],
    )


_computed: OrderedDict[tuple, Derived] = OrderedDict()
_computed_lock = threading.Lock()
COMPUTED_CACHE = 1024


def for_revision(hub: Hub, repo: Repo, sha: str) -> Derived:
    """The job's stored row for the derived head; otherwise computed once per commit and kept, since a
    commit's content never changes (repo_info of old revisions would re-read safetensors headers)."""
    stored = load(hub, repo) if sha == repo.head_sha else None
    if stored is not None:
        return stored
    key = (repo.id, repo.type, repo.sdk, sha)
    with _computed_lock:
        if key in _computed:
            _computed.move_to_end(key)
            return _computed[key]
    result = derive(hub, repo, sha)
    with _computed_lock:
        _computed[key] = result
        while len(_computed) > COMPUTED_CACHE:
            _computed.popitem(last=False)
    return result


def run_derive_job(hub: Hub, repo_id: int) -> None:
    repo = hub.repos.by_id(repo_id)
    if repo is None or repo.head_sha is None:
        return  # deleted since
    store(hub, repo.id, repo.type, derive(hub, repo, repo.head_sha))


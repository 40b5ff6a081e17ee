"""The JSON of a model, dataset or Space, shared by info and listing routes."""

from __future__ import annotations

from dataclasses import dataclass

from hubd.api.shapes import sibling_json
from hubd.hub.browse import PathEntry
from hubd.hub.models import Repo, iso

# Fields a listing returns without `full`, `expand`, `cardData` or `config` (as the Hub does).
LISTING_FIELDS = frozenset({"_id", "id", "author", "sha", "lastModified", "createdAt", "private", "gated",
                            "disabled", "downloads", "likes", "trendingScore", "tags", "pipeline_tag",
                            "library_name", "modelId", "sdk", "description"})


@dataclass
class Meta:
    """Derived metadata, from the derive job's row or computed for a revision."""

    tags: list[str]
    card_data: dict | None
    config: dict | None = None
    transformers_info: dict | None = None
    safetensors: dict | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    used_storage: int = 0


def repo_json(repo: Repo, sha: str | None, last_modified: float, meta: Meta,
              siblings: list[PathEntry] | None = None, blobs: bool = False) -> dict:
    out: dict = {
        "_id": f"{repo.id:024x}",
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": sha,
        "lastModified": iso(last_modified),
        "createdAt": iso(repo.created_at),
        "private": repo.private,
        "gated": repo.gated_value,
        "disabled": False,
        "downloads": repo.downloads,
        "downloadsAllTime": repo.downloads_all_time,
        "likes": repo.likes,
        "trendingScore": round(repo.trending_score),
        "tags": meta.tags,
        "usedStorage": meta.used_storage,
    }
    if meta.card_data is not None:
        out["cardData"] = meta.card_data
    if siblings is not None:
        out["siblings"] = [sibling_json(f, blobs) for f in siblings]
    if repo.type == "model":
        out["modelId"] = repo.repo_id
        for key, value in (("pipeline_tag", meta.pipeline_tag), ("library_name", meta.library_name),
                           ("config", meta.config), ("transformersInfo", meta.transformers_info),
                           ("safetensors", meta.safetensors)):
            if value is not None:
                out[key] = value
        out["spaces"] = []
    elif repo.type == "dataset":
        description = (meta.card_data or {}).get("pretty_name")
        out["description"] = description if isinstance(description, str) else ""
    else:
        if repo.sdk is not None:  # Spaces made before the SDK was required have none: no key rather than null
            out["sdk"] = repo.sdk
        # hubd stores Spaces but does not run them: say so rather than pretend.
        out["runtime"] = {"stage": "STOPPED", "hardware": {}, "replicas": {"current": 0, "requested": 0}}
        out["subdomain"] = f"{repo.namespace}-{repo.name}".lower().replace(".", "-").replace("_", "-")
        out["models"], out["datasets"] = [], []
    return out


def select_fields(item: dict, expand: list[str], full: bool, card: bool, config: bool) -> dict:
    """The listing's default fields, widened by `full`/`cardData`/`config`, or exactly what `expand` asks."""
    if expand:
        return {k: v for k, v in item.items() if k in ("_id", "id") or k in expand}
    keep = set(LISTING_FIELDS)
    if full:
        keep |= {"siblings", "cardData", "downloadsAllTime", "usedStorage"}
    if card:
        keep.add("cardData")
    if config:
        keep.add("config")
    return {k: v for k, v in item.items() if k in keep}

"""The stored part of a repo's listing item: the members the derive job decides (tags, pipeline_tag,
library_name, a dataset's description), as JSON text computed once per commit instead of once per request."""

from __future__ import annotations

from typing import Any

import orjson


def listing_fragment(repo_type: str, tags: list[str], pipeline_tag: str | None, library_name: str | None,
                     card_data: dict[str, Any] | None) -> str:
    """`"tags":[...]` and the type's derived members, ready to splice into `{...}`."""
    members: dict[str, Any] = {"tags": tags}
    if repo_type == "model":
        if pipeline_tag is not None:
            members["pipeline_tag"] = pipeline_tag
        if library_name is not None:
            members["library_name"] = library_name
    elif repo_type == "dataset":
        description = (card_data or {}).get("pretty_name")
        members["description"] = description if isinstance(description, str) else ""
    return orjson.dumps(members).decode()[1:-1]

"""Repo ids without a namespace (`gpt2`, `my-dataset`): on the Hub these are legacy canonical repos; no such
repo exists in hubd, so every repo route under such an id answers RepoNotFound — what `repo_exists`,
`push_to_hub("name")` and `datasets` (which calls `repo_info("name")` first) expect, not a generic 404."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.errors import RepoNotFound
from hubd.hub.names import PLURALS_RE, PREFIXES_RE

# matched after every real route, so only ids that no real route took get here
API_UNSCOPED = f"/api/(?P<types>{PLURALS_RE})/(?P<name>[^/]+)(?:/.*)?"
FILES_UNSCOPED = f"/(?:(?P<prefix>{PREFIXES_RE})/)?(?P<name>[^/]+)/(?:resolve|raw)/.*"


async def not_found(ctx: Ctx) -> Response:
    raise RepoNotFound()

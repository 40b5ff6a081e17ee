"""The upstream hub, spoken to only through the Hub's HTTP API (and git smart HTTP, in gitfetch)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from hubd.hub.errors import BadRequest, GatedRepo, HubError, RepoNotFound, RevisionNotFound
from hubd.mirror.errors import UpstreamUnavailable

log = logging.getLogger("hubd.mirror")
PLURAL = {"model": "models", "dataset": "datasets", "space": "spaces"}
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
MAX_JSON = 64 * 1024 * 1024  # a repo info with siblings of a 100k-file repo is ~20 MB


def _error(resp: httpx.Response, what: str) -> HubError:
    """The upstream's refusal as hubd's own error (the message is the upstream's, bounded)."""
    code = resp.headers.get("x-error-code", "")
    message = (resp.headers.get("x-error-message") or f"{what}: upstream answered {resp.status_code}")[:500]
    if resp.status_code >= 500:
        return UpstreamUnavailable(f"The upstream hub failed ({resp.status_code}) on {what}")
    if code == "GatedRepo" or (resp.status_code == 403 and "gated" in message.lower()):
        return GatedRepo(message)
    if code == "RevisionNotFound":
        return RevisionNotFound(message)
    if code == "EntryNotFound":
        from hubd.hub.errors import EntryNotFound

        return EntryNotFound(message)
    if resp.status_code in (401, 403, 404):
        # an upstream repo this identity may not see is, here too, a missing repo
        return RepoNotFound()
    return BadRequest(message)


def read_capped(resp: httpx.Response, limit: int, what: str) -> bytes:
    """The body of a streamed upstream answer, refused past `limit` bytes: a hostile or broken upstream cannot
    make hubd buffer more."""
    body = bytearray()
    for chunk in resp.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise UpstreamUnavailable(f"The upstream's answer to {what} is too large")
    return bytes(body)


def parse_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise UpstreamUnavailable(f"The upstream's answer to {what} is not JSON") from None


class Upstream:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        # connect fails fast (an unreachable upstream is a 504 quickly); reads wait for slow first bytes
        self.client = httpx.Client(timeout=httpx.Timeout(timeout, connect=3.0), follow_redirects=True,
                                   limits=httpx.Limits(max_connections=64, max_keepalive_connections=16))

    @staticmethod
    def _headers(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _get_json(self, path: str, token: str | None, what: str, params: Any = None) -> Any:
        return self.get_json(self.url + path, self._headers(token), what, MAX_JSON, params)

    def get_json(self, url: str, headers: dict[str, str], what: str, limit: int, params: Any = None) -> Any:
        """A JSON answer of the upstream, read as a stream and refused past `limit` bytes (a hostile or broken
        upstream cannot make hubd buffer more); its refusals become hubd's errors (`_error`)."""
        try:
            with self.client.stream("GET", url, headers=headers, params=params) as resp:
                if resp.status_code != 200:
                    raise _error(resp, what)  # from the status and headers: the body is never read
                return parse_json(read_capped(resp, limit, what), what)
        except httpx.HTTPError as exc:
            log.warning("upstream unreachable on %s: %r", what, exc)
            raise UpstreamUnavailable(f"The upstream hub is unreachable ({what})") from None

    def repo_info(self, repo_type: str, repo_id: str, revision: str | None, token: str | None) -> dict:
        path = f"/api/{PLURAL[repo_type]}/{repo_id}"
        if revision is not None:
            path += f"/revision/{quote(revision, safe='')}"
        info = self._get_json(path, token, f"info of {repo_id}")
        if not isinstance(info, dict) or not isinstance(info.get("sha"), str) or len(info["sha"]) != 40:
            raise UpstreamUnavailable(f"The upstream's info of {repo_id} has no commit sha")
        return info

    def auth_check(self, repo_type: str, repo_id: str, token: str | None) -> None:
        """Raises the upstream's refusal (GatedRepo, RepoNotFound) when this token may not download."""
        self._get_json(f"/api/{PLURAL[repo_type]}/{repo_id}/auth-check", token, f"access to {repo_id}")

    def listing(self, repo_type: str, params: list[tuple[str, str]], token: str | None) -> Any:
        return self._get_json(f"/api/{PLURAL[repo_type]}", token, f"{PLURAL[repo_type]} listing", params)

    def git_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.url}/{PREFIX[repo_type]}{repo_id}"

    @contextmanager
    def open_file(self, repo_type: str, repo_id: str, sha: str, path: str, token: str | None,
                  byte_range: tuple[int, int] | None = None) -> Iterator[httpx.Response]:
        """A streaming GET of a file at a commit (redirects to a storage URL followed, without the token)."""
        url = f"{self.url}/{PREFIX[repo_type]}{repo_id}/resolve/{sha}/{quote(path)}"
        headers = self._headers(token)
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1] - 1}"
        try:
            with self.client.stream("GET", url, headers=headers,
                                    timeout=httpx.Timeout(60.0, connect=3.0)) as resp:
                if resp.status_code not in (200, 206):
                    raise _error(resp, f"{repo_id}/{path}")  # from the headers: no body read
                yield resp
        except httpx.HTTPError as exc:
            log.warning("upstream unreachable on %s/%s: %r", repo_id, path, exc)
            raise UpstreamUnavailable(f"The upstream hub is unreachable ({repo_id}/{path})") from None

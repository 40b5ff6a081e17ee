"""Principals and access decisions cached under the access generation (db/generation.py, the ACCESS counter).

A hot read (a snapshot asks for a thousand small files, each HEAD then GET) needs the caller's principal
and the decision "may download this repo" on every request. Both are kept in memory, keyed by what names
them (the token's hash; the principal, repo type and id), and all of them are dropped the moment the access
generation moves: one cheap read of that number per request replaces the token, membership, repo and gating
queries, and still sees a repo made private, a token revoked or a member removed at once, on every replica.
A token's entry also lapses at its expiry and after LAST_USED_RESOLUTION, so its last-used time stays as
fresh as before. Requests signed in by a session cookie are not cached (their keys are sessions).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread

from hubd.db.generation import GenerationReader
from hubd.hub.access import Principal
from hubd.hub.accounts import LAST_USED_RESOLUTION, Accounts, hash_token
from hubd.hub.models import Repo

MAX_ENTRIES = 50_000  # per map; when full it starts over (an entry is a few hundred bytes)
ANONYMOUS = ""
MAX_TREE_ITEMS = 200_000


class AccessCache:
    def __init__(self, reader: GenerationReader, accounts: Accounts) -> None:
        self.reader = reader
        self.accounts = accounts
        self.generation: int | None = None
        self.principals: dict[str, tuple[Principal, float]] = {}  # token hash -> (principal, valid until)
        self.repos: dict[tuple[str, str, str, str, str], Repo] = {}  # (check, auth key, type, ns, name) -> repo
        self.commits: set[tuple[int, str]] = set()  # (repo id, full sha) found in that repo: immutable
        # tree listing pages at a commit named by its sha: (repo id, sha, path, recursive, cursor) -> page
        self.tree_pages: dict[tuple[int, str, str, bool, int], Any] = {}
        self._tree_page_items = 0

    def keep_tree_page(self, key: tuple[int, str, str, bool, int], page: tuple[list[dict], bool]) -> None:
        """Bounded by entries listed (a page holds up to 1,000): it starts over past MAX_TREE_ITEMS."""
        if self._tree_page_items + len(page[0]) > MAX_TREE_ITEMS:
            self.tree_pages.clear()
            self._tree_page_items = 0
        self.tree_pages[key] = page
        self._tree_page_items += len(page[0])

    async def current(self) -> int | None:
        """Read the generation (no thread hop); a new one empties the cache."""
        gen = await self.reader.read()
        if gen != self.generation:
            self.principals.clear()
            self.repos.clear()
            self.generation = gen
        return gen

    def _store(self, gen: int | None, table: dict, key: Any, value: Any) -> None:
        # only under the generation read before the answer was computed: a change committed meanwhile has
        # moved the number (or will, for the next reader), so a stale answer is never kept under a new one
        if gen is None or gen != self.generation:
            return
        if len(table) >= MAX_ENTRIES:
            table.clear()
        table[key] = value

    async def authenticate(self, token: str) -> tuple[Principal, str, int | None]:
        """The token's principal, its cache key (the token's hash) and the generation it was checked at."""
        key = hash_token(token)
        gen = await self.current()
        hit = self.principals.get(key)
        if hit is not None and hit[1] > time.time():
            return hit[0], key, gen
        principal, expires_at = await anyio.to_thread.run_sync(self.accounts.authenticate_until, token)
        until = time.time() + LAST_USED_RESOLUTION
        self._store(gen, self.principals, key, (principal, until if expires_at is None else min(until, expires_at)))
        return principal, key, gen

    async def repo(self, gen: int | None, auth_key: str | None, check: Callable[..., Repo], p: Principal | None,
                   repo_type: str, namespace: str, name: str) -> Repo:
        """`check(p, repo_type, namespace, name)` (a Hub.repo_for_* method), answered from the cache when it
        was answered for this caller under the current generation. `auth_key` None: never cached."""
        key = (check.__name__, auth_key or "", repo_type, namespace.lower(), name.lower())
        if auth_key is not None and gen is not None and gen == self.generation:
            hit = self.repos.get(key)
            if hit is not None:
                return hit
        repo = await anyio.to_thread.run_sync(check, p, repo_type, namespace, name)
        if auth_key is not None:
            self._store(gen, self.repos, key, repo)
        return repo

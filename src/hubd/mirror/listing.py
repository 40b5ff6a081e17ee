"""Listings of mirrored namespaces: `GET /api/models?author=meta-llama` answers with the upstream's listing
(the mirror holds only what was read through), kept from the last sync to answer while the upstream is down."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from hubd.hub.access import Principal
from hubd.mirror.errors import UpstreamUnavailable
from hubd.mirror.service import _token_id

MAX_KEPT = 1000  # listings kept for offline answers, least recently asked dropped first
_PASSED = ("search", "filter", "sort", "direction", "limit", "full", "cardData", "config", "expand", "expand[]")


class MirroredListings:
    def __init__(self, mirror: Any) -> None:
        self.mirror = mirror
        self._kept: OrderedDict[tuple, list] = OrderedDict()
        self._lock = threading.Lock()

    def covers(self, repo_type: str, author: str | None, cursor: str | None) -> bool:
        """An author's listing is the upstream's when that namespace is mirrored: named by an explicit rule,
        or (no rules) not an account of this hub. Pages after the first are the local listing's (its cursor
        is hubd's own), so only first pages are asked upstream."""
        if not author or cursor:
            return False
        if self.mirror.rules.explicit:
            return self.mirror.rules.covers(repo_type, author, "x")
        return self.mirror.hub.accounts.account(author) is None

    def listing(self, p: Principal | None, repo_type: str, author: str, params: list[tuple[str, str]]) -> list:
        query = [("author", author)] + [(k, v) for k, v in params if k in _PASSED]
        token = self.mirror.token_for(p)
        key = (repo_type, tuple(sorted(query)), _token_id(token))
        try:
            items = self.mirror.upstream.listing(repo_type, query, token)
        except UpstreamUnavailable:
            with self._lock:
                kept = self._kept.get(key)
            if kept is None:
                raise
            return kept  # offline: the listing of the last sync
        if not isinstance(items, list):
            raise UpstreamUnavailable("The upstream's listing is not a list")
        with self._lock:
            self._kept[key] = items
            self._kept.move_to_end(key)
            while len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)
        return items


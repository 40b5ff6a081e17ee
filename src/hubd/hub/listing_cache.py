"""Whole listing pages, kept per process and keyed by (catalogue generation, query, visibility class).

A page is only served under the generation it was built at (read before its data, see db/generation.py);
the first request that reads a newer generation drops every older page. The visibility class is what the
listing's SQL lets a caller see beyond public repos (hub.listing.visibility_class), so a cached page never
reaches someone it would not have been built for."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_BUDGET = 64 * 1024 * 1024
MAX_PAGE = 4 * 1024 * 1024  # a limit=1000 page with `full` can be large: not worth a tenth of the budget


@dataclass(frozen=True)
class Page:
    body: bytes
    link: str | None  # the Link header to the next page


class PageCache:
    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self.budget = budget
        self.generation: int | None = None
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # pages are stored from worker threads, read on the event loop

    def get(self, generation: int, key: tuple) -> Page | None:
        if generation != self.generation:
            return None
        page = self._pages.get(key)
        if page is not None:
            # dropped by another thread meanwhile: still a correct page of this generation
            with contextlib.suppress(KeyError):
                self._pages.move_to_end(key)
        return page

    def put(self, generation: int, key: tuple, page: Page) -> None:
        size = _size(key, page)
        if size > MAX_PAGE:
            return
        with self._lock:
            if self.generation is None or generation > self.generation:
                self._pages.clear()
                self._bytes = 0
                self.generation = generation
            elif generation < self.generation:
                return  # built from an older generation than pages already here: never served again
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= _size(key, old)
            self._pages[key] = page
            self._bytes += size
            while self._bytes > self.budget and self._pages:
                dropped_key, dropped = self._pages.popitem(last=False)
                self._bytes -= _size(dropped_key, dropped)


def _size(key: tuple, page: Page) -> int:
    """Bytes held for a page, its key (a query string can be long) and the bookkeeping around them."""
    return len(page.body) + len(page.link or "") + sum(len(k) for k in key if isinstance(k, bytes | str)) + 200

"""A least-recently-used cache bounded by bytes, not entries.

The Xet caches used to hold 4,096 entries each: an entry is a xorb index (up to 8,192 chunks) or a file's
reconstruction (up to 2^18 terms), so a count bounded nothing (4,096 indexes of 64 MiB xorbs are ~600 MiB of
Python objects). Entries here are charged their approximate resident size and evicted oldest first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

_MISSING = object()


class ByteLRU(Generic[V]):
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()  # shared by the worker's thread pool

    def get(self, key: Hashable, load: Callable[[], V], cost: Callable[[V], int]) -> V:
        """The cached value, or `load()` kept when it fits. An entry above a quarter of the budget is not
        kept: one huge file must not flush everything else."""
        with self._lock:
            hit = self._items.get(key, _MISSING)
            if hit is not _MISSING:
                self._items.move_to_end(key)
                return hit[0]  # type: ignore[index]
        value = load()  # outside the lock: loads read storage
        size = cost(value)
        if size * 4 > self.budget:
            return value
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, size)
                self.used += size
                while self.used > self.budget:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self.used -= dropped
        return value

    def peek(self, key: Hashable) -> V | None:
        """The cached value (now the most recent), or None."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        """Keep `value` at a cost of `size` bytes, evicting the oldest entries; not kept above a quarter of
        the budget."""
        if size * 4 > self.budget:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self._items[key] = (value, size)
            self.used += size
            while self.used > self.budget:
                _, (_, dropped) = self._items.popitem(last=False)
                self.used -= dropped

    def discard(self, key: Hashable) -> None:
        with self._lock:
            hit = self._items.pop(key, None)
            if hit is not None:
                self.used -= hit[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0

"""The listing page cache: pages only under the generation they were built at, bounded in bytes."""

from __future__ import annotations

from hubd.hub.listing_cache import Page, PageCache


def test_pages_live_only_in_their_generation() -> None:
    cache = PageCache()
    key = ("models", b"search=x", ())
    cache.put(5, key, Page(b"[1]", None))
    assert cache.get(5, key) == Page(b"[1]", None)
    assert cache.get(6, key) is None  # a newer generation: the page may be stale
    cache.put(6, ("models", b"other", ()), Page(b"[2]", None))
    assert cache.get(6, key) is None  # the first page of generation 6 dropped every older one
    cache.put(5, key, Page(b"[old]", None))  # built by a request that read generation 5 before the change
    assert cache.get(6, key) is None and cache.get(5, key) is None
    assert cache.get(5, ("models", b"search=x", ("alice",))) is None  # another visibility class, another page


def test_the_budget_bounds_bodies_and_keys() -> None:
    cache = PageCache(budget=20_000)
    for i in range(100):
        cache.put(1, ("models", b"q=%d" % i + b"x" * 300, ()), Page(b"x" * 500, "<next>"))
    assert cache._bytes <= 20_000 and 10 < len(cache._pages) < 100
    assert cache.get(1, ("models", b"q=99" + b"x" * 300, ())) is not None  # the newest stay
    assert cache.get(1, ("models", b"q=0" + b"x" * 300, ())) is None
    cache.put(1, ("models", b"huge", ()), Page(b"x" * 5 * 2**20, None))
    assert cache.get(1, ("models", b"huge", ())) is None  # larger than a page may be: never held

"""Cached listing pages: a page is shared only by callers of one visibility class, and every change to the
catalogue (visibility, membership, new repos) shows at once, on every worker process and replica."""

from __future__ import annotations

import httpx
from huggingface_hub import HfApi

from tests.conftest import Hubd, running_hubd


def _ids(url: str, token: str | None) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.get(url, headers=headers)
    r.raise_for_status()
    return sorted(m["id"] for m in r.json())


def test_private_repos_never_leak_from_a_cached_page(hubd: Hubd, alice: HfApi, repo_name: str) -> None:
    stem = f"cache{repo_name}"
    opened, hidden, org_hidden = f"alice/{stem}-open", f"alice/{stem}-hidden", f"acme/{stem}-orgs"
    alice.create_repo(opened)
    alice.create_repo(hidden, private=True)
    alice.create_repo(org_hidden, private=True)
    url = f"{hubd.url}/api/models?search={stem}"
    a, b = hubd.tokens["alice"], hubd.tokens["bob"]

    def check(anon: list[str], bob: list[str], alice_sees: list[str]) -> None:
        for _ in range(3):  # the first request of each class builds its page, the next ones are served from it
            assert _ids(url, None) == sorted(anon)
            assert _ids(url, b) == sorted(bob)
            assert _ids(url, a) == sorted(alice_sees)
        # a fresh build of the same query (another query string, so not the cached page) agrees
        for token in (None, b, a):
            assert _ids(url + "&sort=createdAt", token) == _ids(url, token)

    check([opened], [opened], [opened, hidden, org_hidden])
    alice.update_repo_settings(hidden, private=False)
    check([opened, hidden], [opened, hidden], [opened, hidden, org_hidden])
    alice.update_repo_settings(opened, private=True)
    check([hidden], [hidden], [opened, hidden, org_hidden])
    hubd.cli("orgs", "add-member", "acme", "bob", "--role", "read")
    try:
        check([hidden], [hidden, org_hidden], [opened, hidden, org_hidden])
    finally:
        hubd.cli("orgs", "remove-member", "acme", "bob")
    check([hidden], [hidden], [opened, hidden, org_hidden])
    alice.delete_repo(hidden)
    check([], [], [opened, org_hidden])


def test_every_worker_sees_a_change_at_once() -> None:
    """Two worker processes, each with its cache warmed: no request after a change may answer the old page
    (the generation is read from the database on every request, which is what replicas share too)."""
    with running_hubd("listing-workers", "carol", "dave", extra_args=["--workers", "2"]) as server:
        carol = HfApi(endpoint=server.url, token=server.tokens["carol"])
        url = f"{server.url}/api/models?author=carol"
        carol.create_repo("carol/first")
        carol.create_repo("carol/secret", private=True)
        dave = server.tokens["dave"]
        def ids(token: str | None) -> list[str]:
            return _ids(url, token)  # a new connection each time: granian's workers share the socket

        for _ in range(20):  # new connections land on both workers
            assert ids(None) == ["carol/first"] and ids(dave) == ["carol/first"]
        carol.update_repo_settings("carol/secret", private=False)
        for _ in range(20):
            assert ids(None) == ["carol/first", "carol/secret"] and ids(dave) == ids(None)
        carol.create_repo("carol/third")
        carol.update_repo_settings("carol/first", private=True)
        for _ in range(20):
            assert ids(None) == ["carol/secret", "carol/third"] and ids(dave) == ids(None)
            assert ids(server.tokens["carol"]) == ["carol/first", "carol/secret", "carol/third"]

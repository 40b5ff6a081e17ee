"""/resolve answers from memory once a path was resolved, and still checks access on every request: a repo
made private or deleted, a revoked token, a removed member stop being served at once."""

from __future__ import annotations

import uuid

import httpx
from huggingface_hub import HfApi


def _get(hubd, path: str, token: str | None, method: str = "GET", **headers: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx.request(method, hubd.url + path, headers=headers)


def _warm(hubd, paths: list[str], tokens: list[str | None]) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):  # the second round is answered from the caches
        for path in paths:
            for token in tokens:
                for method in ("HEAD", "GET"):
                    assert _get(hubd, path, token, method).status_code == 200, (path, method)


def test_cached_path_stops_when_private_and_when_deleted(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    sha = alice.upload_file(path_or_fileobj=b"hot bytes", path_in_repo="f.txt", repo_id=repo_id).oid
    paths = [f"/{repo_id}/resolve/{sha}/f.txt", f"/{repo_id}/resolve/main/f.txt", f"/{repo_id}/raw/{sha}/f.txt"]
    bob, owner = hubd.tokens["bob"], hubd.tokens["alice"]
    _warm(hubd, paths, [bob, None, owner])
    assert _get(hubd, paths[0], bob).content == b"hot bytes"

    alice.update_repo_settings(repo_id, private=True)
    for path in paths:
        for method in ("HEAD", "GET"):
            r = _get(hubd, path, bob, method)
            assert (r.status_code, r.headers.get("x-error-code")) == (404, "RepoNotFound"), (path, method)
            r = _get(hubd, path, None, method)
            assert (r.status_code, r.headers.get("x-error-code")) == (401, "RepoNotFound"), (path, method)
        assert _get(hubd, path, owner).status_code == 200

    alice.update_repo_settings(repo_id, private=False)
    assert _get(hubd, paths[0], bob).content == b"hot bytes"

    alice.delete_repo(repo_id)
    for path in paths:
        for token in (bob, None, owner):
            assert _get(hubd, path, token).headers.get("x-error-code") == "RepoNotFound", (path, token)


def test_revoked_token_and_removed_member_refused_at_once(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"acme/{repo_name}"
    alice.create_repo(repo_id, private=True)
    sha = alice.upload_file(path_or_fileobj=b"org secret", path_in_repo="s.txt", repo_id=repo_id).oid
    path = f"/{repo_id}/resolve/{sha}/s.txt"
    member = f"m{uuid.uuid4().hex[:8]}"
    token = hubd.add_user(member)
    hubd.cli("orgs", "add-member", "acme", member, "--role", "read")
    created = httpx.post(f"{hubd.url}/api/settings/tokens", json={"displayName": "short-lived", "role": "read"},
                         headers={"authorization": f"Bearer {token}"}).json()
    _warm(hubd, [path], [token, created["token"]])

    r = httpx.delete(f"{hubd.url}/api/settings/tokens/{created['id']}", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert _get(hubd, path, created["token"]).status_code == 401  # revoked: refused on the next request
    assert _get(hubd, path, token).content == b"org secret"

    hubd.cli("orgs", "remove-member", "acme", member)  # another process, as a replica would be
    r = _get(hubd, path, token)
    assert (r.status_code, r.headers.get("x-error-code")) == (404, "RepoNotFound")


def test_if_none_match(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    sha = alice.upload_file(path_or_fileobj=b"etag me", path_in_repo="e.txt", repo_id=repo_id).oid
    path = f"/{repo_id}/resolve/{sha}/e.txt"
    first = _get(hubd, path, None)
    etag = first.headers["etag"]
    again = _get(hubd, path, None, **{"if-none-match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert again.headers["x-repo-commit"] == sha
    assert _get(hubd, path, None, **{"if-none-match": 'W/"other", ' + etag}).status_code == 304
    assert _get(hubd, path, None, **{"if-none-match": '"other"'}).content == b"etag me"
    alice.update_repo_settings(repo_id, private=True)  # a 304 still needs read access
    assert _get(hubd, path, None, **{"if-none-match": etag}).status_code == 401

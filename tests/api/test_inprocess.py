"""API behaviour through the in-process client (tests/inprocess.py): the same app, database and storage
as the end-to-end tests, in milliseconds per request instead of a server and a client library."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from hubd.storage.gitstore import git_sha, object_key
from tests.inprocess import InProcessHub, inprocess_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessHub]:
    with inprocess_hub(tmp_path_factory.mktemp("inprocess")) as h:
        h.add_user("alice")
        h.add_user("bob")
        yield h


def ndjson(*lines: dict) -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines)


def commit(hub: InProcessHub, user: str, repo_id: str, files: dict[str, bytes], summary: str = "add") -> dict:
    body = ndjson({"key": "header", "value": {"summary": summary}},
                  *({"key": "file", "value": {"path": p, "content": base64.b64encode(c).decode(),
                                               "encoding": "base64"}} for p, c in files.items()))
    r = hub.client.post(f"/api/models/{repo_id}/commit/main", content=body,
                        headers={**hub.auth(user), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    return r.json()


def assert_hub_error(r, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == r.headers["x-error-message"]
    if code is not None:
        assert r.headers["x-error-code"] == code


def test_whoami(hub: InProcessHub) -> None:
    r = hub.client.get("/api/whoami-v2", headers=hub.auth("alice"))
    assert r.status_code == 200 and r.json()["name"] == "alice" and r.json()["type"] == "user"
    assert_hub_error(hub.client.get("/api/whoami-v2"), 401)
    assert_hub_error(hub.client.get("/api/whoami-v2", headers={"Authorization": "Bearer hf_nope"}), 401)


def test_create_commit_read(hub: InProcessHub) -> None:
    r = hub.client.post("/api/repos/create", json={"name": "first", "type": "model"}, headers=hub.auth("alice"))
    assert r.status_code == 200 and r.json()["url"] == "http://hub.test/alice/first", r.text
    again = hub.client.post("/api/repos/create", json={"name": "first", "type": "model"}, headers=hub.auth("alice"))
    assert_hub_error(again, 409)
    assert again.json()["url"] == "http://hub.test/alice/first"
    sha = commit(hub, "alice", "alice/first", {"README.md": b"# first\n", "a/b.txt": b"bee"})["commitOid"]
    info = hub.client.get("/api/models/alice/first").json()
    assert info["sha"] == sha
    # the Hub starts every repo with a .gitattributes
    assert sorted(s["rfilename"] for s in info["siblings"]) == [".gitattributes", "README.md", "a/b.txt"]
    r = hub.client.get(f"/alice/first/resolve/{sha}/a/b.txt")
    assert r.status_code == 200 and r.content == b"bee" and r.headers["x-repo-commit"] == sha
    tree = hub.client.get("/api/models/alice/first/tree/main/a").json()
    assert [(e["type"], e["path"], e["size"]) for e in tree] == [("file", "a/b.txt", 3)]


def test_private_and_missing_look_the_same(hub: InProcessHub) -> None:
    r = hub.client.post("/api/repos/create", json={"name": "secret", "type": "model", "private": True},
                        headers=hub.auth("alice"))
    assert r.status_code == 200, r.text
    commit(hub, "alice", "alice/secret", {"weights.txt": b"private bytes"})
    for path in ["/api/models/alice/{}", "/api/models/alice/{}/tree/main", "/alice/{}/resolve/main/weights.txt",
                 "/api/models/alice/{}/revision/main", "/api/models/alice/{}/refs"]:
        for headers in [{}, hub.auth("bob")]:
            secret = hub.client.get(path.format("secret"), headers=headers)
            missing = hub.client.get(path.format("no-such-repo"), headers=headers)
            assert (secret.status_code, secret.headers.get("x-error-code"), secret.json()) == \
                   (missing.status_code, missing.headers.get("x-error-code"), missing.json()), path
            assert secret.status_code in (401, 404), path
    assert hub.client.get("/api/models/alice/secret", headers=hub.auth("alice")).status_code == 200
    listed = {m["id"] for m in hub.client.get("/api/models", params={"author": "alice"}).json()}
    assert "alice/secret" not in listed and "alice/first" in listed


@pytest.mark.parametrize("body, message", [
    (b"{", "JSON"),
    (b'{"name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", None),
    (b'{"name": "x", "type": "spaceship"}', None),
    (b'{"name": "../etc", "type": "model"}', None),
])
def test_bad_create_bodies_are_clean_400s_that_change_nothing(hub: InProcessHub, body: bytes,
                                                              message: str | None) -> None:
    before = hub.client.get("/api/models", params={"author": "bob"}).json()
    r = hub.client.post("/api/repos/create", content=body,
                        headers={**hub.auth("bob"), "Content-Type": "application/json"})
    assert_hub_error(r, 400)
    if message is not None:
        assert message in r.json()["error"]
    assert hub.client.get("/api/models", params={"author": "bob"}).json() == before


def test_a_missing_stored_object_is_hubds_fault_not_the_clients(hub: InProcessHub) -> None:
    """Storage raises its own BlobNotFound; api/errors.py makes it the Hub's 500, code StorageCorrupt."""
    r = hub.client.post("/api/repos/create", json={"name": "broken", "type": "model"}, headers=hub.auth("alice"))
    assert r.status_code == 200, r.text
    content = b"this blob will vanish from storage\n"
    commit(hub, "alice", "alice/broken", {"gone.txt": content})
    hub.hub.blobs.delete(object_key("blob", git_sha("blob", content)))
    r = hub.client.get("/alice/broken/resolve/main/gone.txt")
    assert_hub_error(r, 500, "StorageCorrupt")
    assert "storage" in r.json()["error"].lower() or "stored" in r.json()["error"].lower()

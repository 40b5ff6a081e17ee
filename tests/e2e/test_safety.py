"""Bad input gets the Hub's error shape and changes nothing."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from huggingface_hub import HfApi


def _commit(hubd, repo_id: str, lines: list[dict], token: str = "alice") -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(
        f"{hubd.url}/api/models/{repo_id}/commit/main",
        content="\n".join(json.dumps(x) for x in lines),
        headers={"authorization": f"Bearer {hubd.tokens[token]}", "content-type": "application/x-ndjson"},
    )


def _file(path: str, data: bytes = b"x") -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


HEADER = {"key": "header", "value": {"summary": "try"}}


@pytest.mark.parametrize("path", ["../escape.txt", "/abs.txt", "a/../../b", ".git/config", "a//b", "nul\0.txt",
                                  "sub/.git/hooks/x", "./x", "a/./b", "x" * 1100])
def test_bad_paths_rejected_and_nothing_written(hubd, alice: HfApi, repo_name: str, path: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    before = alice.model_info(repo_id).sha
    r = _commit(hubd, repo_id, [HEADER, _file("good.txt"), _file(path)])
    assert r.status_code == 400
    assert r.headers["x-error-code"] == "BadRequest" and r.json()["error"]
    assert alice.model_info(repo_id).sha == before
    assert not alice.file_exists(repo_id, "good.txt")


@pytest.mark.parametrize("lines", [
    [HEADER, {"key": "file", "value": {"path": "a.txt", "content": "!!!notbase64", "encoding": "base64"}}],
    [HEADER, {"key": "lfsFile", "value": {"path": "a.bin", "algo": "sha256", "oid": "zz", "size": 1}}],
    [HEADER, {"key": "lfsFile", "value": {"path": "a.bin", "algo": "sha256", "oid": "b" * 64, "size": 1}}],
    [HEADER, {"key": "unknownOp", "value": {}}],
    [_file("no-header.txt")],
    [HEADER, _file("dir/f.txt"), _file("dir")],
])
def test_malformed_commits_rejected(hubd, alice: HfApi, repo_name: str, lines: list[dict]) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    before = alice.model_info(repo_id).sha
    r = _commit(hubd, repo_id, lines)
    assert r.status_code == 400, r.text
    assert "x-error-message" in r.headers
    assert alice.model_info(repo_id).sha == before
    assert [s.rfilename for s in alice.model_info(repo_id).siblings] == [".gitattributes"]


def test_not_json_body(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    r = httpx.post(f"{hubd.url}/api/models/{repo_id}/commit/main", content=b"{not json",
                   headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    assert r.status_code == 400 and r.json()["error"]
    r = httpx.post(f"{hubd.url}/api/repos/create", content=b"[1,2",
                   headers={"authorization": f"Bearer {hubd.tokens['alice']}"})
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"


def test_missing_delete_is_entry_not_found(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    r = _commit(hubd, repo_id, [HEADER, {"key": "deletedFile", "value": {"path": "nope.txt"}}])
    assert r.status_code == 404 and r.headers["x-error-code"] == "EntryNotFound"


def test_unknown_routes_and_methods_use_hub_shape(hubd) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{hubd.url}/api/nothing-here")
    assert r.status_code == 404 and r.headers["x-error-code"] and r.json()["error"]
    r = httpx.delete(f"{hubd.url}/api/whoami-v2")
    assert r.status_code == 405 and r.json()["error"]


def test_validate_yaml(hubd) -> None:  # type: ignore[no-untyped-def]
    auth = {"authorization": f"Bearer {hubd.tokens['alice']}"}  # anonymous is 401 (test_metadata_attacks)
    ok = httpx.post(f"{hubd.url}/api/validate-yaml",
                    json={"content": "---\nlicense: mit\n---\nhi", "repoType": "model"}, headers=auth)
    assert ok.status_code == 200 and ok.json()["errors"] == []
    bad = httpx.post(f"{hubd.url}/api/validate-yaml", json={"content": "---\nlicense: [mit\n---\nhi"},
                     headers=auth)
    assert bad.status_code == 400 and bad.json()["errors"][0]["message"]


def test_branch_and_tag_names_validated(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    auth = {"authorization": f"Bearer {hubd.tokens['alice']}"}
    for bad in ["a..b", "-x", "x.lock", "a%20b", "a~b"]:
        r = httpx.post(f"{hubd.url}/api/models/{repo_id}/branch/{bad}", json={}, headers=auth)
        assert r.status_code == 400, bad
    r = httpx.post(f"{hubd.url}/api/models/{repo_id}/tag/main", json={"tag": "bad..tag"}, headers=auth)
    assert r.status_code == 400
    assert [b.name for b in alice.list_repo_refs(repo_id).branches] == ["main"]
    r = httpx.delete(f"{hubd.url}/api/models/{repo_id}/branch/main", headers=auth)
    assert r.status_code == 403

"""Private repos answer outsiders exactly as missing repos do, on every endpoint."""

from __future__ import annotations

import json

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError


@pytest.fixture
def private_repo(alice: HfApi, repo_name: str) -> str:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, private=True)
    alice.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo_id)
    return repo_id


def _endpoints(repo_id: str, sha: str) -> list[tuple[str, str, dict]]:
    return [
        ("GET", f"/api/models/{repo_id}", {}),
        ("GET", f"/api/models/{repo_id}/revision/main", {}),
        ("GET", f"/api/models/{repo_id}/tree/main", {}),
        ("GET", f"/api/models/{repo_id}/tree/{sha}?recursive=true", {}),
        ("POST", f"/api/models/{repo_id}/paths-info/main", {"data": {"paths": "s.txt"}}),
        ("GET", f"/api/models/{repo_id}/refs", {}),
        ("GET", f"/api/models/{repo_id}/commits/main", {}),
        ("HEAD", f"/{repo_id}/resolve/main/s.txt", {}),
        ("GET", f"/{repo_id}/resolve/{sha}/s.txt", {}),
        ("POST", f"/api/models/{repo_id}/preupload/main", {"json": {"files": []}}),
        ("POST", f"/api/models/{repo_id}/commit/main", {"content": json.dumps({"key": "header", "value": {}})}),
        ("POST", f"/api/models/{repo_id}/branch/x", {"json": {}}),
        ("POST", f"/api/models/{repo_id}/tag/main", {"json": {"tag": "t"}}),
        ("PUT", f"/api/models/{repo_id}/settings", {"json": {"private": False}}),
        ("POST", f"/{repo_id}.git/info/lfs/objects/batch",
         {"json": {"operation": "download", "objects": [{"oid": "a" * 64, "size": 1}]}}),
    ]


@pytest.mark.parametrize("who", ["bob", "anonymous"])
def test_private_repo_is_invisible(hubd, private_repo: str, alice: HfApi, who: str) -> None:  # type: ignore[no-untyped-def]
    sha = alice.model_info(private_repo).sha
    headers = {} if who == "anonymous" else {"authorization": f"Bearer {hubd.tokens['bob']}"}
    missing = "alice/does-not-exist"
    for method, path, kwargs in _endpoints(private_repo, sha):
        r = httpx.request(method, hubd.url + path, headers=headers, **kwargs)
        m = httpx.request(method, hubd.url + path.replace(private_repo, missing), headers=headers, **kwargs)
        assert r.headers.get("x-error-code") == "RepoNotFound", (method, path, r.status_code)
        # exactly what a missing repo gets
        assert (r.status_code, r.headers.get("x-error-message")) == (m.status_code, m.headers.get("x-error-message"))
        if method != "HEAD":
            assert r.json() == m.json()
    assert alice.model_info(private_repo).sha == sha  # nothing changed
    assert alice.model_info(private_repo).private is not False


def test_private_repo_with_real_client(hubd, private_repo: str, bob: HfApi, anon: HfApi, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for api in (bob, anon):
        assert not api.repo_exists(private_repo)
        assert not api.file_exists(private_repo, "s.txt")
        with pytest.raises(RepositoryNotFoundError):
            api.list_repo_files(private_repo)
        with pytest.raises(RepositoryNotFoundError):
            api.list_repo_refs(private_repo)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(private_repo, "s.txt", token=hubd.tokens["bob"], cache_dir=tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(private_repo, "s.txt", token=False, cache_dir=tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        bob.create_commit(private_repo, [CommitOperationAdd("x.txt", b"x")], commit_message="intrude")
    with pytest.raises(RepositoryNotFoundError):
        bob.delete_repo(private_repo)


def test_public_repo_is_readable_not_writable(hubd, alice: HfApi, bob: HfApi, anon: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"open", path_in_repo="o.txt", repo_id=repo_id)
    assert anon.file_exists(repo_id, "o.txt")
    assert bob.list_repo_files(repo_id) == [".gitattributes", "o.txt"]
    with pytest.raises(HfHubHTTPError) as exc:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert exc.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as exc:
        bob.delete_repo(repo_id)
    assert exc.value.response.status_code == 403
    assert anon.repo_exists(repo_id)


def test_org_members_share_private_repos(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    hubd.cli("orgs", "add", f"team-{repo_name}")
    org = f"team-{repo_name}"
    hubd.cli("orgs", "add-member", org, "alice", "--role", "admin")
    alice.create_repo(f"{org}/m", private=True)
    assert not bob.repo_exists(f"{org}/m")
    hubd.cli("orgs", "add-member", org, "bob", "--role", "read")
    assert bob.repo_exists(f"{org}/m")
    with pytest.raises(HfHubHTTPError) as exc:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{org}/m")
    assert exc.value.response.status_code == 403
    hubd.cli("orgs", "add-member", org, "bob", "--role", "write")
    bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{org}/m")
    assert alice.file_exists(f"{org}/m", "x.txt")


def test_commit_from_other_repo_is_not_readable(hubd, alice: HfApi, private_repo: str, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """Objects are shared hub-wide; a repo still only answers for commits that are its own."""
    secret_sha = alice.model_info(private_repo).sha
    public = f"alice/{repo_name}-pub"
    alice.create_repo(public)
    r = httpx.get(f"{hubd.url}/{public}/resolve/{secret_sha}/s.txt")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"


def test_gated_repo_needs_access(hubd, alice: HfApi, bob: HfApi, repo_name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub.errors import GatedRepoError

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"gated", path_in_repo="g.txt", repo_id=repo_id)
    alice.update_repo_settings(repo_id, gated="auto")
    assert bob.model_info(repo_id).gated == "auto"
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo_id, "g.txt", token=hubd.tokens["bob"], cache_dir=tmp_path)
    assert hf_hub_download(repo_id, "g.txt", token=hubd.tokens["alice"], cache_dir=tmp_path)


def test_knowing_a_sha256_grants_nothing(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """An LFS object uploaded to alice's private repo cannot be committed into bob's repo by its oid alone."""
    import hashlib
    import io

    secret = b"private weights " * 700000  # above the LFS threshold
    oid = hashlib.sha256(secret).hexdigest()
    alice.create_repo(f"alice/{repo_name}-vault", private=True)
    alice.upload_file(path_or_fileobj=io.BytesIO(secret), path_in_repo="w.bin", repo_id=f"alice/{repo_name}-vault")
    bob.create_repo(f"bob/{repo_name}-thief")
    lines = [{"key": "header", "value": {"summary": "steal"}},
             {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(secret)}}]
    r = httpx.post(f"{hubd.url}/api/models/bob/{repo_name}-thief/commit/main",
                   content="\n".join(json.dumps(x) for x in lines),
                   headers={"authorization": f"Bearer {hubd.tokens['bob']}", "content-type": "application/x-ndjson"})
    assert r.status_code == 400
    batch = httpx.post(f"{hubd.url}/bob/{repo_name}-thief.git/info/lfs/objects/batch",
                       headers={"authorization": f"Bearer {hubd.tokens['bob']}"},
                       json={"operation": "download", "objects": [{"oid": oid, "size": len(secret)}]})
    assert batch.json()["objects"][0]["error"]["code"] == 404
    up = httpx.post(f"{hubd.url}/bob/{repo_name}-thief.git/info/lfs/objects/batch",
                    headers={"authorization": f"Bearer {hubd.tokens['bob']}"},
                    json={"operation": "upload", "objects": [{"oid": oid, "size": len(secret)}]})
    assert "upload" in up.json()["objects"][0]["actions"]  # bob must prove he has the bytes
    # with the bytes, bob's upload is an ordinary one
    bob.upload_file(path_or_fileobj=io.BytesIO(secret), path_in_repo="w.bin", repo_id=f"bob/{repo_name}-thief")
    assert bob.get_paths_info(f"bob/{repo_name}-thief", ["w.bin"])[0].lfs.sha256 == oid

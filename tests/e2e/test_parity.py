"""Behaviours of the Hub the official clients rely on (issue 10), driven with huggingface_hub and httpx."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RevisionNotFoundError

from tests.conftest import eventually


def _auth(hubd, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"authorization": f"Bearer {hubd.tokens[who]}"}


def test_repo_ids_are_case_insensitive(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}-Mixed"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"hi", path_in_repo="a.txt", repo_id=repo_id)
    info = alice.model_info(repo_id.upper().replace("ALICE", "Alice"))
    assert info.id == repo_id  # the canonical spelling comes back
    r = httpx.get(f"{hubd.url}/{repo_id.lower()}/resolve/main/a.txt", headers=_auth(hubd, "alice"))
    assert r.status_code == 200 and r.content == b"hi"
    with pytest.raises(HfHubHTTPError) as err:  # one id whatever its case
        alice.create_repo(repo_id.lower())
    assert err.value.response.status_code == 409


def test_head_and_parquet_revision_aliases(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, repo_type="dataset")
    alice.upload_file(path_or_fileobj=b"a,b\n1,2\n3,4\n", path_in_repo="data.csv", repo_id=repo_id,
                      repo_type="dataset")
    main = alice.dataset_info(repo_id).sha
    assert alice.dataset_info(repo_id, revision="HEAD").sha == main
    r = httpx.get(f"{hubd.url}/api/datasets/{repo_id}/revision/HEAD", headers=_auth(hubd, "alice"))
    assert r.status_code == 200 and r.json()["sha"] == main

    def parquet_files() -> list[str]:
        try:
            files = alice.list_repo_files(repo_id, repo_type="dataset", revision="~parquet")
        except RevisionNotFoundError:
            return []
        return [f for f in files if f.endswith(".parquet")]

    assert eventually(parquet_files, timeout=60)
    refs = alice.list_repo_refs(repo_id, repo_type="dataset")
    sha = next(c.target_commit for c in refs.converts if c.ref == "refs/convert/parquet")
    assert alice.dataset_info(repo_id, revision="~parquet").sha == sha


def test_error_messages_word_for_word(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    first = alice.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id=repo_id).oid
    alice.upload_file(path_or_fileobj=b"2", path_in_repo="a.txt", repo_id=repo_id)
    with pytest.raises(HfHubHTTPError) as err:
        alice.create_commit(repo_id, [CommitOperationAdd("b.txt", b"3")], commit_message="stale", parent_commit=first)
    assert err.value.response.status_code == 412
    assert err.value.response.headers["x-error-message"] == (
        "The branch was updated since you opened this page. Please refresh and try again.")
    alice.create_branch(repo_id, branch="dev")
    with pytest.raises(HfHubHTTPError) as err:
        alice.create_branch(repo_id, branch="dev")
    assert err.value.response.status_code == 409
    assert err.value.response.headers["x-error-message"] == "Reference refs/heads/dev already exists"
    with pytest.raises(HfHubHTTPError) as err:
        alice.delete_branch(repo_id, branch="main")
    assert err.value.response.headers["x-error-message"] == "Cannot delete refs/heads/main"
    alice.create_tag(repo_id, tag="v1")
    with pytest.raises(RevisionNotFoundError) as err:  # a tag is no branch to commit to
        alice.create_commit(repo_id, [CommitOperationAdd("c.txt", b"4")], commit_message="x", revision="v1")
    assert err.value.response.headers["x-error-message"] == "Invalid rev id: v1"
    other = f"alice/{repo_name}-other"
    alice.create_repo(other)
    with pytest.raises(HfHubHTTPError) as err:
        alice.move_repo(repo_id, other)
    assert err.value.response.status_code == 409
    assert err.value.response.headers["x-error-message"] == f"A model repository called {other} already exists"
    alice.update_repo_settings(repo_id, gated="manual")
    with pytest.raises(GatedRepoError) as err:
        bob.hf_hub_download(repo_id, "a.txt")
    assert "is restricted and you are not in the authorized list" in err.value.response.headers["x-error-message"]
    anon = httpx.get(f"{hubd.url}/{repo_id}/resolve/main/a.txt")
    assert anon.status_code == 401 and "authorized list" not in anon.headers["x-error-message"]


def test_create_tag_on_missing_revision_is_revision_not_found(alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    with pytest.raises(RevisionNotFoundError):
        alice.create_tag(repo_id, tag="bad..name", revision="no-such-branch")


def test_deleted_file_naming_a_folder_deletes_it(alice: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.create_commit(repo_id, [CommitOperationAdd("dir/a.txt", b"a"), CommitOperationAdd("dir/sub/b.txt", b"b"),
                                  CommitOperationAdd("keep.txt", b"k")], commit_message="add")
    alice.create_commit(repo_id, [CommitOperationDelete("dir", is_folder=False)], commit_message="rm")
    assert sorted(alice.list_repo_files(repo_id)) == [".gitattributes", "keep.txt"]


def test_commit_authors_are_user_names(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert {a for c in alice.list_repo_commits(repo_id) for a in c.authors} == {"alice"}


def test_preupload_honours_gitignore(hubd, alice: HfApi, repo_name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"*.log\nbuild/\n!keep.log\n", path_in_repo=".gitignore", repo_id=repo_id)
    url = f"{hubd.url}/api/models/{repo_id}/preupload/main"
    files = [{"path": p, "size": 1, "sample": "eA=="} for p in ("a.log", "keep.log", "build/x.txt", "src/a.py")]
    r = httpx.post(url, headers=_auth(hubd, "alice"), json={"files": files})
    assert {f["path"]: f["shouldIgnore"] for f in r.json()["files"]} == {
        "a.log": True, "keep.log": False, "build/x.txt": True, "src/a.py": False}
    r = httpx.post(url, headers=_auth(hubd, "alice"), json={"files": files, "gitIgnore": "*.py\n"})
    assert [f["path"] for f in r.json()["files"] if f["shouldIgnore"]] == ["src/a.py"]
    # the real client drops what the hub says to ignore
    (tmp_path / "a.log").write_text("noise")
    (tmp_path / "model.txt").write_text("weights")
    alice.upload_folder(repo_id=repo_id, folder_path=tmp_path)
    assert sorted(alice.list_repo_files(repo_id)) == [".gitattributes", ".gitignore", "model.txt"]


def test_new_space_has_readme_with_sdk(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, repo_type="space", space_sdk="gradio")
    path = alice.hf_hub_download(repo_id, "README.md", repo_type="space")
    with open(path) as f:
        assert "\nsdk: gradio\n" in f.read()
    assert alice.space_info(repo_id).sdk == "gradio"
    r = httpx.post(f"{hubd.url}/api/repos/create", headers=_auth(hubd, "alice"),
                   json={"name": f"{repo_name}-nosdk", "type": "space"})
    assert r.status_code == 400 and r.headers["x-error-code"]
    assert not alice.repo_exists(f"alice/{repo_name}-nosdk", repo_type="space")


def test_moved_repo_old_id_leads_to_new_until_taken(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    old, new = f"alice/{repo_name}-old", f"alice/{repo_name}-new"
    alice.create_repo(old, private=True)
    alice.upload_file(path_or_fileobj=b"moved", path_in_repo="m.txt", repo_id=old)
    alice.move_repo(old, new)
    assert alice.model_info(old).id == new
    with open(alice.hf_hub_download(old, "m.txt")) as f:
        assert f.read() == "moved"
    assert not bob.repo_exists(old)  # still private through its old id
    alice.create_repo(old)  # a new repo takes the name
    assert alice.model_info(old).id == old
    assert alice.model_info(new).id == new


def test_raw_serves_the_git_blob(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"plain text", path_in_repo="a.txt", repo_id=repo_id)
    alice.upload_file(path_or_fileobj=b"\0binary", path_in_repo="b.bin", repo_id=repo_id)
    r = httpx.get(f"{hubd.url}/{repo_id}/raw/main/a.txt")
    assert r.status_code == 200 and r.content == b"plain text"
    assert httpx.head(f"{hubd.url}/{repo_id}/raw/main/a.txt").headers["content-length"] == "10"
    pointer = httpx.get(f"{hubd.url}/{repo_id}/raw/main/b.bin").content
    assert pointer.startswith(b"version https://git-lfs.github.com/spec/v1\n")
    assert httpx.head(f"{hubd.url}/{repo_id}/raw/main/missing.txt").status_code == 404
    alice.update_repo_settings(repo_id, private=True)
    assert httpx.head(f"{hubd.url}/{repo_id}/raw/main/a.txt", headers=_auth(hubd, "bob")).status_code == 404
    alice.update_repo_settings(repo_id, private=False, gated="auto")
    assert httpx.get(f"{hubd.url}/{repo_id}/raw/main/a.txt", headers=_auth(hubd, "bob")).status_code == 403


def test_duplicate_repo_shares_history_and_links_only_its_objects(  # type: ignore[no-untyped-def]
        hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:
    source = f"alice/{repo_name}"
    alice.create_repo(source)
    alice.upload_file(path_or_fileobj=b"\0weights v1", path_in_repo="w.bin", repo_id=source)
    alice.upload_file(path_or_fileobj=b"readme", path_in_repo="README.md", repo_id=source)
    url = bob.duplicate_repo(source, to_id=f"bob/{repo_name}-copy", private=True)
    copy = f"bob/{repo_name}-copy"
    assert url.repo_id == copy
    info = bob.model_info(copy)
    assert info.private and info.sha == alice.model_info(source).sha
    assert [c.commit_id for c in bob.list_repo_commits(copy)] == [c.commit_id for c in alice.list_repo_commits(source)]
    with open(bob.hf_hub_download(copy, "w.bin"), "rb") as f:
        assert f.read() == b"\0weights v1"
    alice.update_repo_settings(source, private=True)
    with pytest.raises(HfHubHTTPError) as err:  # a private source is a missing one to bob
        bob.duplicate_repo(source, to_id=f"bob/{repo_name}-again")
    assert err.value.response.status_code == 404


def test_cross_repo_copy_links_large_files(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub import CommitOperationCopy

    source, dest = f"alice/{repo_name}-src", f"bob/{repo_name}-dst"
    alice.create_repo(source)
    alice.upload_file(path_or_fileobj=b"\0large " * 1000, path_in_repo="big.bin", repo_id=source)
    bob.create_repo(dest)
    bob.create_commit(dest, [CommitOperationCopy("big.bin", "copied.bin", src_repo_id=source, src_repo_type="model")],
                      commit_message="copy")
    with open(bob.hf_hub_download(dest, "copied.bin"), "rb") as f:
        assert f.read() == b"\0large " * 1000
    # naming an object the source does not link copies nothing
    r = httpx.post(f"{hubd.url}/api/models/{source}/lfs-files/duplicate", headers=_auth(hubd, "bob"),
                   json={"target": {"type": "model", "name": dest}, "files": [{"sha256": "c" * 64}]})
    assert r.status_code == 200 and r.json()["failed"][0]["sha256"] == "c" * 64


def test_org_private_by_default(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    hubd.cli("orgs", "add", f"{repo_name}-org")
    hubd.cli("orgs", "add-member", f"{repo_name}-org", "alice", "--role", "admin")
    hubd.cli("orgs", "settings", f"{repo_name}-org", "--private-by-default")
    alice.create_repo(f"{repo_name}-org/implicit")
    alice.create_repo(f"{repo_name}-org/explicit", private=False)
    assert alice.model_info(f"{repo_name}-org/implicit").private is True
    assert alice.model_info(f"{repo_name}-org/explicit").private is False
    alice.create_repo(f"alice/{repo_name}")
    assert alice.model_info(f"alice/{repo_name}").private is False


def test_auth_check(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub.errors import RepositoryNotFoundError

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.auth_check(repo_id)
    alice.auth_check(repo_id, write=True)
    bob.auth_check(repo_id)
    with pytest.raises(HfHubHTTPError) as err:
        bob.auth_check(repo_id, write=True)
    assert err.value.response.status_code == 403
    alice.update_repo_settings(repo_id, gated="manual")
    with pytest.raises(GatedRepoError):
        bob.auth_check(repo_id)
    alice.update_repo_settings(repo_id, private=True)
    with pytest.raises(RepositoryNotFoundError):
        bob.auth_check(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        bob.auth_check(f"alice/{repo_name}-missing")


def test_list_user_repos_with_storage(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    alice.create_repo(f"alice/{repo_name}-p", private=True)
    alice.create_repo(f"alice/{repo_name}-d", repo_type="dataset")
    mine = {r.id: r for r in alice.list_user_repos()}
    assert mine[f"alice/{repo_name}-p"].visibility == "private"
    assert mine[f"alice/{repo_name}-d"].type == "dataset"
    assert all(r.id.startswith("alice/") for r in mine.values())
    assert f"alice/{repo_name}-p" not in {r.id for r in bob.list_user_repos()}
    alice.create_repo(f"acme/{repo_name}-org", private=True)
    org = [r.id for r in alice.list_user_repos("acme")]
    assert f"acme/{repo_name}-org" in org and all(i.startswith("acme/") for i in org)
    with pytest.raises(HfHubHTTPError) as err:
        list(bob.list_user_repos("acme"))
    assert err.value.response.status_code == 403


def test_whoami_avatars_and_orgs(hubd, alice: HfApi) -> None:  # type: ignore[no-untyped-def]
    me = alice.whoami()
    assert me["avatarUrl"] == f"{hubd.url}/avatars/alice.svg"
    r = httpx.get(me["avatarUrl"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content
    acme = next(o for o in me["orgs"] if o["name"] == "acme")
    assert acme["isEnterprise"] is False and acme["avatarUrl"].endswith("/avatars/acme.svg")
    assert httpx.get(f"{hubd.url}/avatars/nobody-here.svg").status_code == 404


def test_ids_without_namespace_are_repo_not_found(hubd, alice: HfApi, repo_name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    assert not alice.repo_exists("gpt2")
    assert not alice.repo_exists("my-dataset", repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        alice.model_info("gpt2", revision="main")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("gpt2", "config.json", cache_dir=tmp_path, token=hubd.tokens["alice"])
    for method, path in (("GET", "/api/models/gpt2/tree/main"), ("POST", "/api/models/gpt2/like"),
                         ("GET", "/api/datasets/squad/revision/main"), ("HEAD", "/gpt2/resolve/main/config.json"),
                         ("GET", "/datasets/squad/resolve/main/x.csv"), ("GET", "/api/spaces/app/commits/main")):
        r = httpx.request(method, hubd.url + path, headers=_auth(hubd, "alice"))
        assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound", (method, path)
    # datasets' push_to_hub("name") asks repo_info("name") first, expects RepoNotFound, then creates user/name
    from datasets import Dataset

    Dataset.from_dict({"a": [1, 2, 3]}).push_to_hub(f"{repo_name}-plain", token=hubd.tokens["alice"])
    assert alice.repo_exists(f"alice/{repo_name}-plain", repo_type="dataset")


def test_kernel_repos(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}-kernel"
    url = alice.create_repo(repo_id, repo_type="kernel")
    assert url.repo_type == "kernel" and "/kernels/" in url
    alice.upload_file(path_or_fileobj=b"__global__ void k() {}", path_in_repo="k.cu", repo_id=repo_id,
                      repo_type="kernel")
    info = alice.repo_info(repo_id, repo_type="kernel")
    assert info.id == repo_id and info.sha
    with open(alice.hf_hub_download(repo_id, "k.cu", repo_type="kernel")) as f:
        assert f.read() == "__global__ void k() {}"
    assert not alice.repo_exists(repo_id)  # a kernel is not a model of the same name


def test_readme_hf_paths_through_hfFileSystem(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """The README's work-around for readers whose own hf:// is fixed to huggingface.co."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq
    from huggingface_hub import HfFileSystem

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, repo_type="dataset")
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": [1, 2, 3]}), buf)
    alice.upload_file(path_or_fileobj=buf.getvalue().to_pybytes(), path_in_repo="data.parquet", repo_id=repo_id,
                      repo_type="dataset")
    fs = HfFileSystem(token=hubd.tokens["alice"])
    with fs.open(f"datasets/{repo_id}/data.parquet", "rb") as f:
        assert pq.read_table(f).num_rows == 3

    def exported() -> bool:  # through the API: HfFileSystem remembers a revision it found missing
        try:
            files = alice.list_repo_files(repo_id, repo_type="dataset", revision="~parquet")
        except RevisionNotFoundError:  # the export job has not made refs/convert/parquet yet
            return False
        return any(f.endswith(".parquet") for f in files)

    assert eventually(exported, timeout=120)
    fs = HfFileSystem(token=hubd.tokens["alice"], skip_instance_cache=True)
    con = duckdb.connect()
    con.register_filesystem(fs)
    count = con.sql(f"SELECT count(*) FROM read_parquet('hf://datasets/{repo_id}@~parquet/default/train/*.parquet')")
    assert count.fetchone()[0] == 3


def test_validate_yaml_like_the_hub(hubd) -> None:  # type: ignore[no-untyped-def]
    """RepoCard.validate() (no token, as push_to_hub runs it) gets the Hub's errors and warnings."""
    from huggingface_hub import ModelCard, RepoCard

    ModelCard("---\nlicense: mit\n---\n# ok").validate()
    with pytest.raises(ValueError, match="model-index"):  # a RepoCard leaves model-index to the hub to judge
        RepoCard("---\nmodel-index:\n  - results: []\n---\n").validate()
    r = httpx.post(f"{hubd.url}/api/validate-yaml", json={"content": "# no metadata", "repoType": "model"})
    assert r.status_code == 200 and "missing yaml metadata" in r.json()["warnings"][0]["message"]
    r = httpx.post(f"{hubd.url}/api/validate-yaml", json={"content": "---\nsdk: flask\n---\n", "repoType": "space"})
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest" and "sdk" in r.json()["error"]


def test_backslashes_in_file_names_round_trip(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import quote

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    name = "folder/..\\..\\..\\file"
    alice.create_commit(repo_id, [CommitOperationAdd(name, b"odd but legal")], commit_message="backslashes")
    assert name in alice.list_repo_files(repo_id)
    r = httpx.get(f"{hubd.url}/{repo_id}/resolve/main/{quote(name)}", headers=_auth(hubd, "alice"))
    assert r.status_code == 200 and r.content == b"odd but legal"

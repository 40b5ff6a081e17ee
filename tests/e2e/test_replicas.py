"""Two stateless hubd replicas over one PostgreSQL + one SeaweedFS: shared state, concurrent commits, and
object storage going away and coming back."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download

from tests.backends import BACKEND, seaweed
from tests.conftest import Hubd, free_port, make_hubd

pytestmark = pytest.mark.skipif(BACKEND != "postgres-s3",
                                reason="other backend: runs in the PostgreSQL + SeaweedFS pass")


@pytest.fixture
def replicas() -> tuple[Hubd, Hubd]:
    a = make_hubd("replica-a")
    b = Hubd(a.data_dir.parent / "b", free_port(), [], [*a.store])
    b.data_dir.mkdir()
    b.store[1] = str(b.data_dir)  # its own (unused) data dir; database and bucket shared with a
    a.add_user("rita")
    b.tokens = a.tokens
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def test_two_replicas_share_everything(replicas: tuple[Hubd, Hubd], tmp_path: Path) -> None:
    a, b = replicas
    token = a.tokens["rita"]
    api_a, api_b = HfApi(endpoint=a.url, token=token), HfApi(endpoint=b.url, token=token)
    api_a.create_repo("rita/shared")
    api_a.upload_file(path_or_fileobj=b"from a", path_in_repo="a.txt", repo_id="rita/shared")
    assert [m.id for m in api_b.list_models(author="rita")] == ["rita/shared"]
    got = hf_hub_download("rita/shared", "a.txt", endpoint=b.url, token=token, cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == b"from a"
    api_b.upload_file(path_or_fileobj=b"from b", path_in_repo="b.txt", repo_id="rita/shared")
    assert set(api_a.list_repo_files("rita/shared")) == {".gitattributes", "a.txt", "b.txt"}

    # 16 committers on one branch, split across both replicas: no acknowledged commit is lost
    acknowledged: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def committer(n: int) -> None:
        api = api_a if n % 2 else api_b
        try:
            for i in range(3):
                info = api.create_commit("rita/shared", [CommitOperationAdd(f"w{n}/{i}.txt", f"{n}-{i}".encode())],
                                         commit_message=f"writer {n} commit {i}")
                with lock:
                    acknowledged.append(info.oid)
        except BaseException as exc:  # noqa: BLE001 - collected and reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=committer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    history = {c.commit_id for c in api_b.list_repo_commits("rita/shared")}
    assert len(acknowledged) == 48 and set(acknowledged) <= history
    files = set(api_a.list_repo_files("rita/shared"))
    assert {f"w{n}/{i}.txt" for n in range(16) for i in range(3)} <= files
    assert a.cli("fsck", check=False).returncode == 0


def test_object_storage_outage_is_a_503_and_recovers(replicas: tuple[Hubd, Hubd], tmp_path: Path) -> None:
    a, b = replicas
    token = a.tokens["rita"]
    api = HfApi(endpoint=a.url, token=token)
    api.create_repo("rita/outage")
    api.upload_file(path_or_fileobj=b"still here", path_in_repo="keep.txt", repo_id="rita/outage")
    head = api.model_info("rita/outage").sha
    weed = seaweed()
    weed.stop()
    try:
        r = httpx.get(f"{b.url}/rita/outage/resolve/main/keep.txt", timeout=60)  # b never read these objects
        assert r.status_code == 503 and r.headers["x-error-code"] == "ServiceUnavailable" and r.json()["error"]
        assert httpx.get(f"{a.url}/readyz", timeout=60).status_code == 503
        body = [{"key": "header", "value": {"summary": "during the outage"}},
                {"key": "file", "value": {"path": "new.txt", "content": base64.b64encode(b"lost?").decode(),
                                          "encoding": "base64"}}]
        r = httpx.post(f"{a.url}/api/models/rita/outage/commit/main", timeout=60,
                       content="\n".join(json.dumps(x) for x in body), headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 503 and r.headers["x-error-code"] == "ServiceUnavailable"
    finally:
        weed.start()
    assert httpx.get(f"{a.url}/readyz", timeout=60).status_code == 200
    assert api.model_info("rita/outage").sha == head  # the failed commit changed nothing
    got = hf_hub_download("rita/outage", "keep.txt", endpoint=b.url, token=token, cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == b"still here"
    api.upload_file(path_or_fileobj=b"after", path_in_repo="new.txt", repo_id="rita/outage")
    assert a.cli("fsck", check=False).returncode == 0


def test_lfs_download_follows_the_presigned_redirect(replicas: tuple[Hubd, Hubd], tmp_path: Path) -> None:
    import io
    import os

    a, _b = replicas
    token = a.tokens["rita"]
    api = HfApi(endpoint=a.url, token=token)
    api.create_repo("rita/redirect")
    data = os.urandom(11 * 2**20)
    api.upload_file(path_or_fileobj=io.BytesIO(data), path_in_repo="w.bin", repo_id="rita/redirect")  # LFS
    head = httpx.head(f"{a.url}/rita/redirect/resolve/main/w.bin", headers={"authorization": f"Bearer {token}"})
    assert head.status_code == 302 and not head.headers["location"].startswith(a.url)
    assert head.headers["x-linked-size"] == str(len(data)) and head.headers["x-repo-commit"]
    got = hf_hub_download("rita/redirect", "w.bin", endpoint=a.url, token=token, cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == data


def test_cached_download_stops_on_the_other_replica_at_once(replicas: tuple[Hubd, Hubd]) -> None:
    """Replica b answers /resolve from memory once it resolved a path; a repo made private through replica
    a stops being served by b on the very next request (the access generation lives in the database)."""
    a, b = replicas
    token = a.tokens["rita"]
    api_a = HfApi(endpoint=a.url, token=token)
    api_a.create_repo("rita/hot")
    sha = api_a.upload_file(path_or_fileobj=b"hot", path_in_repo="h.txt", repo_id="rita/hot").oid
    path = f"/rita/hot/resolve/{sha}/h.txt"
    for _ in range(3):
        assert httpx.get(b.url + path).content == b"hot"
        assert httpx.get(b.url + path, headers={"authorization": f"Bearer {token}"}).content == b"hot"
    api_a.update_repo_settings("rita/hot", private=True)
    r = httpx.get(b.url + path)
    assert (r.status_code, r.headers.get("x-error-code")) == (401, "RepoNotFound")
    assert httpx.get(b.url + path, headers={"authorization": f"Bearer {token}"}).content == b"hot"
    api_a.delete_repo("rita/hot")
    r = httpx.get(b.url + path, headers={"authorization": f"Bearer {token}"})
    assert (r.status_code, r.headers.get("x-error-code")) == (404, "RepoNotFound")

"""Content is read only through a repo that grants it; ids and grants never outlive their repo; org roles and
revocation as on the Hub; commits are bounded. Each test is an attack that worked once, tried as "bob"."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import httpx
import pytest
from huggingface_hub import HfApi

from tests.conftest import running_hubd
from tests.resources import HealthProbe, peak_rss_mib, rss_mib

HEADER = {"key": "header", "value": {"summary": "try"}}


def _auth(hubd, who: str | None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"authorization": f"Bearer {hubd.tokens[who]}"} if who else {}


def _commit(hubd, repo_id: str, lines: list[dict], who: str, repo_type: str = "model",  # type: ignore[no-untyped-def]
            query: str = "") -> httpx.Response:
    return httpx.post(f"{hubd.url}/api/{repo_type}s/{repo_id}/commit/main{query}",
                      content="\n".join(json.dumps(x) for x in lines),
                      headers={**_auth(hubd, who), "content-type": "application/x-ndjson"}, timeout=60)


def _file(path: str, data: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


def _pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def lfs_upload(hubd, repo_id: str, data: bytes, who: str, prefix: str = "") -> str:  # type: ignore[no-untyped-def]
    """Upload bytes through the LFS batch API (basic transfer, as git-lfs does); returns the oid."""
    oid = hashlib.sha256(data).hexdigest()
    r = httpx.post(f"{hubd.url}/{prefix}{repo_id}.git/info/lfs/objects/batch", headers=_auth(hubd, who),
                   json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]})
    assert r.status_code == 200, r.text
    actions = r.json()["objects"][0].get("actions")
    if actions:
        assert httpx.put(actions["upload"]["href"], content=data).status_code == 200
        v = httpx.post(actions["verify"]["href"], headers=_auth(hubd, who), json={"oid": oid, "size": len(data)})
        assert v.status_code == 200, v.text
    return oid


def _lfs_file(path: str, oid: str, size: int) -> dict:
    return {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}}


@pytest.fixture
def bob_repo(hubd, bob: HfApi, repo_name: str) -> str:  # type: ignore[no-untyped-def]
    repo_id = f"bob/{repo_name}-steal"
    bob.create_repo(repo_id)
    return repo_id


@pytest.mark.parametrize("visibility", ["private", "gated"])
def test_pointer_as_regular_file_cannot_name_another_repos_object(  # type: ignore[no-untyped-def]
        hubd, alice: HfApi, bob: HfApi, repo_name: str, bob_repo: str, visibility: str) -> None:
    """Issue 9.1: bob learns the oid of alice's file and commits a pointer text naming it."""
    secret = os.urandom(4096) + b"alice's secret"
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, private=visibility == "private")
    oid = lfs_upload(hubd, repo_id, secret, "alice")
    assert _commit(hubd, repo_id, [HEADER, _lfs_file("weights.bin", oid, len(secret))], "alice").status_code == 200
    if visibility == "gated":
        alice.update_repo_settings(repo_id, gated="manual")
        assert [e.lfs.sha256 for e in bob.list_repo_tree(repo_id) if e.lfs] == [oid]  # the oid is public
    before = bob.model_info(bob_repo).sha
    r = _commit(hubd, bob_repo, [HEADER, _file("stolen.bin", _pointer(oid, len(secret)))], "bob")
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"
    assert "has not been uploaded to this repo" in r.json()["error"]
    assert bob.model_info(bob_repo).sha == before
    for who in ("bob", None):
        got = httpx.get(f"{hubd.url}/{bob_repo}/resolve/main/stolen.bin", headers=_auth(hubd, who))
        assert got.status_code == 404 and secret not in got.content
    # an lfsFile op naming it is refused the same way
    r = _commit(hubd, bob_repo, [HEADER, _lfs_file("stolen.bin", oid, len(secret))], "bob")
    assert r.status_code == 400


def test_pointer_as_regular_file_to_own_upload_is_an_lfs_file(hubd, bob: HfApi, bob_repo: str) -> None:  # type: ignore[no-untyped-def]
    """A pointer text to an object the caller uploaded into this repo is the same as an lfsFile op."""
    data = os.urandom(2048)
    oid = lfs_upload(hubd, bob_repo, data, "bob")
    assert _commit(hubd, bob_repo, [HEADER, _file("mine.bin", _pointer(oid, len(data)))], "bob").status_code == 200
    # on S3 the answer is a redirect to a presigned URL, which the clients follow
    got = httpx.get(f"{hubd.url}/{bob_repo}/resolve/main/mine.bin", headers=_auth(hubd, "bob"),
                    follow_redirects=True)
    assert got.status_code == 200 and got.content == data
    hub_answer = got.history[0] if got.history else got
    assert hub_answer.headers["x-linked-etag"] == f'"{oid}"'


def test_pointer_to_xet_file_of_another_repo_refused(hubd, alice: HfApi, repo_name: str, bob_repo: str) -> None:  # type: ignore[no-untyped-def]
    """The default client stores large files in Xet; their sha256 is no key to them either."""
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, private=True)
    secret = b"\0binary secret " + os.urandom(70_000)
    alice.upload_file(path_or_fileobj=secret, path_in_repo="s.bin", repo_id=repo_id)
    assert [f.lfs for f in alice.get_paths_info(repo_id, ["s.bin"])][0].sha256 == hashlib.sha256(secret).hexdigest()
    oid = hashlib.sha256(secret).hexdigest()
    r = _commit(hubd, bob_repo, [HEADER, _file("x.bin", _pointer(oid, len(secret)))], "bob")
    assert r.status_code == 400
    assert httpx.head(f"{hubd.url}/{bob_repo}/resolve/main/x.bin", headers=_auth(hubd, "bob")).status_code == 404


def test_lfs_download_grant_dies_with_its_repo(hubd, alice: HfApi, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 9.3: a signed download URL names its repo; once the repo is gone, so is the grant."""
    repo_id = f"bob/{repo_name}-old"
    bob.create_repo(repo_id)
    data = os.urandom(1000)
    oid = lfs_upload(hubd, repo_id, data, "bob")
    r = httpx.post(f"{hubd.url}/{repo_id}.git/info/lfs/objects/batch", headers=_auth(hubd, "bob"),
                   json={"operation": "download", "objects": [{"oid": oid, "size": len(data)}]})
    href = r.json()["objects"][0]["actions"]["download"]["href"]
    assert httpx.get(href, follow_redirects=True).content == data
    old_token = httpx.get(f"{hubd.url}/api/models/{repo_id}/xet-read-token/main",
                          headers=_auth(hubd, "bob")).json()["accessToken"]
    bob.delete_repo(repo_id)
    assert httpx.get(href).status_code == 404
    # alice's next private repo gets a new id, never the deleted one
    alice.create_repo(f"alice/{repo_name}-new", private=True)
    new_token = httpx.get(f"{hubd.url}/api/models/alice/{repo_name}-new/xet-read-token/main",
                          headers=_auth(hubd, "alice")).json()["accessToken"]
    assert int(new_token.split(":")[0]) > int(old_token.split(":")[0])
    # the same bytes uploaded to alice's repo are not reachable with the old grant either
    lfs_upload(hubd, f"alice/{repo_name}-new", data, "alice")
    assert httpx.get(href).status_code == 404


def test_lfs_batch_bounds_declared_sizes(hubd, bob: HfApi, bob_repo: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 9.7: a 138-byte request declaring 268 TB once built a 143 MB answer of signed part URLs."""
    url = f"{hubd.url}/{bob_repo}.git/info/lfs/objects/batch"
    r = httpx.post(url, headers=_auth(hubd, "bob"),
                   json={"operation": "upload", "objects": [{"oid": "a" * 64, "size": 268435456000000}]})
    assert r.status_code == 413 and r.headers["x-error-code"] == "PayloadTooLarge" and len(r.content) < 1000
    many = [{"oid": f"{i:064x}", "size": 400 * 10**9} for i in range(100)]
    r = httpx.post(url, headers=_auth(hubd, "bob"), json={"operation": "upload", "objects": many})
    assert r.status_code == 400 and len(r.content) < 1000
    for body in ([], "x", {"oid": "a" * 64, "size": -1}, {"oid": "a" * 64, "size": 10**30}):
        v = httpx.post(f"{hubd.url}/{bob_repo}.git/info/lfs/objects/verify", headers=_auth(hubd, "bob"), json=body)
        assert v.status_code == 400, (body, v.status_code)


def test_org_contributor_writes_only_own_repos(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 9.15: an org's contributor commits to the repos they created, and only opens PRs elsewhere."""
    who = f"carol-{repo_name}"  # a user of this test's own (other tests have a carol)
    hubd.add_user(who)
    hubd.cli("orgs", "add-member", "acme", who, "--role", "contributor")
    carol = HfApi(token=hubd.tokens[who])
    theirs, own = f"acme/{repo_name}-alice", f"acme/{repo_name}-carol"
    alice.create_repo(theirs)
    carol.create_repo(own)
    carol.upload_file(path_or_fileobj=b"mine", path_in_repo="a.txt", repo_id=own)
    before = alice.model_info(theirs).sha
    r = _commit(hubd, theirs, [HEADER, _file("b.txt", b"x")], who)
    assert r.status_code == 403 and r.headers["x-error-code"] == "Forbidden"
    assert alice.model_info(theirs).sha == before
    info = carol.upload_file(path_or_fileobj=b"proposal", path_in_repo="b.txt", repo_id=theirs, create_pr=True)
    assert info.pr_num is not None and alice.model_info(theirs).sha == before
    assert carol.hf_hub_download(theirs, "b.txt", revision=info.pr_revision) is not None
    assert httpx.put(f"{hubd.url}/api/models/{theirs}/settings", headers=_auth(hubd, who),
                     json={"private": True}).status_code == 403


def test_revocation_takes_effect_at_once(hubd, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 9.14: tokens list/revoke, users list/disable/enable/delete, orgs remove-member."""
    dave_name = f"dave-{repo_name}"  # a user of this test's own
    token = hubd.add_user(dave_name)
    hubd.cli("orgs", "add-member", "acme", dave_name, "--role", "read")
    dave = HfApi(token=token)
    HfApi(token=hubd.tokens["alice"]).create_repo(f"acme/{repo_name}", private=True)
    whoami = f"{hubd.url}/api/whoami-v2"
    assert httpx.get(whoami, headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert dave.repo_exists(f"acme/{repo_name}")
    hubd.cli("orgs", "remove-member", "acme", dave_name)
    assert not dave.repo_exists(f"acme/{repo_name}")
    assert dave_name in hubd.cli("users", "list").stdout
    hubd.cli("users", "disable", dave_name)
    r = httpx.get(whoami, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]
    hubd.cli("users", "enable", dave_name)
    assert httpx.get(whoami, headers={"authorization": f"Bearer {token}"}).status_code == 200
    second = hubd.cli("tokens", "add", dave_name, "--name", "ci").stdout.strip()
    listing = hubd.cli("tokens", "list", "--user", dave_name).stdout
    assert token not in listing and second not in listing  # secrets are never shown again
    ci_id = next(line.split("\t")[0] for line in listing.splitlines() if "\tci\t" in line)
    hubd.cli("tokens", "revoke", ci_id)
    assert httpx.get(whoami, headers={"authorization": f"Bearer {second}"}).status_code == 401
    assert httpx.get(whoami, headers={"authorization": f"Bearer {token}"}).status_code == 200
    dave.create_repo(f"{dave_name}/{repo_name}")
    hubd.cli("users", "delete", dave_name, "--yes")
    assert httpx.get(whoami, headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert not HfApi(token=hubd.tokens["alice"]).repo_exists(f"{dave_name}/{repo_name}")
    assert hubd.cli("tokens", "revoke", "999999", check=False).returncode == 1


def test_commit_op_count_is_bounded(hubd, alice: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 9.12: every op was kept until the end (953 MB of deletedFolder lines → 935 MB RSS)."""
    from hubd.hub.commits import MAX_COMMIT_OPS

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    before = alice.model_info(repo_id).sha
    line = (json.dumps({"key": "deletedFolder", "value": {"path": "d/" + "x" * 900}}) + "\n").encode()

    def body():  # type: ignore[no-untyped-def]
        yield (json.dumps(HEADER) + "\n").encode()
        for _ in range(MAX_COMMIT_OPS + 50_000):
            yield line

    r = httpx.post(f"{hubd.url}/api/models/{repo_id}/commit/main", content=body(), timeout=120,
                   headers={**_auth(hubd, "alice"), "content-type": "application/x-ndjson"})
    assert r.status_code == 413 and "at most" in r.json()["error"]
    assert alice.model_info(repo_id).sha == before


@pytest.fixture(scope="module")
def lone_hubd():  # type: ignore[no-untyped-def]
    """A server of its own, so that its memory is this module's doing alone."""
    with running_hubd("trust", "alice") as server:
        yield server


@pytest.mark.once  # the server's memory and liveness, whatever the backend
def test_hostile_commits_and_batches_keep_memory_bounded(lone_hubd) -> None:  # type: ignore[no-untyped-def]
    """Under oversized commits and LFS batches the worker stays small and /healthz keeps answering."""
    hubd = lone_hubd
    HfApi(endpoint=hubd.url, token=hubd.tokens["alice"]).create_repo("alice/m")
    start = rss_mib(hubd.proc.pid)
    line = (json.dumps({"key": "deletedFolder", "value": {"path": "d/" + "x" * 900}}) + "\n").encode()
    with HealthProbe(hubd.url) as probe:
        for _ in range(3):
            r = httpx.post(f"{hubd.url}/api/models/alice/m/commit/main", timeout=120,
                           content=(json.dumps(HEADER) + "\n").encode() + line * 150_000,
                           headers={**_auth(hubd, "alice"), "content-type": "application/x-ndjson"})
            assert r.status_code == 413
        for _ in range(20):
            r = httpx.post(f"{hubd.url}/alice/m.git/info/lfs/objects/batch", headers=_auth(hubd, "alice"),
                           json={"operation": "upload", "objects": [{"oid": "a" * 64, "size": 499 * 10**9}] * 30})
            assert r.status_code == 400
    # 2 s: a stalled worker shows as many seconds; on this session's slower 2-core machine, beside the other
    # pass, /healthz once took 1.24 s while the hostile commits ran
    assert probe.answers > 0 and probe.slowest < 2.0, probe.slowest
    peak = peak_rss_mib(hubd.proc.pid)
    assert peak < start + 200, (start, peak)  # was +935 MiB for one 953 MB body
    assert rss_mib(hubd.proc.pid) < start + 100



def test_xet_write_token_dies_with_its_repo(hubd, bob: HfApi, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """A shard sent with the token of a deleted repo links nothing anywhere."""
    repo_id = f"bob/{repo_name}-gone"
    bob.create_repo(repo_id)
    token = httpx.get(f"{hubd.url}/api/models/{repo_id}/xet-write-token/main",
                      headers=_auth(hubd, "bob")).json()["accessToken"]
    bob.delete_repo(repo_id)
    r = httpx.post(f"{hubd.url}/api/cas/v1/shards", content=b"\0" * 64, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.headers["x-error-code"]

"""git clone, fetch and push over smart HTTP, with git-lfs: the real `git` and `git-lfs` (Debian packages
`git`, `git-lfs`) against a live hubd."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo as DulwichRepo

from tests.conftest import eventually, run_client, sha256_file

pytestmark = pytest.mark.skipif(shutil.which("git") is None or shutil.which("git-lfs") is None,
                                reason="needs the git and git-lfs packages")


@pytest.fixture(scope="module")
def git_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("git-home")
    env = {**os.environ, "HOME": str(home)}
    subprocess.run(["git", "lfs", "install"], env=env, check=True, capture_output=True)
    for key, value in (("user.name", "Tester"), ("user.email", "tester@example.org"), ("init.defaultBranch", "main"),
                       ("protocol.version", "2")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    return home


def git(home: Path, *args: str, cwd: Path | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    proc = subprocess.run(["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc


def url(hubd, repo_id: str, user: str | None = "alice", prefix: str = "") -> str:  # type: ignore[no-untyped-def]
    host = hubd.url.removeprefix("http://")
    creds = f"{user}:{hubd.tokens[user]}@" if user else ""
    return f"http://{creds}{host}/{prefix}{repo_id}"


def refs_of(api, repo_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    r = api.list_repo_refs(repo_id)
    return {**{b.ref: b.target_commit for b in r.branches}, **{t.ref: t.target_commit for t in r.tags}}


def test_clone_matches_api_byte_for_byte(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    files = {"README.md": b"# hello\n", "sub/dir/a.txt": b"a" * 100, "config.json": b'{"model_type": "bert"}'}
    for path, data in files.items():
        alice.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo_id)
    lfs_bytes = os.urandom(11 * 2**20)
    (tmp_path / "lfs.bin").write_bytes(lfs_bytes)
    run_client(f"from huggingface_hub import HfApi; HfApi().upload_file(path_or_fileobj={str(tmp_path / 'lfs.bin')!r}, "
               f"path_in_repo='weights/lfs.bin', repo_id={repo_id!r})", hubd.tokens["alice"],
               env={"HF_HUB_DISABLE_XET": "1"})
    xet_bytes = os.urandom(12 * 2**20)
    alice.upload_file(path_or_fileobj=xet_bytes, path_in_repo="xet.safetensors", repo_id=repo_id)
    info = alice.get_paths_info(repo_id, ["xet.safetensors"])[0]
    assert info.xet_hash, "the default client stores large files with Xet"

    work = tmp_path / "clone"
    git(git_home, "clone", url(hubd, repo_id), str(work), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    git(git_home, "lfs", "pull", cwd=work)
    expected = {**files, "weights/lfs.bin": lfs_bytes, "xet.safetensors": xet_bytes}
    for path, data in expected.items():
        assert (work / path).read_bytes() == data, path
    log = git(git_home, "log", "--format=%H", cwd=work).stdout.split()
    assert log == [c.commit_id for c in alice.list_repo_commits(repo_id)]
    # and the protocol v0 path gives the same (git falls back when asked for it)
    work0 = tmp_path / "clone-v0"
    git(git_home, "-c", "protocol.version=0", "clone", url(hubd, repo_id), str(work0),
        env={"GIT_LFS_SKIP_SMUDGE": "1"})
    assert git(git_home, "rev-parse", "HEAD", cwd=work0).stdout.strip() == log[0]


def test_push_many_files_and_a_large_lfs_file(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    from huggingface_hub import hf_hub_download

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    work = tmp_path / "w"
    git(git_home, "clone", url(hubd, repo_id), str(work))
    for i in range(1000):
        d = work / "data" / f"{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.txt").write_text(f"file {i}\n")
    (work / "README.md").write_text("---\nlicense: mit\ntags:\n- pushed-by-git\n---\n# pushed\n")
    big = work / "model.bin"  # *.bin is in the .gitattributes the Hub writes: git-lfs takes it
    with open(big, "wb") as f:
        for _ in range(200):
            f.write(os.urandom(2**20))
    git(git_home, "add", ".", cwd=work)
    git(git_home, "commit", "-qm", "many files", cwd=work)
    git(git_home, "push", "origin", "main", cwd=work)
    head = git(git_home, "rev-parse", "HEAD", cwd=work).stdout.strip()
    assert alice.repo_info(repo_id).sha == head  # a pushed commit is the head the API reports
    assert [c.commit_id for c in alice.list_repo_commits(repo_id)][0] == head
    got = hf_hub_download(repo_id, "data/7/f987.txt", token=hubd.tokens["alice"], cache_dir=tmp_path / "c")
    assert Path(got).read_text() == "file 987\n"
    got = hf_hub_download(repo_id, "model.bin", token=hubd.tokens["alice"], cache_dir=tmp_path / "c")
    assert sha256_file(got) == sha256_file(big)
    # the derived metadata follows, as after an API commit
    assert eventually(lambda: "pushed-by-git" in (alice.model_info(repo_id).tags or []), timeout=60)
    report = hubd.cli("fsck", check=False)
    assert report.returncode == 0, report.stdout


def test_shallow_fetch_branch_tag_delete(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    for i in range(3):
        alice.upload_file(path_or_fileobj=f"v{i}".encode(), path_in_repo="v.txt", repo_id=repo_id)
    work = tmp_path / "w"
    git(git_home, "clone", "--depth", "1", url(hubd, repo_id), str(work))
    assert git(git_home, "rev-list", "--count", "HEAD", cwd=work).stdout.strip() == "1"
    new = alice.upload_file(path_or_fileobj=b"v3", path_in_repo="v.txt", repo_id=repo_id).oid
    git(git_home, "pull", "-q", cwd=work)
    assert git(git_home, "rev-parse", "HEAD", cwd=work).stdout.strip() == new
    assert (work / "v.txt").read_text() == "v3"
    git(git_home, "fetch", "-q", "--unshallow", cwd=work)
    assert git(git_home, "rev-list", "--count", "HEAD", cwd=work).stdout.strip() == "5"

    git(git_home, "checkout", "-qb", "feature", cwd=work)
    (work / "f.txt").write_text("feature\n")
    git(git_home, "add", "f.txt", cwd=work)
    git(git_home, "commit", "-qm", "feature", cwd=work)
    git(git_home, "tag", "v1.0", cwd=work)
    git(git_home, "push", "origin", "feature", "v1.0", cwd=work)
    feature = git(git_home, "rev-parse", "HEAD", cwd=work).stdout.strip()
    refs = refs_of(alice, repo_id)
    assert refs["refs/heads/feature"] == feature and refs["refs/tags/v1.0"] == feature
    assert alice.list_repo_commits(repo_id, revision="feature")[0].commit_id == feature

    # refs/pr/N and the single-branch clone
    pr = alice.create_pull_request(repo_id, title="pr")
    single = tmp_path / "single"
    git(git_home, "clone", "--single-branch", "--branch", "feature", url(hubd, repo_id), str(single))
    git(git_home, "fetch", "origin", f"refs/pr/{pr.num}", cwd=single)
    assert git(git_home, "rev-parse", "FETCH_HEAD", cwd=single).stdout.strip() == new
    # pushing to an open PR appends to it
    git(git_home, "checkout", "-q", "-b", "topr", "FETCH_HEAD", cwd=single)
    (single / "pr.txt").write_text("pr\n")
    git(git_home, "add", "pr.txt", cwd=single)
    git(git_home, "commit", "-qm", "to the pr", cwd=single)
    git(git_home, "push", "origin", f"HEAD:refs/pr/{pr.num}", cwd=single)
    pr_head = git(git_home, "rev-parse", "HEAD", cwd=single).stdout.strip()
    assert alice.list_repo_commits(repo_id, revision=f"refs/pr/{pr.num}")[0].commit_id == pr_head

    git(git_home, "push", "origin", "--delete", "feature", "v1.0", cwd=work)
    refs = refs_of(alice, repo_id)
    assert "refs/heads/feature" not in refs and "refs/tags/v1.0" not in refs


def test_refused_pushes_change_nothing(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"base", path_in_repo="base.txt", repo_id=repo_id)
    work = tmp_path / "w"
    git(git_home, "clone", url(hubd, repo_id), str(work))
    before = refs_of(alice, repo_id)

    def refused(*args: str, user: str = "alice") -> str:
        git(git_home, "remote", "set-url", "origin", url(hubd, repo_id, user), cwd=work)
        proc = git(git_home, "push", "--no-verify", *args, cwd=work, check=False)
        git(git_home, "remote", "set-url", "origin", url(hubd, repo_id), cwd=work)
        assert proc.returncode != 0, proc.stderr
        assert refs_of(alice, repo_id) == before
        return proc.stderr

    # a user without write access
    (work / "x.txt").write_text("x\n")
    git(git_home, "add", "x.txt", cwd=work)
    git(git_home, "commit", "-qm", "x", cwd=work)
    err = refused("origin", "main", user="bob")
    # anyone with a write token may push to a pull request of theirs, so the refusal is per ref
    assert "you don't have the rights to push to refs/heads/main" in err
    git(git_home, "reset", "-q", "--hard", "HEAD~1", cwd=work)

    # a 20 MB file that is not in LFS
    (work / "big.txt").write_bytes(b"0123456789" * 2 * 2**20)
    git(git_home, "add", "big.txt", cwd=work)
    git(git_home, "commit", "-qm", "big", cwd=work)
    err = refused("origin", "main")
    assert "git-lfs" in err and "big.txt" in err
    git(git_home, "reset", "-q", "--hard", "HEAD~1", cwd=work)

    # a tree with a ".." entry, written with dulwich (git itself refuses to make one)
    repo = DulwichRepo(str(work))
    blob = Blob.from_string(b"escape\n")
    inner = Tree()
    inner.add(b"evil.txt", 0o100644, blob.id)
    head = repo[repo.head()]
    root = repo[head.tree]
    root.add(b"..", 0o040000, inner.id)
    c = Commit()
    c.tree, c.parents, c.message = root.id, [head.id], b"dotdot\n"
    c.author = c.committer = b"Tester <tester@example.org>"
    c.author_time = c.commit_time = 0
    c.author_timezone = c.commit_timezone = 0
    for obj in (blob, inner, root, c):
        repo.object_store.add_object(obj)
    err = refused("origin", f"{c.id.decode()}:refs/heads/main")
    assert "Invalid file path" in err

    # an LFS pointer naming an object this repo never received
    other = f"alice/{repo_name}-other"
    alice.create_repo(other)
    secret = os.urandom(2048)
    run_client(f"from huggingface_hub import HfApi; HfApi().upload_file(path_or_fileobj={secret!r}, "
               f"path_in_repo='s.bin', repo_id={other!r})", hubd.tokens["alice"], env={"HF_HUB_DISABLE_XET": "1"})
    oid = hashlib.sha256(secret).hexdigest()
    (work / "stolen.txt").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 2048\n")
    git(git_home, "add", "stolen.txt", cwd=work)
    git(git_home, "commit", "-qm", "stolen", cwd=work)
    err = refused("origin", "main")
    assert "has not been uploaded to this repo" in err
    git(git_home, "reset", "-q", "--hard", "HEAD~1", cwd=work)

    # a non-fast-forward push, forced: refused (the branch does not allow it)
    git(git_home, "commit", "-q", "--amend", "-m", "rewritten", cwd=work)
    err = refused("--force", "origin", "main")
    assert "non-fast-forward" in err


def test_push_racing_an_api_commit(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    for round_ in range(3):
        work = tmp_path / f"w{round_}"
        git(git_home, "clone", url(hubd, repo_id), str(work))
        head = git(git_home, "rev-parse", "HEAD", cwd=work).stdout.strip()
        for i in range(200):
            (work / f"g{i}.txt").write_text(f"{round_} {i}\n")
        git(git_home, "add", ".", cwd=work)
        git(git_home, "commit", "-qm", "by git", cwd=work)
        results: dict[str, object] = {}

        def api_commit(round_: int = round_, head: str = head, results: dict = results) -> None:
            try:
                results["api"] = alice.create_commit(
                    repo_id, [CommitOperationAdd("api.txt", f"{round_}".encode())], commit_message="by api",
                    parent_commit=head).oid
            except HfHubHTTPError as exc:
                results["api_error"] = exc

        t = threading.Thread(target=api_commit)
        t.start()
        push = git(git_home, "push", "origin", "main", cwd=work, check=False)
        t.join()
        final = alice.repo_info(repo_id).sha
        pushed = git(git_home, "rev-parse", "HEAD", cwd=work).stdout.strip()
        winners = int(push.returncode == 0) + int("api" in results)
        assert winners == 1, (push.stderr, results)
        assert final == (pushed if push.returncode == 0 else results["api"])
        if push.returncode != 0:
            assert "fetch first" in push.stderr or "rejected" in push.stderr


def test_private_repos_and_credentials(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id, private=True)
    r = httpx.get(f"{hubd.url}/{repo_id}.git/info/refs?service=git-upload-pack")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert r.headers["x-error-code"] == "RepoNotFound"
    missing = httpx.get(f"{hubd.url}/alice/no-such-repo-{repo_name}/info/refs?service=git-upload-pack")
    assert (missing.status_code, missing.headers.get("x-error-code")) == (401, "RepoNotFound")
    bob = httpx.get(f"{hubd.url}/{repo_id}/info/refs?service=git-upload-pack", auth=("bob", hubd.tokens["bob"]))
    assert (bob.status_code, bob.headers["x-error-code"]) == (404, "RepoNotFound")
    proc = git(git_home, "clone", url(hubd, repo_id, None), str(tmp_path / "anon"), check=False)
    assert proc.returncode != 0
    git(git_home, "clone", url(hubd, repo_id), str(tmp_path / "mine"))
    # a public repo: reading needs nothing, pushing asks for credentials
    public = f"alice/{repo_name}-public"
    alice.create_repo(public)
    r = httpx.get(f"{hubd.url}/{public}/info/refs?service=git-receive-pack")
    assert r.status_code == 401 and "www-authenticate" in r.headers
    ro = httpx.get(f"{hubd.url}/{public}/info/refs?service=git-receive-pack",
                   auth=("x", hubd.tokens["alice-read"]))
    assert ro.status_code == 403
    assert httpx.get(f"{hubd.url}/{public}/info/refs").status_code == 400  # no dumb protocol
    # datasets and spaces under their prefixes, with or without .git
    alice.create_repo(f"alice/{repo_name}-ds", repo_type="dataset")
    git(git_home, "clone", url(hubd, f"alice/{repo_name}-ds.git", prefix="datasets/"), str(tmp_path / "ds"))
    assert (tmp_path / "ds" / ".gitattributes").exists()


def _pkt(line: str) -> bytes:
    return f"{len(line) + 4:04x}{line}".encode()


def test_another_repos_objects_are_never_served(hubd, alice, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    secret_repo = f"alice/{repo_name}-secret"
    alice.create_repo(secret_repo, private=True)
    secret = alice.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=secret_repo).oid
    public = f"alice/{repo_name}"
    alice.create_repo(public)
    rpc = f"{hubd.url}/{public}/git-upload-pack"
    headers = {"Content-Type": "application/x-git-upload-pack-request"}
    caps = "multi_ack_detailed side-band-64k thin-pack ofs-delta"
    # want: only advertised tips
    body = _pkt(f"want {secret} {caps}\n") + b"0000" + _pkt("done\n")
    r = httpx.post(rpc, content=body, headers=headers, auth=("bob", hubd.tokens["bob"]))
    assert r.status_code == 200 and b"ERR" in r.content and b"secret" not in r.content
    # have: another repo's commit is never acknowledged
    head = alice.repo_info(public).sha
    body = _pkt(f"want {head} {caps}\n") + b"0000" + _pkt(f"have {secret}\n") + _pkt("done\n")
    r = httpx.post(rpc, content=body, headers=headers, auth=("bob", hubd.tokens["bob"]))
    assert r.status_code == 200 and f"ACK {secret}".encode() not in r.content
    # garbage is a clean answer, never a 5xx
    for junk in (b"zzzz", b"0009want\n", _pkt("want nothex\n") + b"0000", os.urandom(300)):
        r = httpx.post(rpc, content=junk, headers=headers)
        assert r.status_code < 500

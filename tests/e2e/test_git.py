"""git clone, fetch and push over smart HTTP, with git-lfs: the real `git` and `git-lfs` (Debian packages
`git`, `git-lfs`) against a live hubd."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo as DulwichRepo

from tests.conftest import eventually, run_client, running_hubd, sha256_file

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


V2 = {"Git-Protocol": "version=2", "Content-Type": "application/x-git-upload-pack-request"}


def _v2_request(command: str, *args: str) -> bytes:
    return (_pkt(f"command={command}\n") + _pkt("object-format=sha1\n") + b"0001"
            + b"".join(_pkt(f"{a}\n") for a in args) + b"0000")


def _pkt_lines(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 4 <= len(data):
        size = int(data[pos:pos + 4], 16)
        if size < 4:
            out.append(data[pos:pos + 4])
            pos += 4
            continue
        out.append(data[pos + 4:pos + size])
        pos += size
    return out


def test_protocol_v2_is_what_git_negotiates(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    for i in range(3):
        alice.upload_file(path_or_fileobj=f"v{i}".encode(), path_in_repo="v.txt", repo_id=repo_id)
    work = tmp_path / "w"
    proc = git(git_home, "clone", url(hubd, repo_id), str(work), env={"GIT_TRACE_PACKET": "1"})
    trace = proc.stderr
    assert "git< version 2" in trace and "clone> command=ls-refs" in trace and "> command=fetch" in trace
    assert "ref-prefix refs/heads/" in trace and "symref-target:refs/heads/main" in trace
    log = git(git_home, "log", "--format=%H", cwd=work).stdout.split()
    assert log == [c.commit_id for c in alice.list_repo_commits(repo_id)]

    # an incremental fetch negotiates (haves, ACKs, ready) and gets only what is new
    new = alice.upload_file(path_or_fileobj=b"v3", path_in_repo="v.txt", repo_id=repo_id).oid
    proc = git(git_home, "pull", "-q", cwd=work, env={"GIT_TRACE_PACKET": "1"})
    assert f"have {log[0]}" in proc.stderr and f"ACK {log[0]}" in proc.stderr and "< ready" in proc.stderr
    assert git(git_home, "rev-parse", "HEAD", cwd=work).stdout.strip() == new

    # the other shallow forms of v2: deepen-relative (--deepen), deepen-not (--shallow-exclude), deepen-since
    shallow = tmp_path / "shallow"
    git(git_home, "clone", "-q", "--depth", "1", url(hubd, repo_id), str(shallow))
    git(git_home, "fetch", "-q", "--deepen=2", cwd=shallow)
    assert git(git_home, "rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "3"
    alice.create_tag(repo_id, tag="old", revision=log[1])
    excl = tmp_path / "exclude"
    git(git_home, "clone", "-q", "--shallow-exclude=old", url(hubd, repo_id), str(excl))
    assert git(git_home, "log", "--format=%H", cwd=excl).stdout.split() == [new, log[0]]
    since = tmp_path / "since"
    git(git_home, "clone", "-q", "--shallow-since=2000-01-01", url(hubd, repo_id), str(since))
    assert git(git_home, "rev-list", "--count", "HEAD", cwd=since).stdout.strip() == str(len(log) + 1)
    git(git_home, "fetch", "-q", "--unshallow", cwd=excl)
    assert git(git_home, "rev-list", "--count", "HEAD", cwd=excl).stdout.strip() == str(len(log) + 1)

    # the advertisement and ls-refs, as git sees them over HTTP
    r = httpx.get(f"{hubd.url}/{repo_id}/info/refs?service=git-upload-pack", headers={"Git-Protocol": "version=2"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    caps = _pkt_lines(r.content)
    assert caps[0] == b"version 2\n" and b"ls-refs\n" in caps and b"fetch=shallow filter\n" in caps
    r = httpx.post(f"{hubd.url}/{repo_id}/git-upload-pack", headers=V2,
                   content=_v2_request("ls-refs", "symrefs", "ref-prefix refs/heads/ma"))
    assert _pkt_lines(r.content) == [f"{new} refs/heads/main\n".encode(), b"0000"]
    # and pushes still speak v0 (as with git's own server), whatever the client prefers
    (work / "p.txt").write_text("pushed\n")
    git(git_home, "add", "p.txt", cwd=work)
    git(git_home, "commit", "-qm", "pushed", cwd=work)
    git(git_home, "push", "-q", "origin", "main", cwd=work)
    assert alice.repo_info(repo_id).sha == git(git_home, "rev-parse", "HEAD", cwd=work).stdout.strip()


def _missing(home: Path, work: Path) -> set[str]:
    out = git(home, "rev-list", "--objects", "--all", "--missing=print", cwd=work).stdout.split()
    return {line[1:] for line in out if line.startswith("?")}


def test_partial_clone_and_lazy_fetch(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    from huggingface_hub import CommitOperationAdd

    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    small, large = b"small file\n", os.urandom(150_000).hex().encode()  # text: stays a git blob
    alice.create_commit(repo_id, [CommitOperationAdd("a/small.txt", small), CommitOperationAdd("large.bin.txt", large),
                                  CommitOperationAdd("old.txt", b"first version\n")], commit_message="one")
    alice.create_commit(repo_id, [CommitOperationAdd("old.txt", b"second version\n")], commit_message="two")
    files = alice.list_repo_tree(repo_id, recursive=True)
    blob_of = {f.path: f.blob_id for f in files if hasattr(f, "blob_id")}

    for version in ("2", "0"):  # git's default, and the older protocol (allow-reachable-sha1-in-want)
        proto = ["-c", f"protocol.version={version}"]
        # blob:none: commits and trees only; a checkout fetches the blobs it needs, by id, in one request
        work = tmp_path / f"none-v{version}"
        git(git_home, *proto, "clone", "--no-checkout", "--filter=blob:none", url(hubd, repo_id), str(work))
        git(git_home, "config", "protocol.version", version, cwd=work)  # the lazy fetches too
        assert git(git_home, "config", "remote.origin.partialclonefilter", cwd=work).stdout.strip() == "blob:none"
        missing = _missing(git_home, work)
        assert set(blob_of.values()) <= missing and len(missing) == len(blob_of) + 1  # + the first old.txt
        proc = git(git_home, "checkout", "-q", "main", cwd=work, env={"GIT_TRACE_PACKET": "1"})
        assert f"want {blob_of['large.bin.txt']}" in proc.stderr
        assert (work / "large.bin.txt").read_bytes() == large and (work / "a/small.txt").read_bytes() == small
        assert _missing(git_home, work) == missing - set(blob_of.values())
        # history reaches an old blob: fetched lazily too
        assert git(git_home, "show", "HEAD~1:old.txt", cwd=work).stdout == "first version\n"
        assert _missing(git_home, work) == set()

        # blob:limit: only the blobs above the limit stay behind
        work = tmp_path / f"limit-v{version}"
        git(git_home, *proto, "clone", "--no-checkout", "--filter=blob:limit=100k", url(hubd, repo_id), str(work))
        assert _missing(git_home, work) == {blob_of["large.bin.txt"]}
        git(git_home, *proto, "checkout", "-q", "main", cwd=work)
        assert (work / "large.bin.txt").read_bytes() == large

        # filters hubd does not serve are refused by name
        proc = git(git_home, *proto, "clone", "--filter=tree:0", url(hubd, repo_id), str(tmp_path / f"t0-{version}"),
                   check=False)
        assert proc.returncode != 0 and "filter 'tree' not supported" in proc.stderr


def test_partial_clone_wants_stay_inside_the_repo(hubd, alice, repo_name):  # type: ignore[no-untyped-def]
    secret_repo = f"alice/{repo_name}-secret"
    alice.create_repo(secret_repo, private=True)
    alice.upload_file(path_or_fileobj=b"top secret\n", path_in_repo="s.txt", repo_id=secret_repo)
    secret_blob = next(f.blob_id for f in alice.list_repo_tree(secret_repo) if f.path == "s.txt")
    secret_commit = alice.repo_info(secret_repo).sha
    public = f"alice/{repo_name}"
    alice.create_repo(public)
    head = alice.repo_info(public).sha
    rpc = f"{hubd.url}/{public}/git-upload-pack"
    for want in (secret_blob, secret_commit):
        r = httpx.post(rpc, headers=V2, content=_v2_request("fetch", f"want {want}", "done"),
                       auth=("bob", hubd.tokens["bob"]))
        assert r.status_code == 200 and f"ERR upload-pack: not our ref {want}".encode() in r.content
        assert b"packfile" not in r.content
    # a have naming another repo's commit is never acknowledged
    r = httpx.post(rpc, headers=V2, content=_v2_request("fetch", f"want {head}", f"have {secret_commit}"))
    assert r.status_code == 200 and b"NAK" in r.content and b"ACK" not in r.content
    # the private repo answers v2 as v0: not found, and a request for credentials
    r = httpx.post(f"{hubd.url}/{secret_repo}/git-upload-pack", headers=V2,
                   content=_v2_request("ls-refs"))
    assert r.status_code == 401 and r.headers["x-error-code"] == "RepoNotFound"


def _garbage_v2() -> list:  # type: ignore[type-arg]
    want = "want " + "1" * 40
    return [
        pytest.param(b"zzzz", id="bad length"),
        pytest.param(b"0003", id="length 3"),
        pytest.param(b"fff0" + b"x" * 10, id="truncated pkt"),
        pytest.param(b"ffff" + b"x" * 65531, id="pkt too long"),
        pytest.param(_pkt("command=push\n") + b"0000", id="unknown command"),
        pytest.param(_pkt("hello\n") + b"0000", id="no command"),
        pytest.param(_pkt("command=fetch\n") + b"0001" + _pkt("want nothex\n") + b"0000", id="bad want"),
        pytest.param(_pkt("command=fetch\n") + b"0001" + _pkt(f"{want}\n") + _pkt("frobnicate\n") + b"0000",
                     id="unknown argument"),
        pytest.param(_pkt("command=fetch\n") + b"0001" + _pkt(f"{want}\n") + _pkt("deepen -1\n") + b"0000",
                     id="negative depth"),
        pytest.param(_pkt("command=fetch\n") + b"0001" + _pkt(f"{want}\n") + _pkt("want-ref refs/heads/main\n")
                     + b"0000", id="want-ref not advertised"),
        pytest.param(_pkt("command=ls-refs\n") + b"0001" + _pkt("bogus\n") + b"0000", id="bad ls-refs arg"),
        pytest.param(_pkt("command=ls-refs\n") + _pkt("object-format=sha256\n") + b"0000", id="sha256"),
        pytest.param(_pkt("command=fetch\n") + b"0001" + _pkt(f"{want}\n"), id="no flush"),
        pytest.param(_pkt("command=fetch\n") + b"0001"
                     + b"".join(_pkt(f"want {i:040x}\n") for i in range(100_001)) + b"0000", id="too many wants"),
    ]


@pytest.mark.parametrize("body", _garbage_v2())
def test_v2_garbage_is_a_clean_400(hubd, alice, body, repo_name):  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    t0 = time.monotonic()
    r = httpx.post(f"{hubd.url}/{repo_id}/git-upload-pack", headers=V2, content=body, timeout=60)
    assert r.status_code == 400, r.content[:300]
    assert r.headers["x-error-code"] and r.json()["error"].startswith("git protocol v2")
    assert time.monotonic() - t0 < 10


def test_v2_hostile_but_well_formed_requests_are_cheap(hubd, alice, repo_name):  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    head = alice.repo_info(repo_id).sha
    rpc = f"{hubd.url}/{repo_id}/git-upload-pack"
    # 100,000 wants of objects that are nobody's: refused at the first, in bounded time
    t0 = time.monotonic()
    r = httpx.post(rpc, headers=V2, timeout=60,
                   content=_v2_request("fetch", *(f"want {i:040x}" for i in range(100_000)), "done"))
    assert r.status_code == 200 and b"ERR upload-pack: not our ref" in r.content
    assert time.monotonic() - t0 < 20
    # 100,000 repeats of a real want: one object sent once
    r = httpx.post(rpc, headers=V2, timeout=60,
                   content=_v2_request("fetch", *([f"want {head}"] * 100_000), "no-progress", "done"))
    assert r.status_code == 200 and b"packfile\n" in r.content and time.monotonic() - t0 < 40
    # a deepen far beyond the history, a filter that is not one
    r = httpx.post(rpc, headers=V2, content=_v2_request("fetch", f"want {head}", "deepen 2147483647", "done"))
    assert r.status_code == 200 and b"packfile\n" in r.content
    r = httpx.post(rpc, headers=V2, content=_v2_request("fetch", f"want {head}", "filter blob:limit=zz", "done"))
    assert r.status_code == 200 and b"ERR invalid filter-spec" in r.content
    # an empty request (git's keep-alive) and a bare flush: nothing to answer, no error
    assert httpx.post(rpc, headers=V2, content=b"0000").status_code == 200


def test_annotated_tags(hubd, alice, git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    repo_id = f"alice/{repo_name}"
    alice.create_repo(repo_id)
    first = alice.upload_file(path_or_fileobj=b"1", path_in_repo="v.txt", repo_id=repo_id).oid
    alice.upload_file(path_or_fileobj=b"2", path_in_repo="v.txt", repo_id=repo_id)
    work = tmp_path / "w"
    git(git_home, "clone", url(hubd, repo_id), str(work))
    git(git_home, "tag", "-a", "v1.0", "-m", "release one", first, cwd=work)
    tag_sha = git(git_home, "rev-parse", "v1.0", cwd=work).stdout.strip()
    git(git_home, "push", "origin", "v1.0", cwd=work)
    # the API lists it at its commit; revisions resolve through it
    assert refs_of(alice, repo_id)["refs/tags/v1.0"] == first
    assert alice.list_repo_commits(repo_id, revision="v1.0")[0].commit_id == first
    # git sees the tag object, peeled, with either protocol
    remote = git(git_home, "ls-remote", "origin", "refs/tags/*", cwd=work).stdout
    assert f"{tag_sha}\trefs/tags/v1.0\n" in remote and f"{first}\trefs/tags/v1.0^{{}}" in remote
    for version in ("2", "0"):
        clone = tmp_path / f"clone-v{version}"
        git(git_home, "-c", f"protocol.version={version}", "clone", url(hubd, repo_id), str(clone))
        assert git(git_home, "cat-file", "-t", "v1.0", cwd=clone).stdout.strip() == "tag"
        assert "release one" in git(git_home, "cat-file", "-p", "v1.0", cwd=clone).stdout
    # include-tag: a fetch of the tagged commit brings the tag along
    def pack_count(body: bytes, headers: dict[str, str]) -> int:
        r = httpx.post(f"{hubd.url}/{repo_id}/git-upload-pack", headers=headers, content=body)
        pack = b"".join(line[1:] for line in _pkt_lines(r.content) if line[:1] == b"\x01")
        assert pack[:4] == b"PACK", r.content[:200]
        return int.from_bytes(pack[8:12], "big")

    v0 = {"Content-Type": "application/x-git-upload-pack-request"}
    head = alice.repo_info(repo_id).sha  # v0 wants advertised tips only; the tag names its parent
    counts = {}
    for tag_too in (False, True):
        extra = ["include-tag"] if tag_too else []
        caps = " ".join(["side-band-64k", "thin-pack", "ofs-delta", *extra])
        counts[tag_too] = {pack_count(_v2_request("fetch", f"want {head}", *extra, "done"), V2),
                           pack_count(_pkt(f"want {head} {caps}\n") + b"0000" + _pkt("done\n"), v0)}
    assert len(counts[False]) == 1 and counts[True] == {counts[False].pop() + 1}  # + the tag, both ways
    report = hubd.cli("fsck", check=False)
    assert report.returncode == 0, report.stdout

    # a tag of a blob is refused; deleting the tag (git or API) drops the tag object with it
    blob = git(git_home, "rev-parse", "HEAD:v.txt", cwd=work).stdout.strip()
    git(git_home, "tag", "-a", "blobtag", "-m", "not a commit", blob, cwd=work)
    proc = git(git_home, "push", "origin", "blobtag", cwd=work, check=False)
    assert proc.returncode != 0 and "must name a commit" in proc.stderr
    git(git_home, "push", "origin", "--delete", "v1.0", cwd=work)
    assert "refs/tags/v1.0" not in refs_of(alice, repo_id)
    git(git_home, "push", "origin", "v1.0", cwd=work)
    alice.delete_tag(repo_id, tag="v1.0")
    alice.create_tag(repo_id, tag="v1.0", revision=first)  # now a lightweight tag
    remote = git(git_home, "ls-remote", "origin", "refs/tags/*", cwd=work).stdout
    assert remote == f"{first}\trefs/tags/v1.0\n"


def test_force_push_setting(git_home, tmp_path, repo_name):  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi

    with running_hubd("gitforce", "alice", "bob",
                      extra_args=["--git-force-push", f"scratch-*,alice/{repo_name}-free:main"]) as hub:
        api = HfApi(endpoint=hub.url, token=hub.tokens["alice"])
        for suffix in ("free", "kept"):
            api.create_repo(f"alice/{repo_name}-{suffix}")

        def force(repo_id: str, branch: str, user: str = "alice") -> subprocess.CompletedProcess:
            work = tmp_path / f"{repo_id.replace('/', '_')}-{branch}-{user}"
            remote = url(hub, repo_id, user)
            git(git_home, "clone", "-q", url(hub, repo_id), str(work))
            if branch != "main":
                git(git_home, "checkout", "-qb", branch, cwd=work)
                git(git_home, "push", "-q", "origin", branch, cwd=work)
            # a message of its own: two rewrites in the same second would otherwise be the same commit
            git(git_home, "commit", "-q", "--amend", "-m", f"rewritten by {user} on {branch}", cwd=work)
            git(git_home, "remote", "set-url", "origin", remote, cwd=work)
            return git(git_home, "push", "--force", "origin", branch, cwd=work, check=False)

        free, kept = f"alice/{repo_name}-free", f"alice/{repo_name}-kept"
        assert force(free, "main").returncode == 0  # REPO:BRANCH
        assert force(kept, "scratch-1").returncode == 0  # BRANCH, any repo
        proc = force(kept, "main")
        assert proc.returncode != 0 and "does not allow forced pushes" in proc.stderr
        before = api.repo_info(free).sha
        proc = force(free, "main", user="bob")  # allowed on the branch, but bob cannot write to alice's repo
        assert proc.returncode != 0 and api.repo_info(free).sha == before

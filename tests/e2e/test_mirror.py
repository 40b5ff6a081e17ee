"""hubd as a pull-through mirror (issue 16): two hubd processes on loopback, one the upstream of the other.

Upstream traffic is counted from the upstream's access log (JSON lines, one per request, with the path)."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download

from tests.conftest import Hubd, make_hubd, run_client, sha256_file
from tests.resources import HealthProbe, peak_rss_mib, rss_mib


@dataclass
class Pair:
    upstream: Hubd
    mirror: Hubd

    def log_mark(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    @property
    def log_path(self) -> Path:
        return self.upstream.data_dir.parent / f"hubd-{self.upstream.port}.log"

    def mirror_mark(self) -> int:
        path = self.mirror_log_path
        return path.stat().st_size if path.exists() else 0

    @property
    def mirror_log_path(self) -> Path:
        return self.mirror.data_dir.parent / f"hubd-{self.mirror.port}.log"

    def mirror_requests(self, since: int, method: str | None = None) -> list[str]:
        """Paths the mirror served since `since` (a byte offset of its log)."""
        return self.upstream_requests(since, self.mirror_log_path, method)

    def upstream_requests(self, since: int, log_path: Path | None = None, method: str | None = None) -> list[str]:
        """Paths the upstream served since `since` (a byte offset of its log), of one method or all."""
        with open(log_path or self.log_path, "rb") as f:
            f.seek(since)
            lines = f.read().decode(errors="replace").splitlines()
        paths = []
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("logger") == "hubd.access" and "path" in rec and method in (None, rec.get("method")):
                paths.append(rec["path"])
        return paths


def write_random(path: Path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * 2**20)
            f.write(rng.randbytes(n))
            left -= n


KEY_OLD = "0" * 43 + "="  # Fernet keys: 32 url-safe base64 bytes
KEY_NEW = "1" * 43 + "="


def stored_upstream_tokens(server: Hubd) -> dict[str, str]:
    """The upstream_tokens rows of a hub, as its database holds them (account name -> stored value)."""
    from sqlalchemy import select

    from hubd.config import load_settings
    from hubd.db.engine import Database
    from hubd.db.schema import accounts, upstream_tokens

    opts = dict(zip(server.store[::2], server.store[1::2], strict=True))
    settings = load_settings({"data_dir": opts["--data-dir"], "database_url": opts.get("--database-url")})
    db = Database(settings.db_url)
    try:
        with db.read() as conn:
            rows = conn.execute(select(accounts.c.name, upstream_tokens.c.token).join(
                accounts, accounts.c.id == upstream_tokens.c.account_id)).all()
        return {r.name: r.token for r in rows}
    finally:
        db.engine.dispose()


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    upstream = make_hubd("upstream")
    upstream.add_user("up-alice")
    upstream.add_user("up-bob")
    upstream.cli("orgs", "add", "gatedorg")
    upstream.cli("orgs", "add-member", "gatedorg", "up-alice", "--role", "read")
    upstream.start()
    mirror = make_hubd("mirror", extra_args=["--upstream-url", upstream.url, "--upstream-ttl", "300",
                                             "--upstream-token-keys", KEY_OLD])
    mirror.add_user("carol")
    mirror.add_user("dave")
    mirror.start()
    yield Pair(upstream, mirror)
    mirror.stop()
    upstream.stop()


@pytest.fixture(scope="module")
def model(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    """An upstream model with a regular file, a plain LFS file (uploaded without Xet) and a Xet file."""
    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    folder = tmp_path_factory.mktemp("model")
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# mirrored\n")
    write_random(folder / "weights.bin", 12 * 2**20, seed=1)
    write_random(folder / "xet.bin", 20 * 2**20, seed=2)
    repo_id = "up-alice/mirrored-model"
    up.create_repo(repo_id)
    up.upload_file(repo_id=repo_id, path_or_fileobj=str(folder / "xet.bin"), path_in_repo="xet.bin")
    run_client(
        "from huggingface_hub import HfApi\n"
        f"api = HfApi(endpoint={pair.upstream.url!r})\n"
        f"api.upload_folder(repo_id={repo_id!r}, folder_path={str(folder)!r},\n"
        "                  allow_patterns=['*.json', '*.md', 'weights.bin'])\n",
        pair.upstream.tokens["up-alice"], env={"HF_HUB_DISABLE_XET": "1"})
    sha = up.repo_info(repo_id).sha
    assert sha is not None
    return repo_id, folder, sha


def test_downloads_through_the_mirror(pair: Pair, model: tuple[str, Path, str], tmp_path: Path) -> None:
    repo_id, folder, sha = model
    up_files = {e.path: e for e in HfApi(endpoint=pair.upstream.url, token=False).list_repo_tree(repo_id)}
    assert up_files["xet.bin"].xet_hash and not up_files["weights.bin"].xet_hash
    mark = pair.log_mark()
    api = HfApi(endpoint=pair.mirror.url, token=False)
    info = api.repo_info(repo_id, files_metadata=True)
    assert info.sha == sha  # the upstream's commit id, not one the mirror made
    assert {s.rfilename for s in info.siblings or []} == set(up_files) | {".gitattributes"} - {None}
    for name in ("config.json", "weights.bin", "xet.bin"):
        path = hf_hub_download(repo_id, name, endpoint=pair.mirror.url, cache_dir=tmp_path / "c1", token=False)
        assert sha256_file(path) == sha256_file(folder / name), name
        assert Path(path).parent.name == sha  # snapshots/<commit>: the client read X-Repo-Commit
    snap = Path(snapshot_download(repo_id, endpoint=pair.mirror.url, cache_dir=tmp_path / "c2", token=False))
    assert snap.name == sha and sha256_file(snap / "weights.bin") == sha256_file(folder / "weights.bin")
    first = pair.upstream_requests(mark)
    assert any(p.endswith("/info/lfs/objects/batch") for p in first), first
    # the second download of everything, by another client cache: nothing reaches the upstream
    mark = pair.log_mark()
    snap = Path(snapshot_download(repo_id, endpoint=pair.mirror.url, cache_dir=tmp_path / "c3", token=False))
    for name in ("config.json", "README.md", "weights.bin", "xet.bin"):
        assert sha256_file(snap / name) == sha256_file(folder / name)
    assert pair.upstream_requests(mark) == []
    # tree, paths-info and revision agree with the upstream's
    mirror_tree = {e.path: e.blob_id for e in api.list_repo_tree(repo_id, revision=sha)}
    assert mirror_tree == {p: e.blob_id for p, e in up_files.items()}
    r = httpx.head(f"{pair.mirror.url}/{repo_id}/resolve/main/weights.bin")
    assert r.headers["x-repo-commit"] == sha and r.headers["x-linked-etag"].strip('"') == sha256_file(
        folder / "weights.bin")


def _download_in_fresh_client(pair: Pair, repo_id: str, name: str, where: Path) -> Path:
    """hf_hub_download (hf_xet installed) from the mirror in a new interpreter with caches of its own,
    Xet's chunk cache included: what it gets, it gets from the mirror."""
    out = run_client(
        "from huggingface_hub import hf_hub_download\n"
        f"print(hf_hub_download({repo_id!r}, {name!r}, endpoint={pair.mirror.url!r},\n"
        f"                      cache_dir={str(where / 'hub')!r}))\n",
        "", env={"HF_XET_CACHE": str(where / "xet"), "HF_HOME": str(where / "home")})
    return Path(out.strip().splitlines()[-1])


def _xorbs_fetched(paths: list[str]) -> set[str]:
    return {p.rsplit("/", 1)[1] for p in paths if p.startswith("/api/cas/fetch/")}


def test_xet_through_the_mirror(pair: Pair, tmp_path: Path) -> None:
    """A Xet client downloads a mirrored Xet file with Xet against the mirror; the mirror fills its own xorbs
    from the upstream's CAS, and content shared with a file already mirrored is not fetched again."""
    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    write_random(tmp_path / "a.bin", 16 * 2**20, seed=21)
    write_random(tmp_path / "tail.bin", 4 * 2**20, seed=22)
    shared_part = (tmp_path / "a.bin").read_bytes()[: 12 * 2**20]
    (tmp_path / "b.bin").write_bytes(shared_part + (tmp_path / "tail.bin").read_bytes())
    for repo_id, name in (("up-alice/xet-one", "a.bin"), ("up-alice/xet-two", "b.bin")):
        up.create_repo(repo_id)
        up.upload_file(repo_id=repo_id, path_or_fileobj=str(tmp_path / name), path_in_repo=name)
    xet_a = up.get_paths_info("up-alice/xet-one", ["a.bin"])[0].xet_hash  # type: ignore[union-attr]
    xet_b = up.get_paths_info("up-alice/xet-two", ["b.bin"])[0].xet_hash  # type: ignore[union-attr]
    assert xet_a and xet_b
    # the mirror advertises Xet for a file it has not filled yet
    r = httpx.head(f"{pair.mirror.url}/up-alice/xet-one/resolve/main/a.bin")
    assert r.headers["x-xet-hash"] == xet_a and 'rel="xet-auth"' in r.headers["link"]
    assert r.headers["link"].startswith(f"<{pair.mirror.url}/")

    mark, mmark = pair.log_mark(), pair.mirror_mark()
    path = _download_in_fresh_client(pair, "up-alice/xet-one", "a.bin", tmp_path / "c1")
    assert sha256_file(path) == sha256_file(tmp_path / "a.bin")
    served = pair.mirror_requests(mmark)
    assert any(p.endswith(f"/reconstructions/{xet_a}") for p in served), served  # Xet against the mirror
    assert any(p.startswith("/api/cas/fetch/") for p in served), served
    assert not any("/resolve/" in p for p in pair.mirror_requests(mmark, "GET")), served  # not plain HTTP
    upstream = pair.upstream_requests(mark)
    assert any(p.endswith(f"/reconstructions/{xet_a}") for p in upstream), upstream  # filled from upstream Xet
    assert not any(p.endswith("/objects/batch") or p.startswith("/api/lfs/objects/") for p in upstream), upstream
    fetched_a = _xorbs_fetched(upstream)
    assert fetched_a

    # the second download, by another client with empty caches: no upstream traffic at all
    mark = pair.log_mark()
    path = _download_in_fresh_client(pair, "up-alice/xet-one", "a.bin", tmp_path / "c2")
    assert sha256_file(path) == sha256_file(tmp_path / "a.bin")
    r = httpx.get(f"{pair.mirror.url}/up-alice/xet-one/resolve/main/a.bin", headers={"Range": "bytes=5-1000004"})
    assert r.status_code == 206 and r.content == (tmp_path / "a.bin").read_bytes()[5:1000005]  # plain HTTP, from Xet
    assert pair.upstream_requests(mark) == []

    # another repo's file sharing 12 MiB with it: the upstream's terms name a.bin's xorbs, which the mirror
    # already holds, so only the new content travels
    tok = httpx.get(f"{pair.upstream.url}/api/models/up-alice/xet-two/xet-read-token/main").json()
    recon = httpx.get(f"{tok['casUrl']}/v1/reconstructions/{xet_b}",
                      headers={"Authorization": f"Bearer {tok['accessToken']}"}).json()
    shared = {t["hash"] for t in recon["terms"]} & fetched_a
    assert shared, "the upstream did not deduplicate b.bin against a.bin: nothing to check"
    mark = pair.log_mark()
    path = _download_in_fresh_client(pair, "up-alice/xet-two", "b.bin", tmp_path / "c3")
    assert sha256_file(path) == sha256_file(tmp_path / "b.bin")
    fetched_b = _xorbs_fetched(pair.upstream_requests(mark))
    assert fetched_b and not fetched_b & shared, (fetched_b, shared)


def test_xet_fill_follows_the_ranges_asked(pair: Pair, tmp_path: Path) -> None:
    """Streaming while filling, for Xet: a reconstruction of a Range fills only the upstream xorbs that Range
    needs; the file is published whole (and counted as cached) once every part has been asked for."""
    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    repo_id = "up-alice/xet-big"
    write_random(tmp_path / "big.bin", 72 * 2**20, seed=31)  # more than one 64 MiB xorb
    up.create_repo(repo_id)
    up.upload_file(repo_id=repo_id, path_or_fileobj=str(tmp_path / "big.bin"), path_in_repo="big.bin")
    xet_hash = up.get_paths_info(repo_id, ["big.bin"])[0].xet_hash  # type: ignore[union-attr]
    tok = httpx.get(f"{pair.upstream.url}/api/models/{repo_id}/xet-read-token/main").json()
    upstream_xorbs = {t["hash"] for t in httpx.get(f"{tok['casUrl']}/v1/reconstructions/{xet_hash}", headers={
        "Authorization": f"Bearer {tok['accessToken']}"}).json()["terms"]}
    assert len(upstream_xorbs) >= 2
    assert httpx.head(f"{pair.mirror.url}/{repo_id}/resolve/main/big.bin").headers["x-xet-hash"] == xet_hash
    mark = pair.log_mark()
    tok = httpx.get(f"{pair.mirror.url}/api/models/{repo_id}/xet-read-token/main").json()
    r = httpx.get(f"{tok['casUrl']}/v1/reconstructions/{xet_hash}", timeout=120,
                  headers={"Authorization": f"Bearer {tok['accessToken']}", "Range": "bytes=0-1048575"})
    assert r.status_code == 200, r.text
    assert len(_xorbs_fetched(pair.upstream_requests(mark))) == 1  # the first part only

    def cached() -> int:
        rows = pair.mirror.cli("mirror", "status", "--json", "--upstream-url", pair.upstream.url).stdout
        return next(json.loads(x)["cached_bytes"] for x in rows.splitlines() if json.loads(x)["id"] == repo_id)

    assert cached() == 0  # not whole, not published
    path = _download_in_fresh_client(pair, repo_id, "big.bin", tmp_path / "c1")
    assert sha256_file(path) == sha256_file(tmp_path / "big.bin")
    fetches = sorted(p.rsplit("/", 1)[1] for p in pair.upstream_requests(mark) if p.startswith("/api/cas/fetch/"))
    assert fetches == sorted(upstream_xorbs)  # each part fetched once
    assert cached() == 72 * 2**20


def test_concurrent_xet_clients_fetch_each_xorb_once(pair: Pair, tmp_path: Path) -> None:
    """Four hf_xet clients at once on an uncached mirrored Xet file: the upstream sends each xorb range once."""
    from concurrent.futures import ThreadPoolExecutor

    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    repo_id = "up-alice/xet-crowd"
    write_random(tmp_path / "crowd.bin", 70 * 2**20, seed=41)
    up.create_repo(repo_id)
    up.upload_file(repo_id=repo_id, path_or_fileobj=str(tmp_path / "crowd.bin"), path_in_repo="crowd.bin")
    digest = sha256_file(tmp_path / "crowd.bin")
    mark = pair.log_mark()
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda i: _download_in_fresh_client(pair, repo_id, "crowd.bin", tmp_path / f"c{i}"),
                              range(4)))
    assert [sha256_file(p) for p in paths] == [digest] * 4
    fetches = [p for p in pair.upstream_requests(mark) if p.startswith("/api/cas/fetch/")]
    assert fetches and len(fetches) == len(set(fetches)), fetches


def test_history_of_a_mirrored_repo(pair: Pair, model: tuple[str, Path, str], tmp_path: Path) -> None:
    """The upstream's whole history: list_repo_commits, an old commit by sha, and a full (not shallow) clone."""
    import subprocess

    repo_id, folder, sha = model
    upstream = [c.commit_id for c in HfApi(endpoint=pair.upstream.url, token=False).list_repo_commits(repo_id)]
    assert len(upstream) >= 3 and upstream[0] == sha
    mirrored = HfApi(endpoint=pair.mirror.url, token=False).list_repo_commits(repo_id)
    assert [c.commit_id for c in mirrored] == upstream
    first = upstream[-1]  # the repo's creation: only .gitattributes
    files = HfApi(endpoint=pair.mirror.url, token=False).list_repo_files(repo_id, revision=first)
    assert files == [".gitattributes"]
    env = {**os.environ, "GIT_LFS_SKIP_SMUDGE": "1", "GIT_TERMINAL_PROMPT": "0"}
    subprocess.run(["git", "clone", "-q", f"{pair.mirror.url}/{repo_id}", str(tmp_path / "clone")], env=env,
                   check=True, timeout=120)
    log = subprocess.run(["git", "-C", str(tmp_path / "clone"), "log", "--format=%H"], capture_output=True,
                         text=True, check=True).stdout.split()
    assert log == upstream
    shallow = subprocess.run(["git", "-C", str(tmp_path / "clone"), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert shallow == "false"
    assert (tmp_path / "clone" / "config.json").read_bytes() == (folder / "config.json").read_bytes()


def test_local_repo_wins_and_mirror_is_read_only(pair: Pair, model: tuple[str, Path, str]) -> None:
    repo_id, _folder, _sha = model
    carol = HfApi(endpoint=pair.mirror.url, token=pair.mirror.tokens["carol"])
    # a local repo is served as local; the upstream is not asked
    carol.create_repo("carol/local-one")
    mark = pair.log_mark()
    assert carol.repo_info("carol/local-one").id == "carol/local-one"
    assert pair.upstream_requests(mark) == []
    # a mirrored repo cannot be written to
    with pytest.raises(Exception) as exc:
        carol.upload_file(repo_id=repo_id, path_or_fileobj=b"x", path_in_repo="x.txt")
    assert "403" in str(exc.value) or "404" in str(exc.value)
    # a missing upstream repo is missing here
    r = httpx.get(f"{pair.mirror.url}/api/models/up-alice/nope", headers={
        "Authorization": f"Bearer {pair.mirror.tokens['carol']}"})
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"


def _link(pair: Pair, user: str, upstream_user: str) -> None:
    r = httpx.put(f"{pair.mirror.url}/api/settings/mirror/upstream-token",
                  headers={"Authorization": f"Bearer {pair.mirror.tokens[user]}"},
                  json={"token": pair.upstream.tokens[upstream_user]})
    assert r.status_code == 200 and r.json()["upstreamUser"] == upstream_user, r.text


def test_gated_upstream_repo_follows_each_users_upstream_token(pair: Pair, tmp_path: Path) -> None:
    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    repo_id = "gatedorg/secret-model"
    pair.upstream.cli("orgs", "add-member", "gatedorg", "up-alice", "--role", "admin", check=False)
    up.create_repo(repo_id)
    up.upload_file(repo_id=repo_id, path_or_fileobj=b"gated bytes\n" * 1000, path_in_repo="weights.txt")
    up.update_repo_settings(repo_id, gated="manual")
    _link(pair, "carol", "up-alice")  # a member of the upstream org: has access
    _link(pair, "dave", "up-bob")  # no access upstream
    # a bad token is refused before it is stored
    r = httpx.put(f"{pair.mirror.url}/api/settings/mirror/upstream-token", json={"token": "hf_nope"},
                  headers={"Authorization": f"Bearer {pair.mirror.tokens['dave']}"})
    assert r.status_code == 400
    path = hf_hub_download(repo_id, "weights.txt", endpoint=pair.mirror.url, cache_dir=tmp_path / "carol",
                           token=pair.mirror.tokens["carol"])
    assert Path(path).read_bytes() == b"gated bytes\n" * 1000
    for token in (pair.mirror.tokens["dave"], False):
        with pytest.raises(Exception) as exc:
            hf_hub_download(repo_id, "weights.txt", endpoint=pair.mirror.url, cache_dir=tmp_path / "dave",
                            token=token)
        assert "gated" in type(exc.value).__name__.lower() or "403" in str(exc.value) or "401" in str(exc.value)
    r = httpx.get(f"{pair.mirror.url}/{repo_id}/resolve/main/weights.txt",
                  headers={"Authorization": f"Bearer {pair.mirror.tokens['dave']}"})
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"


def test_upstream_tokens_encrypted_at_rest_and_rotated(pair: Pair, tmp_path: Path) -> None:
    from cryptography.fernet import Fernet, InvalidToken

    repo_id = "gatedorg/secret-model"
    _link(pair, "carol", "up-alice")
    _link(pair, "dave", "up-bob")
    stored = stored_upstream_tokens(pair.mirror)
    assert set(stored) >= {"carol", "dave"}
    for user, upstream_user in (("carol", "up-alice"), ("dave", "up-bob")):
        assert pair.upstream.tokens[upstream_user] not in stored[user]  # never plaintext at rest
        assert Fernet(KEY_OLD).decrypt(stored[user].encode()).decode() == pair.upstream.tokens[upstream_user]
    r = httpx.get(f"{pair.mirror.url}/api/settings/mirror/upstream-token",
                  headers={"Authorization": f"Bearer {pair.mirror.tokens['carol']}"})
    assert r.status_code == 200 and r.json()["linked"] is True
    assert pair.upstream.tokens["up-alice"] not in r.text and stored["carol"] not in r.text  # never shown back
    # rotation: the new key first, the old one still listed; then the old key is dropped
    pair.mirror.stop()
    try:
        out = pair.mirror.cli("mirror", "rotate-tokens", "--upstream-url", pair.upstream.url,
                              "--upstream-token-keys", f"{KEY_NEW},{KEY_OLD}")
        assert "re-encrypted" in out.stdout, out.stdout + out.stderr
        rotated = stored_upstream_tokens(pair.mirror)
        assert Fernet(KEY_NEW).decrypt(rotated["carol"].encode()).decode() == pair.upstream.tokens["up-alice"]
        with pytest.raises(InvalidToken):
            Fernet(KEY_OLD).decrypt(rotated["carol"].encode())
    finally:
        args = pair.mirror.extra_args
        args[args.index("--upstream-token-keys") + 1] = KEY_NEW
        pair.mirror.start()
    path = hf_hub_download(repo_id, "weights.txt", endpoint=pair.mirror.url, cache_dir=tmp_path / "carol",
                           token=pair.mirror.tokens["carol"])  # read with the token decrypted by the new key
    assert Path(path).read_bytes() == b"gated bytes\n" * 1000
    r = httpx.get(f"{pair.mirror.url}/{repo_id}/resolve/main/weights.txt",
                  headers={"Authorization": f"Bearer {pair.mirror.tokens['dave']}"})
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"


def test_ten_concurrent_first_downloads_fetch_once(pair: Pair, tmp_path: Path) -> None:
    size = int(os.environ.get("HUBD_TEST_MIRROR_BIG_MIB", "1024")) * 2**20
    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    repo_id = "up-alice/big-model"
    up.create_repo(repo_id)
    write_random(tmp_path / "big.bin", size, seed=7)
    digest = sha256_file(tmp_path / "big.bin")
    run_client(
        "from huggingface_hub import HfApi\n"
        f"HfApi(endpoint={pair.upstream.url!r}).upload_file(repo_id={repo_id!r}, "
        f"path_or_fileobj={str(tmp_path / 'big.bin')!r}, path_in_repo='big.bin')\n",
        pair.upstream.tokens["up-alice"], env={"HF_HUB_DISABLE_XET": "1"})
    (tmp_path / "big.bin").unlink()
    mark = pair.log_mark()
    url = f"{pair.mirror.url}/{repo_id}/resolve/main/big.bin"

    def fetch(_i: int) -> str:
        h = __import__("hashlib").sha256()
        with httpx.stream("GET", url, timeout=300) as r:
            assert r.status_code == 200
            for block in r.iter_bytes(4 * 2**20):
                h.update(block)
        return h.hexdigest()

    from concurrent.futures import ThreadPoolExecutor

    assert pair.mirror.proc is not None
    before = rss_mib(pair.mirror.proc.pid)
    with HealthProbe(pair.mirror.url) as probe, ThreadPoolExecutor(10) as pool:
        digests = list(pool.map(fetch, range(10)))
    assert digests == [digest] * 10
    # streamed through a file on disk, never held: the worker grows by blocks, not by the object
    peak = peak_rss_mib(pair.mirror.proc.pid)
    print(f"mirror resources: worker RSS {before:.0f} MiB before, peak {peak:.0f} MiB; slowest /healthz "
          f"{probe.slowest:.2f} s")
    assert peak - before < 200, (before, peak)
    # 3 s, not 1: on the shared 2-CPU test machine (load average 10-14) hubd streaming a Range of one 1 GiB
    # file to ten clients directly, with no mirror, already answered /healthz in 0.74 s at worst; here the
    # upstream hubd, the fill (httpx parsing the upstream's stream under the GIL) and ten readers share those
    # CPUs too: measured 1.43 s and 2.41 s. What the bound catches is a stalled event loop (a fill or a
    # reader blocking it), which answers after tens of seconds, not a slow one.
    assert probe.slowest < 3.0, probe.slowest
    object_gets = [p for p in pair.upstream_requests(mark) if p.startswith("/api/lfs/objects/")]
    assert len(object_gets) == 1, object_gets  # the upstream sent the bytes once


def test_pin_and_status(pair: Pair, model: tuple[str, Path, str]) -> None:
    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    repo_id = "up-alice/pinned"
    up.create_repo(repo_id)
    up.upload_file(repo_id=repo_id, path_or_fileobj=os.urandom(11 * 2**20), path_in_repo="w.bin")
    sha = up.repo_info(repo_id).sha
    out = pair.mirror.cli("mirror", "pin", repo_id, "--upstream-url", pair.upstream.url)
    assert sha in out.stdout and "1 files" in out.stdout, out.stdout + out.stderr
    status = [json.loads(line) for line in pair.mirror.cli(
        "mirror", "status", "--json", "--upstream-url", pair.upstream.url).stdout.splitlines()]
    row = next(r for r in status if r["id"] == repo_id)
    assert row["head"] == sha and row["cached_bytes"] == 11 * 2**20 and row["pins"] == [f"main@{sha[:12]}"]
    assert any(r["id"] == model[0] and r["cached_bytes"] > 30 * 2**20 for r in status)


def test_offline_serves_the_cache_and_refills_after(pair: Pair, model: tuple[str, Path, str], tmp_path: Path) -> None:
    repo_id, folder, sha = model
    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    up.create_repo("up-alice/never-seen")
    up.upload_file(repo_id="up-alice/never-seen", path_or_fileobj=os.urandom(11 * 2**20), path_in_repo="w.bin")
    up.upload_file(repo_id=repo_id, path_or_fileobj=os.urandom(11 * 2**20), path_in_repo="later.bin",
                   create_pr=True)  # refs/pr/1: a revision the mirror has never seen
    listing = httpx.get(f"{pair.mirror.url}/api/models", params={"author": "up-alice"}).json()
    assert "up-alice/never-seen" in {m["id"] for m in listing}  # the upstream's namespace, not only the cache
    pair.upstream.stop()
    try:
        # the listing of the last sync
        assert httpx.get(f"{pair.mirror.url}/api/models", params={"author": "up-alice"}).json() == listing
        path = hf_hub_download(repo_id, "weights.bin", endpoint=pair.mirror.url, cache_dir=tmp_path / "off",
                               token=False)
        assert sha256_file(path) == sha256_file(folder / "weights.bin") and Path(path).parent.name == sha
        r = httpx.get(f"{pair.mirror.url}/api/models/up-alice/never-seen")
        assert r.status_code == 504 and r.headers["x-error-code"] == "UpstreamUnavailable"
        assert r.json()["error"]
        r = httpx.get(f"{pair.mirror.url}/{repo_id}/resolve/refs%2Fpr%2F1/later.bin")
        assert r.status_code == 504 and r.headers["x-error-code"] == "UpstreamUnavailable"
    finally:
        pair.upstream.start()
    path = hf_hub_download("up-alice/never-seen", "w.bin", endpoint=pair.mirror.url, cache_dir=tmp_path / "on",
                           token=False)
    assert Path(path).stat().st_size == 11 * 2**20


def test_datasets_and_parquet_through_the_mirror(pair: Pair, tmp_path: Path) -> None:
    from tests.conftest import eventually

    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    repo_id = "up-alice/mirrored-data"
    up.create_repo(repo_id, repo_type="dataset")
    rows = "\n".join(f"{i},name-{i}" for i in range(500))
    up.upload_file(repo_id=repo_id, repo_type="dataset", path_or_fileobj=f"id,name\n{rows}\n".encode(),
                   path_in_repo="data/train.csv")
    listing_url = f"/api/datasets/{repo_id}/parquet"
    assert eventually(lambda: httpx.get(pair.upstream.url + listing_url).status_code == 200, timeout=120)
    upstream_listing = httpx.get(pair.upstream.url + listing_url).json()
    # load_dataset through the mirror: the upstream's rows
    out = run_client(
        "import datasets\n"
        f"ds = datasets.load_dataset({repo_id!r}, split='train', cache_dir={str(tmp_path / 'ds')!r})\n"
        "print(len(ds), ds[7]['name'])\n",
        "", env={"HF_ENDPOINT": pair.mirror.url, "HF_HOME": str(tmp_path / "hf")})
    assert out.split()[-2:] == ["500", "name-7"], out
    # the parquet listing: the upstream's files, at the mirror's URLs, and the files download
    listing = httpx.get(pair.mirror.url + listing_url).json()
    assert [(f["config"], f["split"], f["size"]) for f in listing["parquet_files"]] == [
        (f["config"], f["split"], f["size"]) for f in upstream_listing["parquet_files"]]
    shard = listing["parquet_files"][0]
    assert shard["url"].startswith(pair.mirror.url)
    r = httpx.get(shard["url"], follow_redirects=True)
    up_bytes = httpx.get(upstream_listing["parquet_files"][0]["url"], follow_redirects=True).content
    assert r.status_code == 200 and r.content == up_bytes and r.content[:4] == b"PAR1"
    # the viewer's queries run at the mirror over the upstream's parquet files, and answer as the upstream's
    split = {"dataset": repo_id, "config": "default", "split": "train"}
    for route, params in (("rows", {"offset": "7", "length": "3"}), ("filter", {"where": "id > 495"}),
                          ("search", {"query": "name-42"}), ("first-rows", {}), ("statistics", {}), ("size", {}),
                          ("info", {})):
        mirrored = httpx.get(f"{pair.mirror.url}/viewer/{route}", params={**split, **params}, timeout=60)
        direct = httpx.get(f"{pair.upstream.url}/viewer/{route}", params={**split, **params}, timeout=60)
        assert mirrored.status_code == direct.status_code == 200, (route, mirrored.text)
        assert mirrored.json() == direct.json(), route
    rows = httpx.get(f"{pair.mirror.url}/viewer/filter", params={**split, "where": "id > 495"}).json()
    assert [r["row"]["name"] for r in rows["rows"]] == ["name-496", "name-497", "name-498", "name-499"]
    # access rules stay the upstream's: a private upstream dataset answers outsiders as missing
    up.create_repo("up-alice/private-data", repo_type="dataset", private=True)
    up.upload_file(repo_id="up-alice/private-data", repo_type="dataset", path_in_repo="data/train.csv",
                   path_or_fileobj=f"id,name\n{rows}\n".encode())
    r = httpx.get(f"{pair.mirror.url}/viewer/rows", params={**split, "dataset": "up-alice/private-data"})
    assert r.status_code in (401, 404) and r.headers["x-error-code"] == "RepoNotFound"
    r = httpx.get(f"{pair.mirror.url}/viewer/rows", params={**split, "dataset": "up-alice/private-data"},
                  headers={"Authorization": f"Bearer {pair.mirror.tokens['dave']}"})  # dave's upstream user: up-bob
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"


def test_cache_limit_evicts_least_recently_used_unpinned(pair: Pair, tmp_path: Path) -> None:
    up = HfApi(endpoint=pair.upstream.url, token=pair.upstream.tokens["up-alice"])
    blobs = {}
    for name in ("evict-a", "evict-b", "evict-c"):
        up.create_repo(f"up-alice/{name}")
        blobs[name] = os.urandom(11 * 2**20)
        up.upload_file(repo_id=f"up-alice/{name}", path_or_fileobj=blobs[name], path_in_repo="w.bin")
    small = make_hubd("mirror-small", extra_args=["--upstream-url", pair.upstream.url, "--mirror-cache-mib", "25",
                                                  "--mirror", "up-alice/*", "--mirror", "datasets/*"])
    local_alice = small.add_user("up-alice")  # a local account of the same name as the mirrored namespace
    small.start()
    try:
        # creating a local repo in a namespace a --mirror rule covers is refused; outside the rules, ids are
        # not mirrored at all
        r = httpx.post(f"{small.url}/api/repos/create", json={"name": "mine", "type": "model"},
                       headers={"Authorization": f"Bearer {local_alice}"})
        assert r.status_code == 403 and "mirrored" in r.headers["x-error-message"]
        # no keys configured: a user's upstream token is refused rather than stored in the clear
        r = httpx.put(f"{small.url}/api/settings/mirror/upstream-token", json={"token": "hf_x"},
                      headers={"Authorization": f"Bearer {local_alice}"})
        assert r.status_code == 400 and "upstream_token_keys" in r.headers["x-error-message"]
        r = httpx.get(f"{small.url}/api/models/gatedorg/secret-model")
        assert r.status_code == 401 and r.headers["x-error-code"] == "RepoNotFound"  # anonymous: 401, as the Hub
        out = small.cli("mirror", "pin", "up-alice/evict-a", "--upstream-url", pair.upstream.url)
        assert "1 files" in out.stdout
        for name in ("evict-b", "evict-c"):  # 33 MiB filled in all: over the limit after the third
            r = httpx.get(f"{small.url}/up-alice/{name}/resolve/main/w.bin", timeout=60)
            assert r.content == blobs[name]

        def cached() -> dict[str, int]:
            rows = small.cli("mirror", "status", "--json", "--upstream-url", pair.upstream.url).stdout
            return {json.loads(x)["id"]: json.loads(x)["cached_bytes"] for x in rows.splitlines()}

        sizes = cached()
        # the pinned snapshot stays; the least recently used unpinned object went
        assert sizes["up-alice/evict-a"] == 11 * 2**20 and sizes["up-alice/evict-b"] == 0, sizes
        assert sizes["up-alice/evict-c"] == 11 * 2**20
        assert small.stored_bytes("lfs/") <= 25 * 2**20
        mark = pair.log_mark()
        r = httpx.get(f"{small.url}/up-alice/evict-b/resolve/main/w.bin", timeout=60)
        assert r.content == blobs["evict-b"]  # evicted content fills again from the upstream
        assert any(p.endswith("/objects/batch") for p in pair.upstream_requests(mark))
    finally:
        small.stop()

"""hubd gc deletes what nothing reaches, never what a reachable file (LFS or Xet) still needs."""

from __future__ import annotations

import io
import os
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download

from tests.conftest import make_hubd


def test_gc_keeps_reachable_and_shared_content(tmp_path: Path) -> None:
    server = make_hubd("gc")
    token = server.add_user("gus")
    server.start()
    try:
        api = HfApi(endpoint=server.url, token=token)
        shared = tmp_path / "shared.bin"
        shared.write_bytes(os.urandom(20 * 2**20))
        lfs_bytes = os.urandom(11 * 2**20)
        for repo in ("gus/keep", "gus/drop"):
            api.create_repo(repo)
            api.upload_file(path_or_fileobj=str(shared), path_in_repo="shared.bin", repo_id=repo)  # Xet
        api.upload_file(path_or_fileobj=io.BytesIO(lfs_bytes), path_in_repo="lfs.bin", repo_id="gus/drop")  # LFS
        api.upload_file(path_or_fileobj=io.BytesIO(os.urandom(11 * 2**20)), path_in_repo="lfs.bin",
                        repo_id="gus/keep")
        api.delete_repo("gus/drop")

        young = server.cli("gc")  # default grace period: everything is too young to go
        assert "deleted 0 unreferenced" in young.stdout
        dry = server.cli("gc", "--grace-hours", "0", "--dry-run")
        assert "would delete" in dry.stdout and "would delete 0 " not in dry.stdout
        done = server.cli("gc", "--grace-hours", "0")
        deleted = int(done.stdout.split("deleted ")[1].split(" ")[0])
        assert deleted > 0
        dropped_oid = __import__("hashlib").sha256(lfs_bytes).hexdigest()
        assert not [k for k in server.blobs().iter_keys("lfs/") if k.endswith(dropped_oid)]
        again = server.cli("gc", "--grace-hours", "0")
        assert "deleted 0 unreferenced" in again.stdout
        assert server.cli("fsck", check=False).returncode == 0
        for name in ("shared.bin", "lfs.bin"):
            got = hf_hub_download("gus/keep", name, cache_dir=tmp_path / "c", endpoint=server.url, token=token)
            assert Path(got).stat().st_size > 10 * 2**20
        assert Path(hf_hub_download("gus/keep", "shared.bin", cache_dir=tmp_path / "c2", endpoint=server.url,
                                    token=token)).read_bytes() == shared.read_bytes()
    finally:
        server.stop()

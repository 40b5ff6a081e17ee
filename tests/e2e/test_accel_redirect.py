"""Behind nginx with --accel-redirect: hubd decides access and the headers, nginx sends the stored file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download

from tests.backends import BACKEND
from tests.conftest import free_port, make_hubd

PREFIX = "/_hubd_storage/"

# The snippet a deployment puts in its server block (docs: the report of issue 15). nginx keeps a few of
# hubd's headers across the internal redirect itself (Content-Disposition, Cache-Control); the Hub's own
# come from hubd's answer ($upstream_http_*), and nginx's ETag would be its mtime-size, not the Hub's.
NGINX_CONF = """\
daemon off;
worker_processes 1;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://127.0.0.1:{hubd_port};
            proxy_set_header Host $http_host;
            proxy_request_buffering off;
            proxy_buffering off;
        }}
        location {prefix} {{
            internal;
            alias {storage}/;
            sendfile on;
            etag off;
            add_header ETag $upstream_http_etag;
            add_header X-Repo-Commit $upstream_http_x_repo_commit;
            add_header X-Linked-Etag $upstream_http_x_linked_etag;
            add_header X-Linked-Size $upstream_http_x_linked_size;
            add_header X-Xet-Hash $upstream_http_x_xet_hash;
            add_header Access-Control-Expose-Headers $upstream_http_access_control_expose_headers;
            add_header X-Request-Id $upstream_http_x_request_id;
        }}
    }}
}}
"""

pytestmark = pytest.mark.skipif(BACKEND != "sqlite",
                                reason="other backend: X-Accel-Redirect serves local storage (the SQLite + disk pass)")


def _wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    raise RuntimeError("nginx did not start")


@pytest.fixture(scope="module")
def behind_nginx() -> Iterator[tuple[str, str, Path]]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = make_hubd("accel", extra_args=["--accel-redirect", PREFIX, "--public-url", url])
    server.add_user("alice")
    server.start()
    root = server.data_dir.parent / "nginx"
    root.mkdir()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port, hubd_port=server.port, prefix=PREFIX,
                                      storage=server.data_dir / "storage",
                                      user="user root;" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([nginx, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")])
    try:
        _wait_port(port, proc)
        yield url, server.tokens["alice"], server.data_dir
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def _lfs_upload(url: str, token: str, repo_id: str, path: str, data: bytes) -> str:
    """Through the LFS batch API (basic transfer), so the bytes are one object in storage/lfs (the client's
    default upload would keep them in Xet); returns the commit sha."""
    auth = {"authorization": f"Bearer {token}"}
    oid = hashlib.sha256(data).hexdigest()
    batch = httpx.post(f"{url}/{repo_id}.git/info/lfs/objects/batch", headers=auth, json={
        "operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
        "objects": [{"oid": oid, "size": len(data)}]}).json()
    upload = batch["objects"][0].get("actions", {}).get("upload")
    if upload:
        assert httpx.put(upload["href"], content=data, headers=upload.get("header", {}), timeout=60).is_success
    lines = [{"key": "header", "value": {"summary": f"add {path}"}},
             {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": len(data)}}]
    r = httpx.post(f"{url}/api/models/{repo_id}/commit/main", content="".join(json.dumps(x) + "\n" for x in lines),
                   headers={**auth, "content-type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    return str(r.json()["commitOid"])


def test_downloads_through_nginx(behind_nginx: tuple[str, str, Path], tmp_path: Path) -> None:
    url, token, _data = behind_nginx
    api = HfApi(endpoint=url, token=token)
    api.create_repo("alice/served")
    big = os.urandom(3 * 2**20)
    _lfs_upload(url, token, "alice/served", "big.bin", big)
    medium = os.urandom(100_000).hex().encode()  # a regular file, too big for the small-file memory cache
    api.upload_file(path_or_fileobj=medium, path_in_repo="medium.txt", repo_id="alice/served")
    sha = api.upload_file(path_or_fileobj=b"small text", path_in_repo="small.txt", repo_id="alice/served").oid

    got = hf_hub_download("alice/served", "big.bin", endpoint=url, token=token, cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == big

    r = httpx.get(f"{url}/alice/served/resolve/main/big.bin", headers={"authorization": f"Bearer {token}"})
    oid = hashlib.sha256(big).hexdigest()
    assert r.status_code == 200 and r.content == big
    assert "x-accel-redirect" not in r.headers  # nginx acted on it
    assert r.headers["x-repo-commit"] == sha
    assert r.headers["etag"] == f'"{oid}"' and r.headers["x-linked-etag"] == f'"{oid}"'
    assert r.headers["x-linked-size"] == str(len(big))
    assert r.headers["content-disposition"] == "inline; filename*=UTF-8''big.bin"
    assert r.headers["cache-control"] == "public, max-age=0"
    assert r.headers["accept-ranges"] == "bytes"

    ranged = httpx.get(f"{url}/alice/served/resolve/{sha}/big.bin",
                       headers={"authorization": f"Bearer {token}", "range": "bytes=1000-1999"})
    assert (ranged.status_code, ranged.content) == (206, big[1000:2000])
    assert ranged.headers["content-range"] == f"bytes 1000-1999/{len(big)}"

    raw = httpx.get(f"{url}/alice/served/raw/{sha}/big.bin", headers={"authorization": f"Bearer {token}"})
    assert raw.status_code == 200 and raw.content.startswith(b"version https://git-lfs.github.com/spec/v1")

    got = hf_hub_download("alice/served", "medium.txt", endpoint=url, token=token, cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == medium
    r = httpx.get(f"{url}/alice/served/resolve/{sha}/medium.txt")
    assert r.content == medium and r.headers["x-repo-commit"] == sha and "x-accel-redirect" not in r.headers

    small = httpx.get(f"{url}/alice/served/resolve/{sha}/small.txt")
    assert small.content == b"small text" and small.headers["x-repo-commit"] == sha


def test_access_is_still_decided_by_hubd(behind_nginx: tuple[str, str, Path]) -> None:
    url, token, data = behind_nginx
    api = HfApi(endpoint=url, token=token)
    api.create_repo("alice/closed", private=True)
    content = os.urandom(2**20)
    _lfs_upload(url, token, "alice/closed", "w.bin", content)
    oid = hashlib.sha256(content).hexdigest()
    r = httpx.get(f"{url}/alice/closed/resolve/main/w.bin")
    assert (r.status_code, r.headers.get("x-error-code")) == (401, "RepoNotFound")
    assert r.content != content
    # the internal location answers only hubd's redirects, never a client asking for it
    direct = httpx.get(f"{url}{PREFIX}lfs/{oid[:2]}/{oid[2:4]}/{oid}")
    assert direct.status_code == 404
    assert (data / "storage" / "lfs" / oid[:2] / oid[2:4] / oid).exists()
    assert httpx.get(f"{url}/alice/closed/resolve/main/w.bin",
                     headers={"authorization": f"Bearer {token}"}).content == content

"""Where a test hubd keeps its data: SQLite + a local dir (default), or PostgreSQL + SeaweedFS (S3)
when HUBD_TEST_BACKEND=postgres-s3. Both are real servers; nothing is mocked."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BACKEND = os.environ.get("HUBD_TEST_BACKEND", "sqlite")
PG_ADMIN_URL = os.environ.get("HUBD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BIN = Path(sys.executable).parent


def _port_pair() -> int:
    """A free port whose +10000 neighbour (SeaweedFS's gRPC port) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 < 65535:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port pair")


class SeaweedFS:
    """A real `weed server` with its S3 gateway, one per test session."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hubd-weed-"))
        self.s3_port = _port_pair()
        ports = [_port_pair() for _ in range(3)]
        self.args = [str(BIN / "weed"), "server", f"-dir={self.dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                     f"-master.port={ports[0]}", f"-volume.port={ports[1]}", f"-filer.port={ports[2]}",
                     "-s3", f"-s3.port={self.s3_port}", "-s3.port.iceberg=0", "-s3.port.lance=0",
                     "-volume.max=0", "-master.volumeSizeLimitMB=1024"]
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> None:
        with open(self.dir / "weed.log", "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id="hubd", aws_secret_access_key="hubd")
        deadline = time.time() + 90
        while True:
            try:  # ready means writable: after a restart the volume servers register some time later
                if "hubd-probe" not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                    client.create_bucket(Bucket="hubd-probe")
                client.put_object(Bucket="hubd-probe", Key="probe", Body=b"ok")
                assert client.get_object(Bucket="hubd-probe", Key="probe")["Body"].read() == b"ok"
                return
            except Exception:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("SeaweedFS did not start") from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


_weed: SeaweedFS | None = None
_databases: list[str] = []


def seaweed() -> SeaweedFS:
    global _weed
    if _weed is None:
        _weed = SeaweedFS()
        atexit.register(_weed.cleanup)  # before start: a SeaweedFS that fails to start leaves its dir too
        _weed.start()
        os.environ.update({"AWS_ENDPOINT_URL": _weed.endpoint, "AWS_ACCESS_KEY_ID": "hubd",
                           "AWS_SECRET_ACCESS_KEY": "hubd", "AWS_DEFAULT_REGION": "us-east-1"})
    return _weed


def new_database() -> str:
    import psycopg

    name = f"hubd_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _databases.append(name)
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@atexit.register
def _drop_databases() -> None:
    if not _databases:
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in _databases:
            with contextlib.suppress(psycopg.Error):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def store_args(data_dir: Path) -> list[str]:
    """The --data-dir/--database-url/--storage-url every hubd command of one test hub shares."""
    args = ["--data-dir", str(data_dir)]
    if BACKEND == "postgres-s3":
        seaweed()
        # one bucket, a prefix per hub: SeaweedFS gives every bucket volumes of its own
        args += ["--database-url", new_database(), "--storage-url", f"s3://hubd-tests/{uuid.uuid4().hex[:12]}"]
    elif BACKEND != "sqlite":
        raise RuntimeError(f"unknown HUBD_TEST_BACKEND {BACKEND!r}: sqlite or postgres-s3")
    return args

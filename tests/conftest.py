"""A real hubd on a free port, driven by the official clients. The client reads HF_ENDPOINT at import
time, so the port is chosen and the environment set before any test module imports huggingface_hub."""

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends import store_args

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_WORK = Path(tempfile.mkdtemp(prefix="hubd-tests-"))
# Every test hub, client cache and server log of the session is under _WORK (hundreds of MB after a run):
# removed when the session ends, unless HUBD_KEEP_TEST_DATA=1 asks to keep it for a post-mortem.
if not os.environ.get("HUBD_KEEP_TEST_DATA"):
    atexit.register(shutil.rmtree, _WORK, ignore_errors=True)
_PORT = free_port()
os.environ.update({
    "HF_ENDPOINT": f"http://127.0.0.1:{_PORT}",
    "HF_HOME": str(_WORK / "hf-home"),
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_XET_CACHE": str(_WORK / "xet-cache"),
})
os.environ.pop("HF_TOKEN", None)


@dataclass
class Hubd:
    """One hubd process over one hub (data dir, or database + bucket), and the accounts made for the tests."""

    data_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    store: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    _accounts: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "hubd"), *args, *self.store], capture_output=True, text=True, check=check)

    def blobs(self):  # type: ignore[no-untyped-def]
        """hubd's own BlobStore over this hub's storage, to look at what was stored."""
        from hubd.config import load_settings
        from hubd.storage.blobstore import open_blobstore

        opts = dict(zip(self.store[::2], self.store[1::2], strict=True))
        settings = load_settings({"data_dir": opts["--data-dir"], "storage_url": opts.get("--storage-url")})
        return open_blobstore(settings.blob_url)

    def stored_bytes(self, prefix: str) -> int:
        blobs = self.blobs()
        return sum(blobs.stat(k) for k in blobs.iter_keys(prefix))

    def start(self) -> None:
        with open(self.data_dir.parent / f"hubd-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "hubd"), "serve", "--port", str(self.port), *self.store, *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.time() + 120  # a loaded CI machine (two passes side by side) starts slowly
        while time.time() < deadline:
            try:
                httpx.get(f"{self.url}/api/agent-harnesses", timeout=1)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError("hubd exited at start") from None
                time.sleep(0.1)
        raise RuntimeError("hubd did not start")

    def stop(self, sig: int | None = None) -> None:
        if self._accounts is not None:  # its database connections: PostgreSQL has a hundred for all
            self._accounts.db.dispose()
            self._accounts = None
        if self.proc is None:
            return
        if sig is None:
            self.proc.terminate()
        else:
            # granian runs the app in worker processes: a crash test must hit them too.
            _kill_tree(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _kill_tree(self.proc.pid, 9)
            self.proc.wait()
        self.proc = None

    def accounts(self):  # type: ignore[no-untyped-def]
        """hubd's own Accounts over this hub's database, in the test process: test users are made here, not by
        two `hubd` commands each (1.6 s of CPU a command, a few hundred commands a pass; test_cli.py tests
        the commands). Closed with the server."""
        if self._accounts is None:
            from hubd.config import load_settings
            from hubd.db.engine import Database
            from hubd.hub.accounts import Accounts

            opts = dict(zip(self.store[::2], self.store[1::2], strict=True))
            settings = load_settings({"data_dir": opts["--data-dir"], "database_url": opts.get("--database-url"),
                                      "storage_url": opts.get("--storage-url")})
            db = Database(settings.db_url)
            db.create_schema()
            self._accounts = Accounts(db)
        return self._accounts

    def add_user(self, name: str, role: str = "write") -> str:
        accounts = self.accounts()
        accounts.add_user(name, email=f"{name}@example.org")
        token = accounts.add_token(name, role)
        self.tokens[name] = token
        return token


def _kill_tree(pid: int, sig: int) -> None:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for child in children:
        _kill_tree(int(child), sig)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def make_hubd(name: str, port: int | None = None, extra_args: list[str] | None = None) -> Hubd:
    data = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=_WORK)) / "data"
    data.mkdir()
    return Hubd(data, port or free_port(), extra_args or [], store_args(data))


@contextlib.contextmanager
def running_hubd(name: str, *users: str, extra_args: list[str] | None = None) -> Iterator[Hubd]:
    """A hubd of its own with these users (each with a write token), stopped at the end: for tests whose
    measurements (worker memory, jobs) must be theirs alone."""
    server = make_hubd(name, extra_args=extra_args)
    for user in users:
        server.add_user(user)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hubd() -> Iterator[Hubd]:
    """The shared server. Multipart LFS starts at 100 MiB so the 200 MB test goes through it."""
    server = make_hubd("main", _PORT, ["--lfs-multipart-threshold", str(100 * 2**20),
                                       "--lfs-chunk-size", str(64 * 2**20)])
    server.add_user("alice")
    server.add_user("bob")
    server.tokens["alice-read"] = server.accounts().add_token("alice", "read")
    server.accounts().add_org("acme")
    server.accounts().add_member("acme", "alice", "admin")
    server.start()
    yield server
    server.stop()
    report = server.cli("fsck", check=False)
    assert report.returncode == 0, report.stdout  # the whole suite leaves a consistent hub behind


@pytest.fixture(scope="session")
def alice(hubd: Hubd):  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi

    return HfApi(token=hubd.tokens["alice"])


@pytest.fixture(scope="session")
def bob(hubd: Hubd):  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi

    return HfApi(token=hubd.tokens["bob"])


@pytest.fixture
def anon(hubd: Hubd):  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi

    return HfApi(token=False)


_counter = iter(range(10**6))


@pytest.fixture
def repo_name() -> str:
    return f"r{next(_counter)}-{os.getpid()}"


def run_client(code: str, token: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run client code in a fresh interpreter (for settings the client reads at import, like HF_HUB_DISABLE_XET)."""
    full_env = {**os.environ, "HF_TOKEN": token, **(env or {})}
    proc = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, cwd=cwd,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def run_hf(args: list[str], token: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_TOKEN": token}
    return subprocess.run([str(BIN / "hf"), *args], env=env, capture_output=True, text=True, cwd=cwd, timeout=600)


def eventually(check, timeout: float = 30.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Retry `check` until it returns a truthy value: for what hubd's background jobs derive."""
    deadline = time.time() + timeout
    while True:
        result = check()
        if result or time.time() > deadline:
            return result
        time.sleep(interval)


def sha256_file(path: str | Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * 2**20):
            h.update(chunk)
    return h.hexdigest()


OTHER_BACKEND = "other backend:"  # the reason of the only skips CI accepts: a test that runs in the other pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """In CI (CI=true) a missing prerequisite (chromium, git-lfs, npm packages, root for a mount) is a
    failure, not a skip: a skipped test must never hide that something did not run."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") != "true" or not report.skipped or hasattr(report, "wasxfail"):
        return  # an expected failure (xfail) is reported as skipped too: it stays what it is
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if OTHER_BACKEND not in reason:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run everything: {reason}"


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """The browser tests drive pages, whatever stores the hub: run once (the `once` marker)."""
    web = Path(__file__).parent / "web"
    for item in items:
        if web in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.once)


def repo_jobs(server: Hubd, repo_id: str, kind: str) -> list[dict]:
    """The jobs of one kind of a repo (derive, parquet), read from hubd's own database: state, attempts and
    last error, for tests that check a hostile input was recorded rather than retried."""
    from sqlalchemy import select

    from hubd.config import load_settings
    from hubd.db.engine import Database
    from hubd.db.schema import jobs, repos

    opts = dict(zip(server.store[::2], server.store[1::2], strict=True))
    settings = load_settings({"data_dir": opts["--data-dir"], "database_url": opts.get("--database-url")})
    db = Database(settings.db_url)
    namespace, name = repo_id.split("/")
    try:
        with db.read() as conn:
            rows = conn.execute(
                select(jobs.c.state, jobs.c.attempts, jobs.c.last_error)
                .join(repos, repos.c.id == jobs.c.repo_id)
                .where((jobs.c.kind == kind) & (repos.c.namespace == namespace) & (repos.c.name == name))
            ).mappings().all()
        return [dict(r) for r in rows]
    finally:
        db.engine.dispose()

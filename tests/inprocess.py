"""hubd in the test process: the real app (router, domain, SQLite or PostgreSQL, local disk or SeaweedFS)
behind Starlette's TestClient, which speaks ASGI directly — no port, no subprocess, no client library.
For API behaviour (status codes, error shapes, JSON) where the official clients add nothing; what the
clients see stays tested end to end in tests/e2e (datasette's `ds.client` pattern)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from starlette.testclient import TestClient

from hubd.app import HubApp
from hubd.config import load_settings
from hubd.hub.service import Hub
from tests.backends import store_args


@dataclass
class InProcessHub:
    app: HubApp
    client: TestClient
    tokens: dict[str, str]

    @property
    def hub(self) -> Hub:
        assert self.app.hub is not None, "the app's lifespan opened the hub"
        return self.app.hub

    def add_user(self, name: str, role: str = "write") -> str:
        self.hub.accounts.add_user(name, email=f"{name}@example.org")
        self.tokens[name] = self.hub.accounts.add_token(name, role)
        return self.tokens[name]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def _store_overrides(data_dir: Path) -> dict[str, object]:
    """The same backend the rest of the pass uses (HUBD_TEST_BACKEND), read from the CLI arguments
    tests/backends.py gives a subprocess hubd."""
    args = store_args(data_dir)
    overrides: dict[str, object] = {}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        overrides[flag.lstrip("-").replace("-", "_")] = value
    return overrides


@contextlib.contextmanager
def inprocess_hub(tmp_path: Path, **settings: object) -> Iterator[InProcessHub]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    values = {"data_dir": str(data_dir), "public_url": "http://hub.test", **_store_overrides(data_dir), **settings}
    app = HubApp(load_settings(values, env={}))
    with TestClient(app, base_url="http://hub.test", raise_server_exceptions=False) as client:
        yield InProcessHub(app, client, {})

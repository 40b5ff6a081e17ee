"""Browser tests: Debian's chromium driven by Playwright (never `playwright install`), against a real hubd."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, Hubd

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).parent / "screenshots"


def set_password(server: Hubd, name: str, password: str = PASSWORD) -> None:
    subprocess.run([str(BIN / "hubd"), "users", "passwd", name, *server.store], input=password + "\n", text=True,
                   check=True, capture_output=True)


@pytest.fixture(scope="session")
def browser() -> Iterator:  # type: ignore[type-arg]
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def web(hubd: Hubd) -> Hubd:
    """The shared hubd, with web passwords for alice (admin of acme) and bob."""
    for name in ("alice", "bob"):
        set_password(hubd, name)
    return hubd


class Tab:
    """A page in a fresh browser context that records console errors and uncaught exceptions."""

    def __init__(self, browser, base: str) -> None:  # type: ignore[no-untyped-def]
        self.context = browser.new_context(base_url=base, viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.base = base
        # errors of hubd's pages only (the OIDC provider's own login page is not ours to judge)
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text} ({self.page.url})")
                     if m.type == "error" and self.page.url.startswith(base) else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}")
                     if self.page.url.startswith(base) else None)

    def goto(self, path: str):  # type: ignore[no-untyped-def]
        return self.page.goto(self.base + path)

    def login(self, user: str, password: str = PASSWORD) -> None:
        self.goto("/login")
        self.page.get_by_label("Username").fill(user)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser, web: Hubd) -> Iterator[Tab]:  # type: ignore[no-untyped-def]
    t = Tab(browser, web.url)
    yield t
    t.close()


def signed_in_client(server: Hubd, user: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """An httpx client with `user`'s session cookie, and the session's CSRF token (to forge forms with)."""
    import re

    import httpx

    c = httpx.Client(base_url=server.url, timeout=60)
    c.get("/login")
    r = c.post("/login", data={"username": user, "password": password, "csrf_token": c.cookies["hubd_csrf"]})
    assert r.status_code == 303 and "hubd_session" in c.cookies, r.text[:300]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/settings/tokens").text)
    assert csrf
    return c, csrf.group(1)

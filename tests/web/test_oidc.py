"""Single sign-on through a real OpenID Connect provider on loopback (node-oidc-provider, from npm)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, make_hubd
from tests.web.conftest import Tab

NODE = Path(__file__).resolve().parents[2] / "node"  # the npm project: node_modules and the provider script


@pytest.fixture(scope="module")
def sso() -> Iterator:  # type: ignore[type-arg]
    if not (NODE / "node_modules" / "oidc-provider").exists() or shutil.which("node") is None:
        pytest.skip("run `npm ci` in node/ for the OpenID Connect provider")
    port = free_port()
    server = make_hubd("sso")
    issuer = f"http://127.0.0.1:{port}"
    provider = subprocess.Popen(["node", str(NODE / "oidc_provider.mjs"), str(port), "hubd", "s3cret-for-tests",
                                 f"{server.url}/oauth/oidc/callback"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    try:
        assert provider.stdout is not None
        lines = [provider.stdout.readline().strip() for _ in range(1)]
        while lines[-1] != "ready" and len(lines) < 20 and provider.poll() is None:  # runtime warnings first
            lines.append(provider.stdout.readline().strip())
        assert lines[-1] == "ready", lines
        server.extra_args = ["--oidc-issuer", issuer, "--oidc-client-id", "hubd", "--oidc-client-secret",
                             "s3cret-for-tests", "--oidc-group-roles", "ml-team=mlorg:write"]
        server.cli("orgs", "add", "mlorg")
        server.start()
        yield server
    finally:
        server.stop()
        provider.terminate()
        provider.wait(timeout=10)


def _sign_in_with_sso(tab: Tab, login: str) -> None:
    page = tab.page
    tab.goto("/login?next=/settings/tokens")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything")
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    if "/settings/tokens" not in page.url:  # the provider asks for consent the first time
        page.locator("button[type=submit]").click()
    page.wait_for_url("**/settings/tokens")


def test_sign_in_through_the_oidc_provider(browser, sso) -> None:  # type: ignore[no-untyped-def]
    tab = Tab(browser, sso.url)
    try:
        _sign_in_with_sso(tab, "carol")
        assert tab.page.get_by_role("heading", name="Access tokens").is_visible()
        assert tab.page.get_by_role("link", name="carol", exact=True).is_visible()  # created at first sign-in
        users = sso.cli("users", "list").stdout
        assert "carol\tcarol@corp.example" in users
        # the groups claim gave carol the mapped role in the org
        tab.goto("/mlorg")
        assert tab.page.locator("aside li", has_text="carol").locator(".badge").inner_text() == "write"
        tab.shot("oidc-signed-in")
        assert tab.errors == []
    finally:
        tab.close()
    # a second sign-in finds the same account (by issuer and subject), no new one
    tab = Tab(browser, sso.url)
    try:
        _sign_in_with_sso(tab, "carol")
        assert [u.split("\t")[0] for u in sso.cli("users", "list").stdout.splitlines()] == ["carol"]
    finally:
        tab.close()


def test_oidc_callback_refuses_forged_answers(sso) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=sso.url) as c:
        before = sso.cli("users", "list").stdout
        r = c.get("/oauth/oidc/callback", params={"code": "forged", "state": "forged"})
        assert r.status_code == 400  # no flow cookie: nothing was started here
        start = c.get("/oauth/oidc/login")
        assert start.status_code == 303 and "code_challenge_method=S256" in start.headers["location"]
        r = c.get("/oauth/oidc/callback", params={"code": "forged", "state": "not-the-state"})
        assert r.status_code == 400
        time.sleep(0.1)
        assert sso.cli("users", "list").stdout == before

"""Repo pages in a real browser: card, files, blob, history, diff; private = missing; sign-in; tokens; CSRF."""

from __future__ import annotations

import re

import httpx
import pytest
from huggingface_hub import HfApi

from tests.conftest import eventually, running_hubd
from tests.web.conftest import PASSWORD, Tab, set_password

CARD = b"""---
license: apache-2.0
tags: [vision, web-test]
datasets: [acme/pets]
model-index:
- name: tiny
  results:
  - task: {type: image-classification, name: Image Classification}
    dataset: {type: pets, name: Pets}
    metrics:
    - {type: accuracy, name: Accuracy, value: 0.931}
---
# Tiny model

Some **bold** words and `code`.
"""


@pytest.fixture(scope="module")
def model(web, alice: HfApi) -> str:  # type: ignore[no-untyped-def]
    repo_id = "alice/web-model"
    alice.create_repo(repo_id, exist_ok=True)
    alice.upload_file(path_or_fileobj=CARD, path_in_repo="README.md", repo_id=repo_id)
    alice.upload_file(path_or_fileobj=b"def hello():\n    return 'hi'\n", path_in_repo="src/hello.py", repo_id=repo_id,
                      commit_message="Add hello")
    alice.upload_file(path_or_fileobj=b"def hello():\n    return 'hello'\n", path_in_repo="src/hello.py",
                      repo_id=repo_id, commit_message="Say hello")
    alice.upload_file(path_or_fileobj=bytes(range(256)) * 4, path_in_repo="table.xyz", repo_id=repo_id)
    return repo_id


def test_repo_page_card_files_blob_commits_diff(tab: Tab, model: str) -> None:
    page = tab.page
    tab.goto(f"/{model}")
    assert page.get_by_role("heading", name="Tiny model").is_visible()
    assert page.locator(".markdown strong").inner_text() == "bold"
    assert page.locator("ul.tags").get_by_text("web-test").is_visible()
    assert "apache-2.0" in page.locator("aside").inner_text()
    assert page.locator("table.grid td", has_text="0.931").count() == 1  # model-index results as a table
    assert f'from_pretrained("{model}")' in page.locator("aside").inner_text()
    assert tab.base in page.locator("aside").inner_text()  # snippets name this hub
    tab.shot("repo")

    page.get_by_role("link", name="Files").click()
    rows = page.locator("table.files tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert names[0] == "src/" and "README.md" in names and "table.xyz" in names
    assert page.locator("table.files tr", has_text="src/").get_by_text("Say hello").is_visible()  # last commit
    tab.shot("tree")
    page.get_by_role("link", name="src/").click()
    page.get_by_role("link", name="hello.py").click()
    assert page.locator(".code .hl").count() == 1  # highlighted
    assert "return 'hello'" in page.locator(".code").inner_text()
    tab.shot("blob")
    tab.goto(f"/{model}/blob/main/table.xyz")
    assert "binary" in page.locator(".notice").inner_text()

    tab.goto(f"/{model}/commits/main")
    page.get_by_role("link", name="Say hello").click()
    assert page.locator(".diff .del").inner_text().strip() == "-    return 'hi'"
    assert page.locator(".diff .add").inner_text().strip() == "+    return 'hello'"
    tab.shot("commit")
    assert tab.errors == []


def test_private_repo_is_the_404_page_for_others(tab: Tab, web, alice: HfApi) -> None:  # type: ignore[no-untyped-def]
    alice.create_repo("alice/web-secret", private=True, exist_ok=True)
    texts = {}
    for who in (None, "bob"):
        t = Tab(tab.page.context.browser, web.url)
        if who:
            t.login(who)
        for path in ("/alice/web-secret", "/alice/web-missing", "/alice/web-secret/tree/main",
                     "/alice/web-secret/commits/main"):
            response = t.goto(path)
            assert response.status == 404
            texts[(who, path)] = t.page.locator("main").inner_text()
        t.close()
    assert texts[(None, "/alice/web-secret")] == texts[(None, "/alice/web-missing")]
    assert texts[("bob", "/alice/web-secret")] == texts[("bob", "/alice/web-missing")]
    tab.login("alice")
    assert tab.goto("/alice/web-secret").status == 200
    assert tab.page.locator(".badge", has_text="private").is_visible()


def test_sign_in_out_and_wrong_password(tab: Tab) -> None:
    page = tab.page
    tab.login("alice", "not the password")
    assert page.get_by_role("alert").inner_text() == "Wrong username or password"
    tab.login("alice")
    assert page.get_by_role("link", name="alice", exact=True).is_visible()
    cookie = next(c for c in tab.context.cookies() if c["name"] == "hubd_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    tab.goto("/logout")  # a GET only asks: still signed in
    assert page.get_by_role("link", name="alice", exact=True).is_visible()
    assert page.get_by_role("button", name="Sign out of hubd").is_visible()
    page.get_by_role("button", name="Sign out", exact=True).click()  # the header's form
    assert page.get_by_role("link", name="Sign in").is_visible()
    assert tab.goto("/logout").url == tab.base + "/"  # nobody to sign out: home
    # a signed-out cookie is dead on the server too, not only forgotten by this browser
    r = httpx.get(tab.base + "/settings/tokens", cookies={"hubd_session": cookie["value"]})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_login_throttled_per_account(web) -> None:  # type: ignore[no-untyped-def]
    web.cli("users", "add", "throttled")
    set_password(web, "throttled")
    with httpx.Client(base_url=web.url) as c:
        c.get("/login")
        csrf = c.cookies["hubd_csrf"]
        statuses = [c.post("/login", data={"username": "throttled", "password": "wrong-password",
                                           "csrf_token": csrf}).status_code for _ in range(11)]
        assert statuses[:10] == [401] * 10 and statuses[10] == 429
        # the right password is refused too while the account is throttled: guessing gains nothing
        r = c.post("/login", data={"username": "throttled", "password": PASSWORD, "csrf_token": csrf})
        assert r.status_code == 429 and "hubd_session" not in r.cookies


def test_forms_need_their_csrf_token(web, tab: Tab) -> None:  # type: ignore[no-untyped-def]
    tab.login("bob")
    cookie = next(c for c in tab.context.cookies() if c["name"] == "hubd_session")["value"]
    before = web.cli("tokens", "list", "--user", "bob").stdout
    r = httpx.post(web.url + "/settings/tokens", cookies={"hubd_session": cookie},
                   data={"action": "create", "name": "csrf", "role": "write"})
    assert r.status_code == 403
    assert web.cli("tokens", "list", "--user", "bob").stdout == before  # nothing changed
    # the API takes the session cookie as the Hub does: reads always, writes only with X-CSRF-Token
    assert httpx.get(web.url + "/api/whoami-v2", cookies={"hubd_session": cookie}).json()["name"] == "bob"
    r = httpx.post(web.url + "/api/repos/create", cookies={"hubd_session": cookie}, json={"name": "csrf-repo"})
    assert r.status_code == 401


def test_tokens_page_create_use_revoke(tab: Tab, web) -> None:  # type: ignore[no-untyped-def]
    page = tab.page
    tab.login("bob")
    tab.goto("/settings/tokens")
    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Role").select_option("write")
    page.get_by_label("Expires").select_option("30")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-secret").inner_text().strip()
    assert re.fullmatch(r"hf_[A-Za-z0-9]{30,}", secret)
    tab.shot("tokens")
    assert HfApi(token=secret).whoami()["name"] == "bob"
    HfApi(token=secret).create_repo("bob/made-with-web-token", exist_ok=True)
    tab.goto("/settings/tokens")
    assert secret not in page.content()  # shown once only
    row = page.locator("table.grid tr", has_text="laptop")
    assert row.locator("td").nth(1).inner_text() == "write" and "UTC" in row.locator("td").nth(3).inner_text()
    assert row.locator("td").nth(4).inner_text() != "—"  # used by the client above
    page.get_by_role("button", name="Revoke laptop").click()
    assert eventually(lambda: httpx.get(web.url + "/api/whoami-v2",
                                        headers={"authorization": f"Bearer {secret}"}).status_code == 401)
    assert tab.errors == []


def test_session_cookie_is_secure_behind_https(web) -> None:  # type: ignore[no-untyped-def]
    """With an https public URL (hubd behind a TLS proxy) the session and pre-sign-in CSRF cookies are Secure."""
    with running_hubd("https-cookie", "carol", extra_args=["--public-url", "https://hub.example.org"]) as server:
        set_password(server, "carol")
        with httpx.Client(base_url=server.url) as c:
            first = c.get("/login")
            assert "secure" in first.headers["set-cookie"].lower()
            csrf = c.cookies["hubd_csrf"]  # a client sends a Secure cookie over https only: here by hand
            c.cookies.clear()
            r = c.post("/login", data={"username": "carol", "password": PASSWORD, "csrf_token": csrf},
                       headers={"cookie": f"hubd_csrf={csrf}"})
            assert r.status_code == 303
            cookie = r.headers["set-cookie"].lower()
            assert cookie.startswith("hubd_session=") and "secure" in cookie and "httponly" in cookie
            assert "samesite=lax" in cookie
    # and not over plain http, where a Secure cookie would never come back
    with httpx.Client(base_url=web.url) as c:
        assert "secure" not in c.get("/login").headers["set-cookie"].lower()


def test_login_throttled_per_address() -> None:
    """Guessing across many accounts from one address is throttled too (a hub of its own: the shared one's
    sign-ins all come from this address)."""
    with running_hubd("throttle-addr", "dana") as server:
        set_password(server, "dana")
        with httpx.Client(base_url=server.url) as c:
            c.get("/login")
            csrf = c.cookies["hubd_csrf"]
            statuses = [c.post("/login", data={"username": f"guess{i}", "password": "wrong-password",
                                               "csrf_token": csrf}).status_code for i in range(31)]
            assert statuses[:30] == [401] * 30 and statuses[30] == 429
            r = c.post("/login", data={"username": "dana", "password": PASSWORD, "csrf_token": csrf})
            assert r.status_code == 429 and "hubd_session" not in r.cookies


def test_login_throttled_per_forwarded_address_behind_a_trusted_proxy() -> None:
    """Behind a reverse proxy every sign-in comes from the proxy: with --trusted-proxies the throttle counts
    the address the proxy forwarded, and a client that is not a trusted proxy cannot choose its address."""
    with running_hubd("throttle-proxy", "erin", extra_args=["--trusted-proxies", "127.0.0.1"]) as server:
        set_password(server, "erin")
        with httpx.Client(base_url=server.url) as c:
            c.get("/login")
            csrf = c.cookies["hubd_csrf"]

            def guess(i: int, forwarded: str) -> int:
                return c.post("/login", data={"username": f"guess{i}", "password": "wrong-password",
                                              "csrf_token": csrf}, headers={"X-Forwarded-For": forwarded}).status_code

            statuses = [guess(i, f"198.51.100.{i % 7}, 203.0.113.7") for i in range(31)]
            assert statuses[:30] == [401] * 30 and statuses[30] == 429
            assert guess(99, "203.0.113.8") == 401  # another client behind the same proxy is not blocked
            r = c.post("/login", data={"username": "erin", "password": PASSWORD, "csrf_token": csrf},
                       headers={"X-Forwarded-For": "203.0.113.8"})
            assert r.status_code == 303 and "hubd_session" in r.cookies

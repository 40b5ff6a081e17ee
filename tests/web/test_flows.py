"""What people do on the pages: browse and search, like, create a repo and change its visibility, page a
dataset's viewer, administer, read the API reference."""

from __future__ import annotations

import io
import uuid

import httpx
from huggingface_hub import HfApi

from tests.conftest import eventually
from tests.web.conftest import Tab


def test_browse_search_and_like(tab: Tab, alice: HfApi) -> None:
    tag = f"t{uuid.uuid4().hex[:8]}"
    names = [f"alice/browse-{tag}-{i}" for i in range(3)]
    for name in names:
        alice.create_repo(name, exist_ok=True)
        alice.upload_file(path_or_fileobj=f"---\ntags: [{tag}]\n---\n# {name}\n".encode(), path_in_repo="README.md",
                          repo_id=name)
    page = tab.page
    tab.goto("/")
    page.get_by_label("Search models", exact=True).first.fill(f"browse-{tag}")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    found = page.locator("ul.list li strong").all_inner_texts()
    assert sorted(found) == sorted(names)
    tab.shot("listing")
    assert eventually(lambda: tab.goto(f"/models?tags={tag}") and
                      len(page.locator("ul.list li strong").all_inner_texts()) == 3)  # tags come from the derive job
    tab.goto("/models?author=nobody-at-all")
    assert page.get_by_text("Nothing matches.").is_visible()

    tab.login("bob")
    tab.goto(f"/{names[0]}")
    page.get_by_role("button", name="♡ Like").click()
    assert page.locator("#likes").inner_text() == "1"
    assert page.get_by_role("button", name="♥ Liked").get_attribute("aria-pressed") == "true"
    assert [u.username for u in alice.list_repo_likers(names[0])] == ["bob"]
    tab.goto("/")
    tab.shot("home")
    assert tab.errors == []


def test_create_repo_and_change_visibility(tab: Tab, web, bob: HfApi) -> None:  # type: ignore[no-untyped-def]
    name = f"made-on-web-{uuid.uuid4().hex[:6]}"
    page = tab.page
    tab.login("alice")
    tab.goto("/new")
    tab.shot("new")
    page.get_by_label("Model name").fill(name)
    page.get_by_role("button", name="Create model").click()
    page.wait_for_url(f"**/alice/{name}")
    assert HfApi(token=web.tokens["alice"]).repo_info(f"alice/{name}").private is False
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Private").check()
    page.get_by_role("button", name="Save visibility").click()
    assert page.get_by_role("status").inner_text() == "Visibility saved"
    tab.shot("settings")
    assert HfApi(token=web.tokens["alice"]).repo_info(f"alice/{name}").private is True
    assert httpx.get(f"{web.url}/alice/{name}", headers={"authorization": f"Bearer {web.tokens['bob']}"}
                     ).status_code == 404  # now the 404 page for bob
    # deleting needs the name typed: a wrong one changes nothing
    page.get_by_label(f"Type alice/{name} to confirm").fill("alice/something-else")
    page.get_by_role("button", name="Delete forever").click()
    assert "confirm" in page.get_by_role("alert").inner_text()
    # the refused form is a 400 (bad input, nothing changed), which chromium logs: the only error expected
    assert len(tab.errors) == 1 and "400" in tab.errors[0]
    tab.errors.clear()
    assert HfApi(token=web.tokens["alice"]).repo_exists(f"alice/{name}")
    page.get_by_label(f"Type alice/{name} to confirm").fill(f"alice/{name}")
    page.get_by_role("button", name="Delete forever").click()
    page.wait_for_url("**/alice")
    assert not HfApi(token=web.tokens["alice"]).repo_exists(f"alice/{name}")
    assert tab.errors == []


def test_dataset_viewer_pages_and_search(tab: Tab, alice: HfApi) -> None:
    repo_id = f"alice/web-viewer-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id, repo_type="dataset")
    csv = "idx,word\n" + "".join(f"{i},{'apple' if i % 10 == 7 else 'pear'}-{i}\n" for i in range(60))
    alice.upload_file(path_or_fileobj=io.BytesIO(csv.encode()), path_in_repo="data.csv", repo_id=repo_id,
                      repo_type="dataset")
    page = tab.page

    def ready() -> bool:
        tab.goto(f"/datasets/{repo_id}/viewer")
        return page.locator("table.viewer tbody tr").count() > 0

    assert eventually(ready, timeout=90, interval=1)
    assert page.locator("#viewer-count").inner_text().startswith("60 rows")
    first = page.locator("table.viewer tbody tr").first.locator("td").nth(1).inner_text()
    assert first == "0"
    tab.shot("viewer")
    page.get_by_role("link", name="Next").click()
    assert page.locator("table.viewer tbody tr").first.locator("td").nth(1).inner_text() == "25"
    page.get_by_label("Search this split").fill("apple")
    page.get_by_role("button", name="Search").click()
    words = page.locator("table.viewer tbody tr td:nth-child(3)").all_inner_texts()
    assert len(words) == 6 and all(w.startswith("apple") for w in words)
    assert tab.errors == []


def test_admin_area_and_invitation(tab: Tab, web) -> None:  # type: ignore[no-untyped-def]
    page = tab.page
    tab.login("bob")
    assert tab.goto("/admin").status == 403  # not for everyone
    tab.errors.clear()  # chromium logs the 403 it was meant to get
    tab.login("alice")  # alice is not a site admin in the shared hub: make her one for this test
    web.cli("users", "add", "root-admin", "--admin")
    from tests.web.conftest import set_password

    set_password(web, "root-admin")
    tab.login("root-admin")
    tab.goto("/admin")
    tab.shot("admin")
    page.get_by_role("button", name="Create an invitation").click()
    link = page.locator("#invite-link").inner_text().strip()
    assert "/join?invite=" in link
    newbie = f"newbie{uuid.uuid4().hex[:6]}"
    other = Tab(page.context.browser, web.url)
    try:
        other.goto(link.removeprefix(web.url))
        other.page.get_by_label("Username").fill(newbie)
        other.page.get_by_label("Password (8 characters or more)").fill("a good long password")
        other.page.get_by_role("button", name="Create account").click()
        other.page.wait_for_load_state()
        assert other.page.get_by_role("link", name=newbie, exact=True).is_visible()
        # the invitation is spent
        other.goto(link.removeprefix(web.url))
        assert other.page.get_by_text("needs an invitation").is_visible()
    finally:
        other.close()
    tab.goto("/admin")
    page.get_by_role("button", name=f"Disable {newbie}").click()
    line = next(x for x in web.cli("users", "list").stdout.splitlines() if x.startswith(newbie + "\t"))
    assert line.endswith("disabled")
    assert tab.errors == []


def test_docs_and_openapi(tab: Tab, web) -> None:  # type: ignore[no-untyped-def]
    spec = httpx.get(web.url + "/openapi.json").json()
    assert spec["servers"][0]["url"] == web.url
    assert "/api/models" in spec["paths"] and "/api/{types}/{ns}/{name}/tree/{rev}/{path}" in spec["paths"]
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()
           if isinstance(op, dict) and "operationId" in op]
    assert len(ids) == len(set(ids)) and len(ids) > 100  # OpenAPI requires them unique
    tab.goto("/docs")
    assert tab.page.get_by_role("heading", name="API reference").is_visible()
    assert tab.page.locator("details.op").count() == sum(
        1 for ops in spec["paths"].values() for m in ops if m in ("get", "post", "put", "patch", "delete"))
    tab.shot("docs")
    assert tab.errors == []

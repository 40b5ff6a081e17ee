"""Fine-grained tokens made on /settings/tokens: scoped to a repo, an org and the user's own namespace, used
with huggingface_hub, listed with their scopes, expiry and last use; revoked only by their owner."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.web.conftest import Tab, signed_in_client


def test_fine_grained_token_from_the_page(tab: Tab, web, alice: HfApi, bob: HfApi) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:6]
    mine, other, org_repo = f"alice/fg-{tag}", f"alice/fg-other-{tag}", f"acme/fg-{tag}"
    for repo_id in (mine, other, org_repo):
        alice.create_repo(repo_id, private=True)
    bob.create_repo(f"bob/fg-{tag}", private=True)
    page = tab.page
    tab.login("alice")
    tab.goto("/settings/tokens")
    # a repo the account cannot see is refused, and the form keeps what was typed
    page.get_by_label("Name").fill("scoped")
    page.get_by_label("Role").select_option("fineGrained")
    page.get_by_text("Fine-grained permissions").click()
    page.get_by_label("Repository 1", exact=True).fill(f"bob/fg-{tag}")
    page.locator('input[name="repo0:repo.content.read"]').check()
    page.get_by_role("button", name="Create token").click()
    assert f"No model repository named 'bob/fg-{tag}'" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Name").input_value() == "scoped"
    assert page.locator('input[name="repo0:repo.content.read"]').is_checked()
    tab.errors.clear()  # chromium logs the refused form's 400
    # write to one repo (the read chosen before is kept), read the org's repos
    page.get_by_label("Repository 1", exact=True).fill(mine)
    page.locator('input[name="repo0:repo.write"]').check()
    page.locator('input[name="org:acme:repo.content.read"]').check()
    page.get_by_label("Expires").select_option("7")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-secret").inner_text().strip()
    assert re.fullmatch(r"hf_[A-Za-z0-9]{30,}", secret)
    tab.shot("tokens-fine-grained")

    scoped = HfApi(token=secret)
    scoped.upload_file(path_or_fileobj=b"scoped", path_in_repo="f.txt", repo_id=mine)
    assert scoped.repo_info(org_repo).id == org_repo
    with pytest.raises(RepositoryNotFoundError):
        scoped.repo_info(other)  # not in the token's scope: private, so missing
    with pytest.raises(HfHubHTTPError):
        scoped.upload_file(path_or_fileobj=b"no", path_in_repo="f.txt", repo_id=org_repo)  # read only there
    fg = next(t for t in httpx.get(f"{web.url}/api/settings/tokens",
                                   headers={"authorization": f"Bearer {web.tokens['alice']}"}).json()
              if t["displayName"] == "scoped")
    assert fg["role"] == "fineGrained" and fg["expiresAt"]
    assert {(s["entity"]["name"], tuple(s["permissions"])) for s in fg["fineGrained"]["scoped"]} == {
        (mine, ("repo.content.read", "repo.write")), ("acme", ("repo.content.read",))}

    tab.goto("/settings/tokens")
    row = page.locator("table.grid tr", has_text="scoped")
    cells = row.locator("td")
    assert cells.nth(1).inner_text().startswith("fine-grained")
    assert f"model {mine}: repo.content.read, repo.write" in cells.nth(1).inner_text()
    assert "org acme: repo.content.read" in cells.nth(1).inner_text()
    assert "UTC" in cells.nth(3).inner_text() and cells.nth(4).inner_text() != "—"
    token_id = row.locator('input[name="token_id"]').get_attribute("value")

    # bob's session with bob's own CSRF token cannot revoke alice's token; without a CSRF token nobody can
    client, csrf = signed_in_client(web, "bob")
    r = client.post("/settings/tokens", data={"action": "revoke", "token_id": token_id, "csrf_token": csrf})
    assert r.status_code == 404
    alice_client, _ = signed_in_client(web, "alice")
    r = alice_client.post("/settings/tokens", data={"action": "revoke", "token_id": token_id})
    assert r.status_code == 403
    assert scoped.whoami()["name"] == "alice"

    page.get_by_role("button", name="Revoke scoped").click()
    assert httpx.get(f"{web.url}/api/whoami-v2", headers={"authorization": f"Bearer {secret}"}).status_code == 401
    assert tab.errors == []


def test_fine_grained_form_names_only_the_users_own_entities(web) -> None:  # type: ignore[no-untyped-def]
    """A forged form naming an org bob is not in makes no scope for it (only his own orgs are read), and a
    fine-grained token without a permission is refused."""
    client, csrf = signed_in_client(web, "bob")
    r = client.post("/settings/tokens", data={"csrf_token": csrf, "name": "forged", "role": "fineGrained",
                                              "org:acme:repo.write": "on"})
    assert r.status_code == 400 and "at least one permission" in r.text
    r = client.post("/settings/tokens", data={"csrf_token": csrf, "name": "forged", "role": "fineGrained",
                                              "repo0": "acme/anything", "repo0:repo.write": "on"})
    assert r.status_code == 400
    assert "forged" not in web.cli("tokens", "list", "--user", "bob").stdout

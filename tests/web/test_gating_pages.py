"""Gated repos on the pages: a visitor asks for access with the card's form; the owners review the queue
(pending, accepted, rejected), accept, reject with a reason and grant; only the repo's writers can, and only
with the form's CSRF token."""

from __future__ import annotations

import uuid

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import GatedRepoError

from tests.web.conftest import Tab, signed_in_client

CARD = b"""---
license: other
extra_gated_heading: Ask for the weights
extra_gated_prompt: "You agree to **our terms**. <script>window.pwned = 1</script>"
extra_gated_button_content: Agree and ask
extra_gated_fields:
  Company: text
  Country:
    type: select
    options: [France, Japan]
  I agree to the terms: checkbox
  "<img src=x onerror=window.pwned=1>Team": text
---
# Gated
"""


@pytest.fixture
def gated(web, alice: HfApi) -> str:  # type: ignore[no-untyped-def]
    repo_id = f"alice/gated-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=CARD, path_in_repo="README.md", repo_id=repo_id)
    alice.upload_file(path_or_fileobj=b"weights", path_in_repo="w.bin", repo_id=repo_id)
    alice.update_repo_settings(repo_id, gated="manual")
    return repo_id


def _downloads(api: HfApi, repo_id: str) -> bool:
    try:
        api.auth_check(repo_id)
    except GatedRepoError:
        return False
    return True


def test_access_request_form_and_queue(tab: Tab, browser, web, gated: str, bob: HfApi) -> None:  # type: ignore[no-untyped-def]
    page = tab.page
    tab.login("bob")
    tab.goto(f"/{gated}/blob/main/w.bin")  # a file of a gated repo leads to the form
    page.get_by_role("link", name="ask its owners for access").click()
    page.wait_for_url(f"**/{gated}")
    gate = page.locator("section.gate")
    assert gate.get_by_role("heading", name="Ask for the weights").is_visible()
    assert gate.locator(".markdown strong").inner_text() == "our terms"
    assert page.evaluate("window.pwned") is None and gate.locator("script").count() == 0
    gate.get_by_label("Company").fill("<b>Acme</b> & co")
    gate.get_by_label("Country").select_option("Japan")
    gate.get_by_label("I agree to the terms").check()
    gate.get_by_label("<img src=x onerror=window.pwned=1>Team").fill("<img src=y onerror=window.pwned=2>")
    assert gate.locator("img").count() == 0  # a hostile label is text
    tab.shot("gate-form")
    gate.get_by_role("button", name="Agree and ask").click()
    assert "awaiting a review" in page.locator("#gate-status").inner_text()
    assert not _downloads(bob, gated)
    assert page.evaluate("window.pwned") is None

    owner = Tab(browser, web.url)
    try:
        owner.login("alice")
        owner.goto(f"/{gated}/settings")
        owner.page.get_by_role("link", name="Review access requests").click()
        row = owner.page.locator("table.requests tr[data-user=bob]")
        answers = row.locator("dl.answers")
        assert answers.locator("dd").all_inner_texts() == ["<b>Acme</b> & co", "Japan", "on",
                                                          "<img src=y onerror=window.pwned=2>"]
        assert answers.locator("b, img").count() == 0  # labels and answers are text, never markup
        assert owner.page.evaluate("window.pwned") is None
        owner.shot("access-requests")
        row.get_by_role("button", name="Accept bob").click()
        assert owner.page.get_by_role("status").inner_text() == "The request of bob is now accepted"
        assert _downloads(bob, gated)

        owner.page.get_by_role("link", name="Accepted").click()
        row = owner.page.locator("table.requests tr[data-user=bob]")
        row.get_by_label("Reason (optional)").fill("terms changed")
        row.get_by_role("button", name="Reject bob").click()
        assert not _downloads(bob, gated)
        owner.page.get_by_role("link", name="Rejected").click()
        assert "Reason: terms changed" in owner.page.locator("table.requests tr[data-user=bob]").inner_text()

        web.add_user("gatecarol")
        owner.page.get_by_label("Username").fill("gatecarol")
        owner.page.get_by_role("button", name="Grant access").click()
        assert owner.page.get_by_role("status").inner_text() == "gatecarol was granted access"
        owner.page.get_by_role("link", name="Accepted").click()
        assert owner.page.locator("table.requests tr[data-user=gatecarol]").count() == 1
        assert _downloads(HfApi(token=web.tokens["gatecarol"]), gated)
        assert owner.errors == []
    finally:
        owner.close()
    tab.goto(f"/{gated}")
    assert "rejected" in page.locator("#gate-status").inner_text()
    assert tab.errors == []


def test_access_requests_need_a_writer_and_the_csrf_token(web, gated: str, bob: HfApi) -> None:  # type: ignore[no-untyped-def]
    url = f"/{gated}/settings/access-requests"
    client, csrf = signed_in_client(web, "bob")
    assert client.post(f"/{gated}/request-access", data={"Company": "x", "Country": "France",
                                                         "I agree to the terms": "on"}).status_code == 403
    r = client.post(f"/{gated}/request-access", data={"csrf_token": csrf, "Company": "x", "Country": "Mars",
                                                      "I agree to the terms": "on",
                                                      "<img src=x onerror=window.pwned=1>Team": "t"})
    assert r.status_code == 400 and "one of the listed options" in r.text
    r = client.post(f"/{gated}/request-access", data={"csrf_token": csrf, "Company": "x", "Country": "France",
                                                      "I agree to the terms": "on",
                                                      "<img src=x onerror=window.pwned=1>Team": "t"})
    assert r.status_code == 303
    # bob sees the repo but may not review its requests, not even his own
    assert client.get(url).status_code == 403
    assert client.post(url, data={"csrf_token": csrf, "action": "accept", "user": "bob"}).status_code == 403
    assert client.post(url, data={"csrf_token": csrf, "action": "grant", "user": "bob"}).status_code == 403
    assert not _downloads(bob, gated)
    # the owner's session without the form's token changes nothing either
    owner, owner_csrf = signed_in_client(web, "alice")
    assert owner.post(url, data={"action": "accept", "user": "bob"}).status_code == 403
    assert not _downloads(bob, gated)
    assert owner.post(url, data={"csrf_token": owner_csrf, "action": "accept", "user": "bob"}).status_code == 200
    assert _downloads(bob, gated)
    client.close()
    owner.close()

"""Discussions and pull requests on the pages: open, comment, close and reopen; a PR's diff, and merge."""

from __future__ import annotations

import uuid

from huggingface_hub import HfApi

from tests.web.conftest import Tab, set_password, signed_in_client


def test_discussion_open_comment_close(tab: Tab, alice: HfApi) -> None:
    repo_id = f"alice/talk-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id)
    page = tab.page
    tab.login("bob")
    tab.goto(f"/{repo_id}/discussions")
    page.get_by_label("Title").fill("Question about <b>weights</b>")
    page.get_by_label("Message").fill("Where are they?")
    page.get_by_role("button", name="Open discussion").click()
    page.wait_for_url(f"**/{repo_id}/discussions/1")
    assert page.get_by_role("heading", name="#1 Question about <b>weights</b>").is_visible()
    page.get_by_label("Comment", exact=True).fill("Some **more** detail <script>window.pwned=1</script>")
    page.get_by_role("button", name="Comment", exact=True).click()
    assert page.locator("ol.list .markdown strong").inner_text() == "more"
    assert page.evaluate("window.pwned") is None
    page.get_by_text("Edit title").click()
    page.get_by_label("New title").fill("Where are the weights?")
    page.get_by_role("button", name="Save title").click()
    assert page.get_by_role("heading", name="#1 Where are the weights?").is_visible()
    page.get_by_role("button", name="Close").click()
    assert page.locator("#thread-status").inner_text() == "closed"
    details = alice.get_discussion_details(repo_id, 1)
    assert details.status == "closed" and any(e.type == "comment" for e in details.events)
    assert details.title == "Where are the weights?"
    tab.shot("discussion")
    assert tab.errors == []


def test_pull_request_diff_and_merge(tab: Tab, alice: HfApi, bob: HfApi) -> None:
    repo_id = f"alice/pr-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"one\ntwo\n", path_in_repo="notes.txt", repo_id=repo_id)
    pr = bob.upload_file(path_or_fileobj=b"one\nthree\n", path_in_repo="notes.txt", repo_id=repo_id,
                         create_pr=True, commit_message="Better notes")
    num = pr.pr_num
    page = tab.page
    tab.login("alice")
    tab.goto(f"/{repo_id}/discussions/{num}")
    assert page.locator(".diff .del", has_text="-two").count() == 1
    assert page.locator(".diff .add", has_text="+three").count() == 1
    tab.shot("pull-request")
    page.get_by_role("button", name="Merge").click()
    assert page.locator("#thread-status").inner_text() == "merged"
    content = HfApi(token=False).list_repo_files(repo_id)
    assert "notes.txt" in content
    tab.goto(f"/{repo_id}/blob/main/notes.txt")
    assert "three" in page.locator(".code").inner_text()
    assert tab.errors == []


def test_comment_edit_and_hide(tab: Tab, web, alice: HfApi, bob: HfApi) -> None:  # type: ignore[no-untyped-def]
    """The author edits a comment; the author or a writer hides one (its text gone for good); nobody else can,
    whatever the form says, and no form works without its CSRF token."""
    repo_id = f"alice/edits-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id)
    num = bob.create_discussion(repo_id, title="Typos", description="first draft").num
    alice.comment_discussion(repo_id, num, "alice says hi")
    ids = {e.content: e.id for e in alice.get_discussion_details(repo_id, num).events if e.type == "comment"}
    page = tab.page
    tab.login("bob")
    tab.goto(f"/{repo_id}/discussions/{num}")
    alices = page.locator(f"#c-{ids['alice says hi']}")
    assert alices.count() == 0  # no edit or hide for someone else's comment
    page.get_by_text("Edit comment 1").click()
    page.get_by_label("Edited text").fill("second **draft**")
    page.get_by_role("button", name="Save edit").click()
    assert page.locator("ol.list .markdown strong").inner_text() == "draft"
    assert "edited" in page.locator("ol.list li").first.inner_text()
    edited = next(e for e in alice.get_discussion_details(repo_id, num).events if e.id == ids["first draft"])
    assert edited.content == "second **draft**" and edited.edited

    # bob's session, with bob's CSRF token, cannot edit or hide alice's comment
    client, csrf = signed_in_client(web, "bob")
    for action in ("edit", "hide"):
        r = client.post(f"/{repo_id}/discussions/{num}", data={"csrf_token": csrf, "action": action,
                                                               "comment_id": ids["alice says hi"], "content": "x"})
        assert r.status_code == 403 and "Only the author" in r.text
    client.close()
    theirs = next(e for e in alice.get_discussion_details(repo_id, num).events if e.id == ids["alice says hi"])
    assert theirs.content == "alice says hi" and not theirs.hidden

    # someone who neither opened the discussion nor writes to the repo renames nothing
    web.add_user("bystander")
    set_password(web, "bystander")
    other, other_csrf = signed_in_client(web, "bystander")
    r = other.post(f"/{repo_id}/discussions/{num}", data={"csrf_token": other_csrf, "action": "rename", "title": "x"})
    assert r.status_code == 403
    other.close()
    assert alice.get_discussion_details(repo_id, num).title == "Typos"
    # alice writes to the repo: she may hide bob's comment, but only with the form's CSRF token
    owner, _ = signed_in_client(web, "alice")
    r = owner.post(f"/{repo_id}/discussions/{num}", data={"action": "hide", "comment_id": ids["first draft"]})
    assert r.status_code == 403
    owner.close()
    tab2 = Tab(tab.page.context.browser, web.url)
    try:
        tab2.login("alice")
        tab2.goto(f"/{repo_id}/discussions/{num}")
        assert tab2.page.locator(f"#c-{ids['first draft']}").get_by_text("Edit").count() == 0  # not hers to edit
        tab2.page.get_by_role("button", name="Hide comment 1").click()
        first = tab2.page.locator("ol.list li").first
        assert "This comment was hidden by alice." in first.inner_text()
        assert "draft" not in tab2.page.locator("ol.list").inner_text()
        assert tab2.errors == []
    finally:
        tab2.close()
    hidden = next(e for e in alice.get_discussion_details(repo_id, num).events if e.id == ids["first draft"])
    assert hidden.hidden and "draft" not in hidden.content
    assert tab.errors == []

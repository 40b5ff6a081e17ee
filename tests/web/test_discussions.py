"""Discussions and pull requests on the pages: open, comment, close and reopen; a PR's diff, and merge."""

from __future__ import annotations

import uuid

from huggingface_hub import HfApi

from tests.web.conftest import Tab


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
    page.get_by_label("Comment").fill("Some **more** detail <script>window.pwned=1</script>")
    page.get_by_role("button", name="Comment", exact=True).click()
    assert page.locator("ol.list .markdown strong").inner_text() == "more"
    assert page.evaluate("window.pwned") is None
    page.get_by_role("button", name="Close").click()
    assert page.locator("#thread-status").inner_text() == "closed"
    details = alice.get_discussion_details(repo_id, 1)
    assert details.status == "closed" and any(e.type == "comment" for e in details.events)
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

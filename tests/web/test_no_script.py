"""Reading works without JavaScript, and so do the forms: a browser with scripts off searches, opens a repo, its
files, a file and a commit, signs in, likes a repo and makes a token."""

from __future__ import annotations

import re
import uuid

from huggingface_hub import HfApi

from tests.web.conftest import PASSWORD


def test_pages_work_without_javascript(browser, web, alice: HfApi) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/noscript-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=b"---\nlicense: mit\n---\n# No script\n\nPlain **reading**.\n",
                      path_in_repo="README.md", repo_id=repo_id)
    alice.upload_file(path_or_fileobj=b"print('hi')\n", path_in_repo="app.py", repo_id=repo_id,
                      commit_message="Add app")
    context = browser.new_context(base_url=web.url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(web.url + "/")
        page.get_by_label("Search models", exact=True).first.fill(repo_id.split("/")[1])
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_role("link", name=repo_id).first.click()
        assert page.locator(".markdown strong").inner_text() == "reading"
        page.get_by_role("link", name="Files").click()
        page.get_by_role("link", name="app.py").click()
        assert "print('hi')" in page.locator(".code").inner_text()
        page.get_by_role("link", name="Commits").click()
        page.get_by_role("link", name="Add app").click()
        assert "+print('hi')" in page.locator(".diff").inner_text()

        page.goto(web.url + f"/login?next=/{repo_id}")
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/{repo_id}")
        page.get_by_role("button", name="♡ Like").click()
        assert page.locator("#likes").inner_text() == "1"
        page.goto(web.url + "/settings/tokens")
        page.get_by_label("Name").fill("no-script")
        page.get_by_role("button", name="Create token").click()
        secret = page.locator("#token-secret").inner_text().strip()
        assert re.fullmatch(r"hf_[A-Za-z0-9]{30,}", secret)
        assert HfApi(token=secret).whoami()["name"] == "bob"
    finally:
        context.close()

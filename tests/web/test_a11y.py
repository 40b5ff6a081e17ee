"""Accessibility: axe-core (npm, node/node_modules) injected into the main pages finds no serious or
critical violation; screenshots of each page are written to tests/web/screenshots/ (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi

from tests.web.conftest import PASSWORD, SCREENSHOTS

AXE = Path(__file__).resolve().parents[2] / "node" / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                 nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


@pytest.fixture(scope="module")
def a11y_repo(web, alice: HfApi) -> str:  # type: ignore[no-untyped-def]
    repo_id = "alice/a11y-model"
    alice.create_repo(repo_id, exist_ok=True)
    alice.upload_file(path_or_fileobj=b"---\nlicense: mit\ntags: [a11y]\n---\n# Accessible\n\nText and a "
                      b"[link](https://example.org).\n\n```python\nprint('hi')\n```\n| a | b |\n|---|---|\n| 1 | 2 |\n",
                      path_in_repo="README.md", repo_id=repo_id)
    alice.upload_file(path_or_fileobj=b"import os\n\n# a comment\nprint(os.getcwd())\n", path_in_repo="src/app.py",
                      repo_id=repo_id)
    return repo_id


@pytest.fixture(scope="module")
def a11y_gated(web, alice: HfApi) -> str:  # type: ignore[no-untyped-def]
    """A gated repo with a request form, bob's pending request, and a discussion with alice's comment."""
    repo_id = "alice/a11y-gated"
    if not alice.repo_exists(repo_id):
        alice.create_repo(repo_id)
        alice.upload_file(path_or_fileobj=b"---\nextra_gated_fields:\n  Company: text\n  Country:\n    type: select\n"
                          b"    options: [France, Japan]\n  I agree: checkbox\n---\n# Gated\n",
                          path_in_repo="README.md", repo_id=repo_id)
        alice.update_repo_settings(repo_id, gated="manual")
        r = httpx.post(f"{web.url}/{repo_id}/ask-access", headers={"authorization": f"Bearer {web.tokens['bob']}"},
                       data={"Company": "Acme", "Country": "Japan", "I agree": "on"})
        assert r.status_code == 200, r.text
        alice.create_discussion(repo_id, title="Question", description="A comment alice may edit or hide")
    return repo_id


def test_main_pages_have_no_serious_axe_violations(browser, web, a11y_repo: str,  # type: ignore[no-untyped-def]
                                                   a11y_gated: str) -> None:
    if not AXE.exists():
        pytest.skip("run `npm ci` in node/ for axe-core")
    # CSP bypass only for the injected axe script: hubd's pages allow no inline script
    context = browser.new_context(base_url=web.url, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    sha = HfApi(token=web.tokens["alice"]).repo_info(a11y_repo).sha
    pages = {"home": "/", "models": "/models", "datasets": "/datasets", "repo": f"/{a11y_repo}",
             "tree": f"/{a11y_repo}/tree/main", "blob": f"/{a11y_repo}/blob/main/src/app.py",
             "commits": f"/{a11y_repo}/commits/main", "commit-diff": f"/{a11y_repo}/commit/{sha}",
             "login": "/login", "not-found": "/alice/no-such-repo", "profile": "/alice", "org": "/acme",
             "docs": "/docs", "gated-repo": f"/{a11y_gated}"}
    signed_in = {"tokens": "/settings/tokens", "new-repo": "/new", "repo-settings": f"/{a11y_repo}/settings",
                 "access-requests": f"/{a11y_gated}/settings/access-requests", "thread": f"/{a11y_gated}/discussions/1"}
    problems = {}

    def check(name: str, path: str, opened: str | None = None) -> None:
        page.goto(web.url + path)
        if opened:  # a disclosure (<details>) opened first, so its content is checked too
            page.locator(opened).first.click()
        page.add_script_tag(path=str(AXE))
        serious = [v for v in page.evaluate(RUN_AXE) if v["impact"] in ("serious", "critical")]
        if serious:
            problems[name] = serious
        page.set_viewport_size({"width": 1200, "height": 900})
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"a11y-{name}.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1, f"{name} scrolls sideways on a phone"
        page.set_viewport_size({"width": 1200, "height": 900})

    for name, path in pages.items():
        check(name, path)
    page.goto(web.url + "/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    for name, path in signed_in.items():
        check(name, path)
    check("tokens-fine-grained", "/settings/tokens", "details.fine summary")
    check("thread-edit", f"/{a11y_gated}/discussions/1", ".comment-actions summary")
    context.close()
    assert problems == {}
    assert [e for e in errors if "not-found" not in e and "404" not in e] == []


def test_keyboard_reaches_the_main_content(browser, web) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=web.url)
    page = context.new_page()
    page.goto(web.url + "/models")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    context.close()

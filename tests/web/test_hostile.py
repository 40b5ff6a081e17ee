"""Untrusted content renders inert: checked on the DOM chromium built, not on the HTML string. Every payload
would set window.pwned if any of it ran; the page must hold no script, no event handler and no javascript:
URL from it, and stay bounded in time and memory under a huge README and a YAML bomb."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationCopy, HfApi

from tests.resources import HealthProbe, rss_mib
from tests.web.conftest import Tab

PAYLOADS = """
<script>window.pwned = 1</script>
<img src="/static/favicon.svg" onerror="window.pwned = 1" onload="window.pwned = 1" alt="x">
<a href="javascript:window.pwned=1" id="jslink">click me</a>
[markdown link](javascript:window.pwned=1)
<svg onload="window.pwned=1"><script>window.pwned = 1</script></svg>
<iframe src="javascript:window.pwned=1"></iframe>
<style>body { display: none }</style>
<form action="https://evil.example/"><button formaction="javascript:window.pwned=1">go</button></form>
<div style="background:url(javascript:window.pwned=1)" onclick="window.pwned=1">div</div>
<details open ontoggle="window.pwned=1"><summary>x</summary></details>
"""
HOSTILE_NAME = '<img src=x onerror="window.pwned=1">.txt'
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned=1"><script>window.pwned=1</script></svg>'
# billion laughs: each anchor repeats the previous one 9 times, 9^10 leaves if expanded
YAML_BOMB = "---\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9)
) + "---\n# Bomb\n"

INERT_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) bad.push(`${el.tagName} ${attr.name}`);
      if (/^\\s*javascript:/i.test(attr.value)) bad.push(`${el.tagName} ${attr.name}=${attr.value}`);
    }
  }
  for (const s of document.querySelectorAll('script')) {
    if (!s.src || new URL(s.src).pathname !== '/static/hubd.js') bad.push('script ' + (s.src || s.textContent));
  }
  for (const t of ['iframe', 'svg', 'style', 'object', 'embed']) {
    if (document.querySelector('main ' + t)) bad.push(t);
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def hostile(web, alice: HfApi) -> str:  # type: ignore[no-untyped-def]
    repo_id = f"alice/hostile-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id)
    alice.create_commit(repo_id, operations=[
        CommitOperationAdd("README.md", f"---\nlicense: mit\ntags: ['<script>window.pwned=1</script>']\n---\n"
                                        f"# Hostile\n{PAYLOADS}".encode()),
        CommitOperationAdd(HOSTILE_NAME, b"named badly\n"),
        CommitOperationAdd("logo.svg", SVG),
        CommitOperationAdd("notes.md", PAYLOADS.encode()),
    ], commit_message='<script>window.pwned=1</script><img src=x onerror="window.pwned=1">')
    return repo_id


def _check_inert(tab: Tab) -> None:
    page = tab.page
    assert page.evaluate(INERT_JS) == []
    assert page.evaluate("window.pwned") is None
    for link in page.locator("main a").all():
        link.focus()  # nothing fires on focus either
    assert page.evaluate("window.pwned") is None


def test_hostile_readme_file_names_commit_messages_are_inert(tab: Tab, hostile: str) -> None:
    page = tab.page
    csp = tab.goto(f"/{hostile}").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert page.get_by_role("heading", name="Hostile", exact=True).is_visible()
    assert page.locator(".markdown").get_by_text("click me").is_visible()  # the text stays, the link goes
    _check_inert(tab)
    tab.goto(f"/{hostile}/tree/main")
    assert page.get_by_role("link", name=HOSTILE_NAME).is_visible()  # shown as text, not as markup
    _check_inert(tab)
    page.get_by_role("link", name=HOSTILE_NAME).click()
    assert "named badly" in page.locator(".code").inner_text()
    _check_inert(tab)
    tab.goto(f"/{hostile}/blob/main/logo.svg")  # an SVG is shown as its source text, never as an image
    assert "<script>" in page.locator(".code").inner_text()
    _check_inert(tab)
    tab.goto(f"/{hostile}/commits/main")
    assert page.get_by_role("link", name="<script>window.pwned=1</script>", exact=False).count() == 1
    _check_inert(tab)
    page.get_by_role("link", name="<script>", exact=False).click()
    assert page.locator("h2").first.inner_text().startswith("<script>")
    _check_inert(tab)
    tab.goto(f"/{hostile}/blob/main/notes.md")
    _check_inert(tab)
    assert tab.errors == []


def test_huge_readme_and_yaml_bomb_stay_bounded(tab: Tab, web, alice: HfApi) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"alice/huge-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id)
    big = (b"# Big\n\n" + b"<script>window.pwned=1</script> lots of words here\n" * 1_100_000)[: 50 * 2**20]
    # the client validates a README.md it uploads through /api/validate-yaml (bounded at 4 MiB): the big one
    # arrives as another file and is copied to README.md (a copy is not validated)
    alice.upload_file(path_or_fileobj=big, path_in_repo="big.md", repo_id=repo_id)
    alice.create_commit(repo_id, operations=[CommitOperationCopy("big.md", "README.md")], commit_message="big")
    bomb_id = f"alice/bomb-{uuid.uuid4().hex[:6]}"
    alice.create_repo(bomb_id)
    alice.upload_file(path_or_fileobj=YAML_BOMB.encode(), path_in_repo="bomb.md", repo_id=bomb_id)  # validate-yaml
    # refuses the bomb as a README.md addition: it arrives under another name and is copied
    alice.create_commit(bomb_id, operations=[CommitOperationCopy("bomb.md", "README.md")], commit_message="bomb")
    assert web.proc is not None
    before = rss_mib(web.proc.pid)
    with HealthProbe(web.url) as probe:
        for path in (f"/{repo_id}", f"/{repo_id}/blob/main/README.md", f"/{bomb_id}",
                     f"/{bomb_id}/blob/main/README.md"):
            started = time.perf_counter()
            r = httpx.get(web.url + path, timeout=30)
            assert r.status_code == 200 and time.perf_counter() - started < 5, path
    after = rss_mib(web.proc.pid)
    assert probe.slowest < 1.0
    assert after - before < 100, (before, after)  # the 50 MB README is never read into a page
    tab.goto(f"/{repo_id}")
    assert "too large to show" in tab.page.locator("article").inner_text()
    _check_inert(tab)
    tab.goto(f"/{bomb_id}")
    assert tab.page.get_by_role("heading", name="Bomb", exact=True).is_visible()
    _check_inert(tab)
    assert tab.errors == []

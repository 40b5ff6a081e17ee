"""Unknown paths: a browser asking for HTML gets the 404 page — the same page under a private repo as under a
missing one, for anyone who may not see it — while API clients keep the Hub's JSON error, and a method a
route does not take stays a 405."""

from __future__ import annotations

import httpx
from huggingface_hub import HfApi

from tests.web.conftest import Tab

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_not_found_page_for_unknown_paths(tab: Tab, web, alice: HfApi) -> None:  # type: ignore[no-untyped-def]
    alice.create_repo("alice/nf-secret", private=True, exist_ok=True)
    pairs = [("/alice/nf-secret/no/such/page", "/alice/nf-missing/no/such/page"),
             ("/alice/nf-secret/settings/nothing", "/alice/nf-missing/settings/nothing"),
             ("/datasets/alice/nf-secret/x/y", "/datasets/alice/nf-missing/x/y")]
    for who in (None, "bob"):
        t = Tab(tab.page.context.browser, web.url)
        try:
            if who:
                t.login(who)
            for private, missing in pairs:
                seen = []
                for path in (private, missing):
                    response = t.goto(path)
                    assert response.status == 404 and response.headers["content-type"].startswith("text/html")
                    assert t.page.get_by_role("heading", name="404 — not found").is_visible()
                    seen.append(t.page.locator("main").inner_text())
                assert seen[0] == seen[1], (who, private)
            t.goto("/no-such-page/at/all")
            assert t.page.get_by_role("heading", name="404 — not found").is_visible()
            if who:
                assert t.page.get_by_role("link", name=who, exact=True).is_visible()  # still signed in there
            t.shot(f"not-found-{who or 'anonymous'}")
            # the main document's 404 is the only error chromium logs
            assert all("404" in e for e in t.errors), t.errors
        finally:
            t.close()
    # alice sees the same page for an unknown path under her own repo: nothing there either
    tab.login("alice")
    assert tab.goto("/alice/nf-secret/no/such/page").status == 404


def test_api_clients_keep_the_json_error(web) -> None:  # type: ignore[no-untyped-def]
    for path in ("/alice/nf-secret/no/such/page", "/no-such-page/at/all"):
        r = httpx.get(web.url + path)
        assert r.status_code == 404 and r.headers["x-error-code"] == "NotFound"
        assert r.json() == {"error": f"Not found: {path}"}
        r = httpx.post(web.url + path, headers=HTML)  # only reading is a page
        assert r.status_code == 404 and r.json() == {"error": f"Not found: {path}"}
    r = httpx.get(web.url + "/api/no/such/endpoint", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert httpx.put(web.url + "/alice/nf-secret", headers=HTML).status_code == 405
    assert httpx.delete(web.url + "/api/whoami-v2").status_code == 405

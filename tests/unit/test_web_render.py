"""Pure functions of the web side: sanitizing, front matter, OpenAPI path templates, OIDC group mapping,
card helpers, safe redirects after sign-in."""

from __future__ import annotations

from hubd.web.base import safe_next
from hubd.web.docs import path_template
from hubd.web.oidc import group_roles
from hubd.web.render import human_size, markdown_html, sanitize, strip_front_matter
from hubd.web.repo_view import card_list, model_index_rows


def test_sanitize_drops_scripts_handlers_and_js_urls() -> None:
    html = sanitize('<p onclick="x()">hi</p><script>x()</script><a href="javascript:x()">l</a>'
                    '<img src="a.png" onerror="x()"><svg><script>x()</script></svg><iframe src="y"></iframe>')
    assert "script" not in html and "onclick" not in html and "onerror" not in html
    assert "javascript:" not in html and "<svg" not in html and "<iframe" not in html
    assert "<p>hi</p>" in html and 'src="a.png"' in html


def test_markdown_links_and_code() -> None:
    html = markdown_html("[x](javascript:alert(1)) [ok](https://example.org)\n\n```\n<b>\n```\n")
    assert 'href="javascript' not in html and 'href="https://example.org"' in html  # left as plain text
    assert "&lt;b&gt;" in html and '<pre tabindex="0">' in html


def test_front_matter_stripped_once() -> None:
    assert strip_front_matter("---\na: 1\n---\n# T\n---\nb\n---\n") == "# T\n---\nb\n---\n"
    assert strip_front_matter("# no card\n") == "# no card\n"


def test_path_template() -> None:
    assert path_template(r"^/api/(?P<types>models|datasets)/(?P<ns>[^/]+)/(?P<name>[^/]+)/tree/(?P<rev>[^/]+)"
                         r"(?:/(?P<path>.*))?$") == "/api/{types}/{ns}/{name}/tree/{rev}/{path}"
    assert path_template(r"^/(?:(?P<prefix>datasets|spaces)/)?(?P<ns>(?!api/)[^/]+)/(?P<name>[^/]+)$") \
        == "/{prefix}/{ns}/{name}"


def test_group_roles() -> None:
    assert group_roles("ml=acme:write, ops=acme:admin,bad=acme:owner,=x:read,nogroup") == {
        "ml": ("acme", "write"), "ops": ("acme", "admin")}


def test_safe_next_stays_on_site() -> None:
    for bad in ("//evil.example/x", "https://evil.example", "/\\evil", "", None, "javascript:x"):
        assert safe_next(bad) == "/"
    assert safe_next("/alice/model?x=1") == "/alice/model?x=1"


def test_card_helpers_ignore_malformed_values() -> None:
    card = {"license": "mit", "datasets": ["a/b", {"x": 1}, 3], "model-index": [
        {"results": [{"task": {"name": "T"}, "dataset": {"name": "D"}, "metrics": [{"name": "acc", "value": 1},
                                                                                  "junk"]}, "junk"]}, "junk"]}
    assert card_list(card, "license") == ["mit"] and card_list(card, "datasets") == ["a/b", "3"]
    assert model_index_rows(card) == [{"task": "T", "dataset": "D", "metric": "acc", "value": "1"}]
    assert model_index_rows({"model-index": "nope"}) == []


def test_human_size() -> None:
    assert human_size(999) == "999 B" and human_size(1500) == "1.5 kB" and human_size(50 * 10**6) == "50.0 MB"

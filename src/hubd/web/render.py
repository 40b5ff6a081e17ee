"""Templates, safe rendering of untrusted text (model cards, file names, commit messages), and page answers."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import nh3
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from pygments import highlight as _pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, guess_lexer_for_filename
from pygments.util import ClassNotFound
from starlette.responses import HTMLResponse, RedirectResponse, Response

# Every page: scripts, styles, images and fonts from hubd itself only; no inline script or style, no
# plugins, no framing. Sanitizing the HTML is the first defence, this is the second.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages show private data and CSRF tokens
}
MAX_MARKDOWN_BYTES = 512 * 1024  # a README beyond this is offered as a download, never rendered
MAX_HIGHLIGHT_BYTES = 512 * 1024

env = Environment(loader=PackageLoader("hubd.web", "templates"), autoescape=select_autoescape(default=True),
                  trim_blocks=True, lstrip_blocks=True)

_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table").enable("strikethrough")
# nh3 (ammonia) keeps a known-safe set of tags and attributes: no <script>, <style>, <svg>, <iframe>, no on*
# attributes, and only http(s)/mailto URLs (javascript: and data: links are dropped).
_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS)
_URL_SCHEMES = {"http", "https", "mailto"}


def sanitize(html: str) -> str:
    return nh3.clean(html, tags=_ALLOWED_TAGS, url_schemes=_URL_SCHEMES, link_rel="noopener noreferrer nofollow",
                     strip_comments=True)


@lru_cache(maxsize=512)
def markdown_html(text: str) -> str:
    """Markdown from a repo, rendered and sanitized. Cached by content (callers key by the immutable blob id
    through `render_readme`)."""
    # scrollable blocks get keyboard focus (tabindex) so they can be scrolled without a mouse
    html = sanitize(_markdown.render(text))
    return html.replace("<pre>", '<pre tabindex="0">').replace("<table>", '<table tabindex="0">')


_readme_cache: dict[str, str] = {}
_README_CACHE_MAX = 1024


def render_readme(blob_sha: str, text: str) -> str:
    """The README's HTML, cached by its git blob id: a blob never changes, so neither does its rendering."""
    cached = _readme_cache.get(blob_sha)
    if cached is None:
        cached = markdown_html(strip_front_matter(text))
        if len(_readme_cache) >= _README_CACHE_MAX:
            _readme_cache.pop(next(iter(_readme_cache)))
        _readme_cache[blob_sha] = cached
    return cached


_FRONT = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def strip_front_matter(text: str) -> str:
    return _FRONT.sub("", text, count=1)


_formatter = HtmlFormatter(nowrap=False, cssclass="hl", linenos=False)


def highlighted(text: str, filename: str) -> str:
    """Syntax-highlighted HTML of a text file (Pygments escapes every character it emits)."""
    try:
        lexer = guess_lexer_for_filename(filename, text[:4096])
    except ClassNotFound:
        lexer = TextLexer()
    return _pygments_highlight(text, lexer, _formatter)


def pygments_css() -> str:
    return _formatter.get_style_defs(".hl")


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def ago(ts: float | int | None) -> str:
    if not ts:
        return ""
    delta = time.time() - float(ts)
    for seconds, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "hour"),
                          (60, "minute")):
        if delta >= seconds:
            n = int(delta // seconds)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def date(ts: float | int | None) -> str:
    return datetime.fromtimestamp(float(ts or 0), UTC).strftime("%Y-%m-%d %H:%M UTC")


def compact(n: int | None) -> str:
    n = int(n or 0)
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return str(n)


env.filters.update(size=human_size, ago=ago, date=date, compact=compact)


def render(template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)


def html_page(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def redirect(url: str, status: int = 303, headers: dict[str, str] | None = None) -> Response:
    return RedirectResponse(url, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})

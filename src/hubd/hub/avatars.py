"""Generated avatars: a coloured square with the account's initial, the same for the same name."""

from __future__ import annotations

import hashlib
import html


def avatar_svg(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    initial = html.escape((name[:1] or "?").upper())
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" '
            f'aria-label="{html.escape(name)}"><rect width="64" height="64" rx="12" fill="hsl({hue},55%,42%)"/>'
            '<text x="32" y="42" font-family="sans-serif" font-size="30" font-weight="600" fill="#fff" '
            f'text-anchor="middle">{initial}</text></svg>')

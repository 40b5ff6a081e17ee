"""OpenID Connect sign-in (filled in below)."""

from __future__ import annotations

from hubd.hub.service import Hub


def enabled(hub: Hub) -> bool:
    return bool(getattr(hub.settings, "oidc_issuer", ""))

"""Errors of the mirror, in the Hub's shape."""

from __future__ import annotations

from hubd.hub.errors import HubError


class UpstreamUnavailable(HubError):
    """The upstream hub could not be reached (or answered 5xx) and the cache does not hold the answer."""

    status = 504
    code = "UpstreamUnavailable"
    default_message = "The upstream hub is unavailable and this content is not cached"

"""The outbound allow-list of webhooks (pure functions of hub/webhooks.py)."""

from __future__ import annotations

import pytest

from hubd.hub.errors import BadRequest
from hubd.hub.webhooks import address_allowed, check_url


@pytest.mark.parametrize("addr", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fd00::1",
                                  "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1", "100.64.0.1"])
def test_default_refuses_internal(addr: str) -> None:
    assert not address_allowed(addr, "public")


@pytest.mark.parametrize("addr", ["8.8.8.8", "2606:4700:4700::1111"])
def test_default_allows_public(addr: str) -> None:
    assert address_allowed(addr, "public")


def test_networks_listed_explicitly() -> None:
    assert address_allowed("127.0.0.1", "127.0.0.0/8")
    assert not address_allowed("8.8.8.8", "127.0.0.0/8")  # without "public", only the listed networks
    assert address_allowed("10.1.2.3", "public,10.1.0.0/16") and address_allowed("8.8.8.8", "public,10.1.0.0/16")


@pytest.mark.parametrize("url", ["ftp://example.org/", "http://user:pw@example.org/", "http:///x", "", "x" * 3000,
                                 "http://127.0.0.1/", "http://localhost/", "http://[::1]:80/", "http://example.org:99999/"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(BadRequest):
        check_url(url, "public")


def test_good_url() -> None:
    assert check_url("https://hooks.example.org/in?x=1", "public") == "https://hooks.example.org/in?x=1"
    assert check_url("http://127.0.0.1:9/", "127.0.0.0/8") == "http://127.0.0.1:9/"

"""The client address behind reverse proxies: only trusted proxies' X-Forwarded-For is believed."""

from __future__ import annotations

import pytest

from hubd.clientaddr import MAX_HOPS, client_address, parse_networks
from hubd.config import load_settings

PROXIES = "127.0.0.1, 10.0.0.0/8"


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_address("198.51.100.4", ["203.0.113.9"], "") == "198.51.100.4"
    assert client_address(None, [], "") == "unknown"


def test_an_untrusted_peer_cannot_name_another_client() -> None:
    assert client_address("198.51.100.4", ["203.0.113.9"], PROXIES) == "198.51.100.4"


def test_the_nearest_untrusted_hop_is_the_client() -> None:
    # the client wrote "1.2.3.4" itself; 203.0.113.9 reached the outer proxy 10.1.1.1, which reached 127.0.0.1
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.9", "10.1.1.1"], PROXIES) == "203.0.113.9"
    assert client_address("127.0.0.1", ["203.0.113.9"], PROXIES) == "203.0.113.9"
    assert client_address("::1", ["203.0.113.9"], "::1") == "203.0.113.9"


def test_garbage_and_missing_hops_stop_at_the_last_real_address() -> None:
    assert client_address("127.0.0.1", [], PROXIES) == "127.0.0.1"
    assert client_address("127.0.0.1", ["unknown"], PROXIES) == "127.0.0.1"
    assert client_address("127.0.0.1", ["<script>, 10.2.2.2"], PROXIES) == "10.2.2.2"
    assert client_address("127.0.0.1", ["10.2.2.2, 10.3.3.3"], PROXIES) == "10.2.2.2"  # all trusted: the first


def test_a_long_forwarded_chain_is_read_only_at_its_end() -> None:
    chain = ", ".join(["10.9.9.9"] * 10_000)
    assert client_address("127.0.0.1", [chain], PROXIES) == "10.9.9.9"
    spoof = ", ".join(["203.0.113.1"] + ["10.9.9.9"] * MAX_HOPS)
    assert client_address("127.0.0.1", [spoof], PROXIES) == "10.9.9.9"


def test_a_bad_network_fails_at_start() -> None:
    assert parse_networks(" 127.0.0.1 ,10.0.0.0/8,") == parse_networks("127.0.0.1/32,10.0.0.0/8")
    with pytest.raises(ValueError, match="trusted_proxies"):
        load_settings({"trusted_proxies": "10.0.0.0/33"}, env={})

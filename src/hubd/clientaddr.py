"""Who a request comes from: the peer, or behind trusted reverse proxies the address they forwarded."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# X-Forwarded-For entries looked at, from the right: a client may prepend any number of its own
MAX_HOPS = 16


@lru_cache(maxsize=8)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """The `trusted_proxies` setting: comma-separated addresses or CIDR networks (ValueError names a bad one)."""
    out = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"setting trusted_proxies: {item!r} is not an address or a network") from None
    return tuple(out)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: list[str], trusted_spec: str) -> str:
    """The client's address. Only a trusted peer's X-Forwarded-For is believed, read from the right (each
    proxy appends the address it received from), skipping further trusted proxies: entries left of the
    first untrusted one may be anything the client wrote."""
    if peer is None:
        return "unknown"
    networks = parse_networks(trusted_spec)
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",")][-MAX_HOPS:]
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # garbage (or a hostname, "unknown"): the last address known to be real
        address = hop
        if not _trusted(hop, networks):
            return hop
    return address

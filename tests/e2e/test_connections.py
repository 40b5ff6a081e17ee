"""Connections that never finish a request cannot stall hubd: idle sockets and slow-loris senders are
closed after the idle limit or answered 408 (a streamed upload that trickles, by the minimum body rate),
/healthz keeps answering from another connection meanwhile,
and a second `hubd serve` on a taken port refuses to start."""

from __future__ import annotations

import contextlib
import hashlib
import selectors
import socket
import subprocess
import time
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import BIN, Hubd, make_hubd
from tests.resources import HealthProbe, peak_rss_mib, rss_mib

IDLE = 3.0  # --idle-timeout of the dedicated server: short, so the test sees connections closed
BODY = 3.0  # --body-timeout
JSON_BODY = 4.0  # --json-body-timeout
SLACK = 2.5  # scheduling on a shared 2-core machine
RSS_GROWTH_MIB = 64  # 450 hostile connections may cost the worker at most this much memory


@pytest.fixture(scope="module")
def server() -> Hubd:  # type: ignore[misc]
    s = make_hubd("conns", extra_args=["--idle-timeout", str(IDLE), "--body-timeout", str(BODY),
                                       "--json-body-timeout", str(JSON_BODY)])
    s.add_user("carol")
    s.start()
    r = httpx.post(f"{s.url}/api/repos/create", json={"name": "pub"},
                   headers={"authorization": f"Bearer {s.tokens['carol']}"})
    assert r.status_code == 200, r.text
    yield s
    s.stop()


@dataclass
class Conn:
    kind: str
    sock: socket.socket
    opened: float
    pending: bytes = b""  # what it still trickles, `step` bytes at a time
    step: int = 1
    answer: bytes = b""
    closed_after: float | None = None
    answered_after: float | None = None
    log: list[str] = field(default_factory=list)


def _connect(server: Hubd, kind: str, first: bytes = b"", trickle: bytes = b"", step: int = 1) -> Conn:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if first:
        sock.sendall(first)
    sock.setblocking(False)
    return Conn(kind, sock, time.monotonic(), trickle, step)


def _lfs_put_head(server: Hubd, size: int) -> bytes:
    """The signed LFS upload of a new object (streamed to storage, never read whole), as a raw request head."""
    data = b"x" * size
    batch = httpx.post(f"{server.url}/carol/pub.git/info/lfs/objects/batch",
                       headers={"authorization": f"Bearer {server.tokens['carol']}"},
                       json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                             "objects": [{"oid": hashlib.sha256(data).hexdigest(), "size": size}]}).json()
    href = httpx.URL(batch["objects"][0]["actions"]["upload"]["href"])
    target = href.raw_path.decode()
    return (f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n").encode()


def _paths_info_head(server: Hubd, length: int) -> bytes:
    # paths-info of a public repo: anonymous, and it reads a JSON body whole (Ctx.body)
    return (f"POST /api/models/carol/pub/paths-info/main HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


@pytest.mark.once  # the server's memory and liveness, whatever the backend
def test_idle_and_slow_connections_cannot_stall_the_server(server: Hubd) -> None:
    before = rss_mib(server.proc.pid)
    conns: list[Conn] = []
    with HealthProbe(server.url, interval=0.1) as probe:
        started = time.monotonic()
        conns += [_connect(server, "idle") for _ in range(400)]
        # slow headers: a request head that never ends, one byte every 0.3 s
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 10_000
        conns += [_connect(server, "slow-headers", head[:10], head[10:]) for _ in range(20)]
        # slow body: headers complete, then the JSON body 1 KiB every 0.3 s, above the minimum body rate (the
        # JSON body's overall deadline)
        body = b'{"paths": [' + b" " * 200_000 + b"]}"
        conns += [_connect(server, "slow-body", _paths_info_head(server, len(body)) + body[:5], body[5:], 1024)
                  for _ in range(20)]
        # stalled body: half a body, then silence (the per-read timeout)
        conns += [_connect(server, "stalled-body", _paths_info_head(server, 1000) + b'{"paths": [')
                  for _ in range(10)]
        # slow stream: an LFS upload trickled a byte every 0.3 s passes every per-read deadline, not the
        # minimum body rate (--body-min-rate, counted after the first --body-timeout)
        conns += [_connect(server, "slow-stream", _lfs_put_head(server, 100_000) + b"x", b"x" * 99_999)
                  for _ in range(5)]
        # idle after a first request on a kept-alive connection
        conns += [_connect(server, "kept-alive", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") for _ in range(10)]

        sel = selectors.DefaultSelector()
        for c in conns:
            sel.register(c.sock, selectors.EVENT_READ, c)
        last_trickle = 0.0
        deadline = started + max(IDLE, JSON_BODY, BODY) + 3 * SLACK
        while time.monotonic() < deadline and sel.get_map():
            now = time.monotonic()
            if now - last_trickle >= 0.3:
                last_trickle = now
                for c in conns:
                    if c.pending and c.closed_after is None and c.answered_after is None:
                        with contextlib.suppress(OSError):  # closed by the server: the read side records when
                            c.pending = c.pending[c.sock.send(c.pending[:c.step]):]
            for key, _ in sel.select(timeout=0.05):
                c = key.data
                try:
                    data = c.sock.recv(65536)
                except (ConnectionResetError, BlockingIOError) as exc:
                    data = b"" if isinstance(exc, ConnectionResetError) else None  # type: ignore[assignment]
                if data is None:
                    continue
                if data:
                    c.answer += data
                    if c.answered_after is None:
                        c.answered_after = time.monotonic() - c.opened
                    continue
                c.closed_after = time.monotonic() - c.opened
                sel.unregister(c.sock)
        sel.close()
        peak = peak_rss_mib(server.proc.pid)
        after = rss_mib(server.proc.pid)

    for c in conns:
        c.sock.close()
    by_kind: dict[str, list[Conn]] = {}
    for c in conns:
        by_kind.setdefault(c.kind, []).append(c)

    # /healthz answered within 1 s from another connection the whole time
    assert probe.answers >= 10 and probe.slowest < 1.0, (probe.answers, probe.slowest)
    # idle and slow-header connections are closed at the idle limit, without an answer
    for kind in ("idle", "slow-headers"):
        closed = [c.closed_after for c in by_kind[kind]]
        assert all(t is not None and IDLE - 0.5 <= t <= IDLE + SLACK for t in closed), (kind, closed)
        assert all(not c.answer for c in by_kind[kind]), kind
    # a kept-alive connection gets its answer, then is closed at the idle limit too
    for c in by_kind["kept-alive"]:
        assert c.answer.startswith(b"HTTP/1.1 200"), c.answer[:100]
        assert c.closed_after is not None and c.closed_after <= IDLE + SLACK, c.closed_after
    # a body that trickles is answered 408 at the overall deadline (JSON) or when it falls below the minimum
    # rate after the grace (a stream), one that stalls at the per-read timeout
    for kind, limit in (("slow-body", JSON_BODY), ("stalled-body", BODY), ("slow-stream", BODY)):
        for c in by_kind[kind]:
            assert c.answer.startswith(b"HTTP/1.1 408"), (kind, c.answer[:200])
            assert b"x-error-code: requesttimeout" in c.answer.lower(), c.answer[:300]
            assert c.answered_after is not None and limit - 0.5 <= c.answered_after <= limit + SLACK, c.answered_after
            assert c.closed_after is not None, kind  # the rest of that body is never read: connection closed
    assert peak < before + RSS_GROWTH_MIB and after < before + RSS_GROWTH_MIB, (before, peak, after)
    print(f"worker RSS {before:.0f} MiB before, peak {peak:.0f}, after {after:.0f}; "
          f"slowest /healthz {probe.slowest * 1000:.0f} ms over {probe.answers} probes")
    # and the server is still healthy for ordinary clients
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_second_server_on_a_taken_port_refuses_to_start(server: Hubd) -> None:
    other = make_hubd("second")
    proc = subprocess.run([str(BIN / "hubd"), "serve", "--port", str(server.port), *other.store],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert f"cannot listen on 127.0.0.1:{server.port}" in proc.stderr
    assert "Address already in use" in proc.stderr
    # the first server still answers alone
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200

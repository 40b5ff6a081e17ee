"""Commit latency with and without webhooks watching the repo (issue 13: deliveries never delay a commit).

    .venv/bin/python bench/webhook_latency.py [--commits 100]

One hubd (SQLite, local dir, --webhook-targets 127.0.0.0/8). Repo `plain` has no webhook; repo `hooked` is
watched by three: a receiver answering 200, one answering 500 (retried with back-off) and one that hangs
(until the delivery timeout). Small NDJSON commits alternate between the two repos from one keep-alive client;
printed: p50/p95/max of the client-observed commit time for each, the difference of the medians, and how many
deliveries the receivers saw. The events are queued in the commit's own transaction (one indexed query and a
row per webhook), and delivered by separate worker threads.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _hubd import Hubd, temp_root  # noqa: E402


class Receivers:
    def __init__(self) -> None:
        self.counts = {"/ok": 0, "/fail": 0, "/hang": 0}
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.counts[self.path] = outer.counts.get(self.path, 0) + 1
                if self.path == "/hang":
                    outer.release.wait(60)
                self.send_response(500 if self.path == "/fail" else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def commit_body(i: int) -> bytes:
    lines = [{"key": "header", "value": {"summary": f"c{i}"}},
             {"key": "file", "value": {"path": f"f{i % 10}.txt", "encoding": "base64",
                                       "content": base64.b64encode(f"{i}\n".encode()).decode()}}]
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def in_process_cost(data: Path, user: str, n: int = 300) -> str:
    """What emitting costs inside a write transaction, without the HTTP and machine noise around a commit:
    an empty write transaction against one that emits a repo event to the three webhooks (3 delivery rows and
    3 jobs), and one for the unwatched repo (the matching query only)."""
    from hubd.config import load_settings
    from hubd.hub.service import open_hub
    from hubd.hub.webhooks import emit_repo_event, ref_update

    hub = open_hub(load_settings({"data_dir": str(data)}))
    watched, plain = hub.repos.find("model", user, "hooked"), hub.repos.find("model", user, "plain")
    assert watched is not None and plain is not None

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        t = []
        for _ in range(n):
            t0 = time.perf_counter()
            with hub.db.write() as conn:
                fn(conn)
            t.append((time.perf_counter() - t0) * 1000)
        return statistics.median(t)

    empty = timed(lambda conn: None)
    unwatched = timed(lambda conn: emit_repo_event(conn, plain, "repo.content", "update",
                                                   updated_refs=[ref_update("refs/heads/main", "a" * 40, "b" * 40)]))
    three = timed(lambda conn: emit_repo_event(conn, watched, "repo.content", "update",
                                               updated_refs=[ref_update("refs/heads/main", "a" * 40, "b" * 40)]))
    hub.db.dispose()
    return (f"empty write tx {empty:.2f} ms, + match (no webhook) {unwatched - empty:+.2f} ms, "
            f"+ 3 webhooks {three - empty:+.2f} ms (medians of {n})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=100)
    args = ap.parse_args()
    receivers = Receivers()
    with temp_root() as root:
        data = root / "data"
        data.mkdir()
        with Hubd(data, "--webhook-targets", "127.0.0.0/8", "--webhook-timeout", "5") as hub:
            h = {"authorization": f"Bearer {hub.token}"}
            with httpx.Client(base_url=hub.url, headers=h, timeout=60) as c:
                for name in ("plain", "hooked"):
                    c.post("/api/repos/create", json={"name": name, "type": "model"}).raise_for_status()
                for path in ("/ok", "/fail", "/hang"):
                    c.post("/api/settings/webhooks", json={
                        "url": receivers.url + path, "watched": [{"type": "model", "name": f"{hub.user}/hooked"}],
                        "domains": ["repo"], "secret": "bench"}).raise_for_status()
                times: dict[str, list[float]] = {"plain": [], "hooked": []}
                for i in range(args.commits):
                    for name in ("plain", "hooked"):
                        t0 = time.perf_counter()
                        r = c.post(f"/api/models/{hub.user}/{name}/commit/main", content=commit_body(i),
                                   headers={"content-type": "application/x-ndjson"})
                        r.raise_for_status()
                        times[name].append((time.perf_counter() - t0) * 1000)
                time.sleep(3)
        emit_cost = in_process_cost(data, hub.user)
    receivers.close()
    for name, t in times.items():
        print(f"{name:7s} commit: p50 {statistics.median(t):.1f} ms, p95 {pct(t, 0.95):.1f} ms, "
              f"max {max(t):.1f} ms ({len(t)} commits)")
    diff = statistics.median(times["hooked"]) - statistics.median(times["plain"])
    print(f"median difference (hooked - plain): {diff:+.2f} ms")
    print(f"deliveries seen: {receivers.counts}")
    print(f"in the commit transaction (in-process, same database, stopped server): {emit_cost}")


if __name__ == "__main__":
    main()

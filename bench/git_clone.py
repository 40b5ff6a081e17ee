"""Clone time of a 1,000-file repo from hubd (smart HTTP: protocol v2, git's default, and v0) beside
`git daemon` serving a bare copy of the same repo, in the same run. The repo is made with one NDJSON API
commit; the baseline is a bare mirror cloned from hubd itself, so both servers hand out the very same objects.

    python bench/git_clone.py [--files 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import time
from pathlib import Path

from _hubd import Hubd, free_port, temp_root


def clone_seconds(url: str, dest: Path, protocol: str = "2") -> float:
    started = time.perf_counter()
    subprocess.run(["git", "-c", f"protocol.version={protocol}", "clone", "-q", "--bare", url, str(dest)],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def times(values: list[float]) -> str:
    return f"fastest {min(values):.3f} s, median {statistics.median(values):.3f} s  " + \
        f"(runs: {', '.join(format(v, '.3f') for v in values)})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with temp_root() as root:
        data = root / "data"
        data.mkdir()
        with Hubd(data) as hub:
            repo_id = hub.create_repo("bench")
            lines = [json.dumps({"key": "header", "value": {"summary": "files"}})]
            for i in range(args.files):
                content = f"file {i}\n".encode() * 40
                lines.append(json.dumps({"key": "file", "value": {
                    "path": f"dir{i % 20}/f{i}.txt", "encoding": "base64",
                    "content": base64.b64encode(content).decode()}}))
            hub.request("POST", f"/api/models/{repo_id}/commit/main", "\n".join(lines).encode(),
                        "application/x-ndjson")
            host = hub.url.removeprefix("http://")
            hub_url = f"http://x:{hub.token}@{host}/{repo_id}"
            served = root / "served"
            served.mkdir()
            clone_seconds(hub_url, served / "bench.git")
            port = free_port()
            daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={served}",
                                       f"--port={port}", "--listen=127.0.0.1", str(served)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(0.5)
                hub_times, hub_v0_times, daemon_times = [], [], []
                for n in range(args.runs):
                    hub_times.append(clone_seconds(hub_url, root / f"h{n}.git"))
                    hub_v0_times.append(clone_seconds(hub_url, root / f"h0-{n}.git", protocol="0"))
                    daemon_times.append(clone_seconds(f"git://127.0.0.1:{port}/bench.git", root / f"d{n}.git"))
            finally:
                daemon.terminate()
                daemon.wait()
    print(f"git clone of a {args.files}-file repo, {args.runs} runs")
    print(f"  hubd, protocol v2 (git's default): {times(hub_times)}")
    print(f"  hubd, protocol v0:                 {times(hub_v0_times)}")
    print(f"  git daemon (same objects, v2):     {times(daemon_times)}")
    median_daemon = statistics.median(daemon_times)
    print(f"  ratio hubd / git daemon (median): v2 {statistics.median(hub_times) / median_daemon:.1f}x, "
          f"v0 {statistics.median(hub_v0_times) / median_daemon:.1f}x")


if __name__ == "__main__":
    main()

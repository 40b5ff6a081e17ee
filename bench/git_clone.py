"""Clone time of a 1,000-file repo from hubd (smart HTTP over dulwich) beside `git daemon` serving a bare
copy of the same repo, in the same run. The repo is made with one NDJSON API commit; the baseline is a bare
mirror cloned from hubd itself, so both servers hand out the very same objects.

    python bench/git_clone.py [--files 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import time
from pathlib import Path

from _hubd import Hubd, free_port, summary, temp_root


def clone_seconds(url: str, dest: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", "--bare", url, str(dest)], check=True, capture_output=True, env=env)
    return time.perf_counter() - started


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
                hub_times, daemon_times = [], []
                for n in range(args.runs):
                    hub_times.append(clone_seconds(hub_url, root / f"h{n}.git"))
                    daemon_times.append(clone_seconds(f"git://127.0.0.1:{port}/bench.git", root / f"d{n}.git"))
            finally:
                daemon.terminate()
                daemon.wait()
    print(f"git clone of a {args.files}-file repo, {args.runs} runs")
    print(f"  hubd (smart HTTP, dulwich): {summary(hub_times, 's', '.3f')}")
    print(f"  git daemon (same objects): {summary(daemon_times, 's', '.3f')}")
    median_hub, median_daemon = sorted(hub_times)[len(hub_times) // 2], sorted(daemon_times)[len(daemon_times) // 2]
    print(f"  ratio hubd / git daemon (median): {median_hub / median_daemon:.1f}x")


if __name__ == "__main__":
    main()

"""Commits of many files, and whether a commit's cost grows with history length or repo size.

    .venv/bin/python bench/commit_many.py [--files 10000] [--size 1024] [--history 200]

1. One NDJSON commit adding `--files` small files (in 100 folders), timed from the POST to hubd's answer;
   the server's own time is its Server-Timing. Baseline in the same run: `git add -A && git commit` of the
   same files in a fresh local repository (git writes loose objects too, with no fsync by default), and the
   same with core.fsync=all.
2. A one-file commit on top of that 10,000-file repo against one in an empty repo (repo size).
3. `--history` one-file commits in a row: the median of the first 20 against the median of the last 20.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

from _hubd import Hubd, temp_root


def ndjson(files: dict[str, bytes], summary: str) -> bytes:
    lines = [{"key": "header", "value": {"summary": summary}}]
    lines += [{"key": "file", "value": {"path": p, "content": base64.b64encode(c).decode(), "encoding": "base64"}}
              for p, c in files.items()]
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def commit(hubd: Hubd, repo: str, body: bytes) -> tuple[float, float]:
    """(seconds until the answer, the server's Server-Timing in seconds)."""
    req = urllib.request.Request(f"{hubd.url}/api/models/{repo}/commit/main", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {hubd.token}",
                                          "Content-Type": "application/x-ndjson"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as resp:
        resp.read()
        timing = resp.headers.get("Server-Timing", "app;dur=0")
    return time.perf_counter() - t, float(timing.split("dur=")[1]) / 1000


def git_commit(root: Path, files: dict[str, bytes], fsync: bool) -> float:
    work = root / ("git-fsync" if fsync else "git")
    work.mkdir()
    for path, content in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(content)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    if fsync:
        subprocess.run(["git", "config", "core.fsync", "all"], cwd=work, check=True)
    t = time.perf_counter()
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "many"], cwd=work, check=True, env=env)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--history", type=int, default=200)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    files = {f"d{i % 100:02d}/f{i:06d}.txt": os.urandom(args.size // 2).hex().encode()[:args.size]
             for i in range(args.files)}
    body = ndjson(files, "many files")
    with temp_root() as root:
        git_s = git_commit(root, files, fsync=False)
        git_fsync_s = git_commit(root, files, fsync=True)
        (root / "data").mkdir()
        with Hubd(root / "data") as hubd:
            big, small = hubd.create_repo("many"), hubd.create_repo("few")
            many_wall, many_server = commit(hubd, big, body)
            on_big = [commit(hubd, big, ndjson({f"extra/{i}.txt": b"x"}, "one"))[1] for i in range(10)]
            on_small = [commit(hubd, small, ndjson({f"extra/{i}.txt": b"x"}, "one"))[1] for i in range(10)]
            hist = [commit(hubd, small, ndjson({f"h/{i % 50}.txt": str(i).encode()}, "h"))[1]
                    for i in range(args.history)]
    print(f"commits: {args.files} files x {args.size} B in one NDJSON commit ({len(body) / 1e6:.1f} MB body), "
          f"{os.cpu_count()} cpus, load average before {load:.2f}")
    print(f"  hubd commit           : {many_wall:.2f} s to the answer, server time {many_server:.2f} s  (goal <= 5 s)")
    print(f"  git add+commit        : {git_s:.2f} s    ratio hubd/git (speed) {git_s / many_server:.2f}")
    print(f"  git, core.fsync=all   : {git_fsync_s:.2f} s    ratio hubd/git (speed) {git_fsync_s / many_server:.2f}")
    med_big, med_small = statistics.median(on_big), statistics.median(on_small)
    print(f"  one-file commit, repo of {args.files} files: median {med_big * 1000:.1f} ms; empty repo: "
          f"{med_small * 1000:.1f} ms  (ratio {med_big / med_small:.2f}, flat = 1)")
    first, last = statistics.median(hist[:20]), statistics.median(hist[-20:])
    print(f"  one-file commit, history: first 20 median {first * 1000:.1f} ms, commits {args.history - 19}-"
          f"{args.history} median {last * 1000:.1f} ms  (ratio {last / first:.2f}, flat = 1)")


if __name__ == "__main__":
    main()

"""`snapshot_download` of many small files from hubd against nginx serving the same files and JSON.

    .venv/bin/python bench/snapshot_throughput.py [--files 1000] [--size 1024] [--workers 8] [--runs 3]
                                                  [--py-spy DIR]

The client is huggingface_hub's own `snapshot_download` in a subprocess with a fresh cache each run: one
`revision/main`, one recursive tree listing, then a HEAD and a GET of `/resolve/{sha}/{path}` per file. nginx
serves the JSON hubd answered (saved as files) and the files under the same URLs, with `X-Repo-Commit` added.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _hubd import Hubd, temp_root
from _nginx import Nginx

CLIENT = """\
import sys, time
from huggingface_hub import snapshot_download
endpoint, repo, token, cache, workers = sys.argv[1:6]
t = time.perf_counter()
snapshot_download(repo, endpoint=endpoint, token=token, cache_dir=cache, max_workers=int(workers))
print(time.perf_counter() - t)
"""


def commit_files(hubd: Hubd, repo: str, files: dict[str, bytes]) -> float:
    lines = [{"key": "header", "value": {"summary": f"{len(files)} files"}}]
    lines += [{"key": "file", "value": {"path": p, "content": base64.b64encode(c).decode(), "encoding": "base64"}}
              for p, c in files.items()]
    body = "".join(json.dumps(x) + "\n" for x in lines).encode()
    t = time.perf_counter()
    hubd.request("POST", f"/api/models/{repo}/commit/main", body, "application/x-ndjson")
    return time.perf_counter() - t


def snapshot(endpoint: str, repo: str, token: str, cache: Path, workers: int) -> float:
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HOME": str(cache.parent / "hf-home")}
    proc = subprocess.Popen([sys.executable, "-c", CLIENT, endpoint, repo, token, str(cache), str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"snapshot_download from {endpoint} failed:\n{err[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    CLIENT_CPU.append(usage.ru_utime + usage.ru_stime)  # cumulative over the children waited for so far
    return float(out.strip().splitlines()[-1])


CLIENT_CPU: list[float] = [0.0]


def mirror_to_www(hubd: Hubd, repo: str, www: Path) -> tuple[str, str]:
    """Save what the client will ask for as static files at the same paths; returns the commit sha and nginx
    locations that answer each file with hubd's headers. The ETag matters: the client names its cache blobs by
    it, and nginx's own ETag (mtime-size) is the same for every file of one size written in one second, so the
    client fetched one file and linked the other 999 to it (the baseline was 13 s where it did a tenth of the
    work, and its snapshot was wrong)."""
    info = hubd.request("GET", f"/api/models/{repo}/revision/main")
    sha = json.loads(info)["sha"]
    # every page of the tree in one answer (hubd pages at 1,000 entries and links the next): nginx answers the
    # client's first tree request with all of it, one request fewer than hubd, not 11 files fewer
    entries: list[dict] = []
    url: str | None = f"{hubd.url}/api/models/{repo}/tree/{sha}?recursive=True&expand=False"
    while url:
        resp = httpx.get(url, headers={"Authorization": f"Bearer {hubd.token}"}, timeout=60)
        resp.raise_for_status()
        entries += resp.json()
        url = resp.links.get("next", {}).get("url")
    tree = json.dumps(entries).encode()
    api = www / "api" / "models" / repo
    (api / "revision").mkdir(parents=True)
    (api / "revision" / "main").write_bytes(info)
    (api / "tree").mkdir()
    (api / "tree" / sha).write_bytes(tree)
    locations = ["        location /api/ { default_type application/json; }\n"]
    for entry in json.loads(tree):  # the files given and what hubd adds (.gitattributes)
        if entry["type"] == "file":
            target = www / repo / "resolve" / sha / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(hubd.request("GET", f"/{repo}/resolve/{sha}/{entry['path']}"))
            locations.append(f"        location = /{repo}/resolve/{sha}/{entry['path']} {{ etag off; "
                             f"add_header X-Repo-Commit {sha}; add_header ETag '\"{entry['oid']}\"'; }}\n")
    return sha, "".join(locations)


def check_snapshot(cache: Path, files: dict[str, bytes]) -> None:
    """Every file of the snapshot has the bytes committed (the client links files to blobs named by ETag)."""
    snapshots = list(cache.glob("models--*/snapshots/*"))
    if len(snapshots) != 1:
        raise RuntimeError(f"expected one snapshot in {cache}, found {snapshots}")
    wrong = [path for path, content in files.items()
             if not (snapshots[0] / path).is_file() or (snapshots[0] / path).read_bytes() != content]
    if wrong:
        raise RuntimeError(f"{len(wrong)} files of the snapshot {snapshots[0]} are missing or differ from the "
                           f"commit, e.g. {wrong[0]}")


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of the processes so far (for a figure that the machine's load disturbs less)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def nginx_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--size", type=int, default=1024, help="bytes per file (default 1024)")
    ap.add_argument("--workers", type=int, default=8, help="client threads (default 8, the client's default)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--py-spy", metavar="DIR", help="record the hubd worker with py-spy during the hubd runs")
    ap.add_argument("--serve-arg", action="append", default=[], help="extra `hubd serve` argument")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    files = {f"d{i % 10}/f{i:05d}.txt": os.urandom(args.size // 2).hex().encode()[:args.size]
             for i in range(args.files)}
    times: dict[str, list[float]] = {"hubd": [], "nginx": []}
    cpu: dict[str, list[float]] = {"hubd": [], "nginx": []}
    client_cpu: dict[str, list[float]] = {"hubd": [], "nginx": []}
    with temp_root() as root:
        (root / "data").mkdir()
        with Hubd(root / "data", *args.serve_arg) as hubd:
            repo = hubd.create_repo("snap")
            commit_s = commit_files(hubd, repo, files)
            sha, locations = mirror_to_www(hubd, repo, root / "www")
            with Nginx(root, root / "www", locations) as nginx:
                urls = {"hubd": hubd.url, "nginx": nginx.url}
                pids = {"hubd": list(hubd.pids()), "nginx": nginx_pids(nginx.proc.pid)}
                for url in urls.values():  # warm-up, not counted
                    snapshot(url, repo, hubd.token, root / "cache", args.workers)
                for _ in range(args.runs):  # interleaved, so drift hits both alike
                    for server, url in urls.items():
                        before = cpu_seconds(pids[server])
                        times[server].append(snapshot(url, repo, hubd.token, root / "cache", args.workers))
                        try:
                            check_snapshot(root / "cache", files)
                        except RuntimeError as exc:
                            raise RuntimeError(f"{server}: {exc}") from None
                        cpu[server].append(cpu_seconds(pids[server]) - before)
                        client_cpu[server].append(CLIENT_CPU[-1] - CLIENT_CPU[-2])
                if args.py_spy:  # one more hubd run, not counted, sampling the worker's GIL holder
                    worker = max(p for p, role in hubd.pids().items() if role == "worker")
                    out = Path(args.py_spy) / "snapshot.txt"
                    spy = subprocess.Popen(["py-spy", "record", "--gil", "-p", str(worker), "-r", "200", "-f", "raw",
                                            "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(1)
                    snapshot(hubd.url, repo, hubd.token, root / "cache", args.workers)
                    spy.send_signal(signal.SIGINT)
                    spy.wait(30)
                    print(f"py-spy samples of the worker (GIL holder) in {out}")
    print(f"snapshot_download: {args.files} files x {args.size} B, {args.workers} client threads, {args.runs} runs, "
          f"{os.cpu_count()} cpus, load average before {load:.2f}")
    print(f"  (the commit of the {args.files} files took {commit_s:.2f} s; hubd at {urlsplit(hubd.url).netloc})")
    for server, values in times.items():
        print(f"  {server:5s}: best {min(values):.2f} s, median {statistics.median(values):.2f} s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)}); "
              f"server CPU median {statistics.median(cpu[server]):.2f} s, "
              f"client CPU median {statistics.median(client_cpu[server]):.2f} s")
    best = min(times["nginx"]) / min(times["hubd"])
    median = statistics.median(times["nginx"]) / statistics.median(times["hubd"])
    print(f"  ratio hubd/nginx (speed): best {best:.2f}, median {median:.2f}  (goal >= 0.7)")


if __name__ == "__main__":
    main()

"""Parquet export of a CSV: hubd's converter and its whole export job, beside pyarrow.csv → parquet done
directly, in the same run. Prints wall time and peak RSS for each.

    python bench/parquet_convert.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from _hubd import Hubd, RssSampler, curl, temp_root

MiB = 1024 * 1024

BASELINE = """
import sys, pyarrow.csv as c, pyarrow.parquet as pq
pq.write_table(c.read_csv(sys.argv[1]), sys.argv[2], compression="snappy")
"""
HUBD_CORE = """
import sys
from pathlib import Path
from hubd.dataviewer.convert import convert_split
r = convert_split([(Path(sys.argv[1]), "csv")], Path(sys.argv[2]))
print(r.num_rows, len(r.shards))
"""


def make_csv(path: Path, size: int) -> int:
    rng = random.Random(0)
    cities = ["paris", "oslo", "lima", "tokyo", "cairo", "quito"]
    rows = 0
    with open(path, "w") as f:
        f.write("id,name,score,city,flag,comment\n")
        while f.tell() < size:
            lines = []
            for _ in range(10000):
                rows += 1
                lines.append(f"{rows},user{rng.randrange(10**6)},{rng.random() * 100:.4f},{rng.choice(cities)},"
                             f"{rng.random() < 0.5},\"{'lorem ipsum ' * rng.randrange(1, 6)}\"\n")
            f.write("".join(lines))
    return rows


def timed(code: str, *args: str) -> tuple[float, float, str]:
    """Run Python code in a child; (seconds, peak RSS MiB of the child, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _pid, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise RuntimeError(f"child failed with status {status}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out.strip()


def end_to_end(root: Path, csv: Path) -> tuple[float, str]:
    """Upload the CSV to a dataset repo through the LFS API, then time the export job until it is listed."""
    data = root / "hub"
    data.mkdir()
    with Hubd(data, "--lfs-multipart-threshold", str(64 * 1024**3)) as hub:
        hub.request("POST", "/api/repos/create", json.dumps({"name": "big", "type": "dataset"}).encode(),
                    "application/json")
        digest = hashlib.sha256()
        with open(csv, "rb") as f:
            while block := f.read(16 * MiB):
                digest.update(block)
        oid = digest.hexdigest()
        body = {"operation": "upload", "objects": [{"oid": oid, "size": csv.stat().st_size}]}
        resp = json.loads(hub.request("POST", "/datasets/alice/big.git/info/lfs/objects/batch",
                                      json.dumps(body).encode(), "application/vnd.git-lfs+json"))
        curl("-T", str(csv), "-H", "Expect:", "-o", "/dev/null", resp["objects"][0]["actions"]["upload"]["href"])
        lines = [{"key": "header", "value": {"summary": "csv"}},
                 {"key": "lfsFile", "value": {"path": "train.csv", "algo": "sha256", "oid": oid,
                                              "size": csv.stat().st_size}}]
        with RssSampler(hub) as rss:
            start = time.perf_counter()
            hub.request("POST", "/api/datasets/alice/big/commit/main",
                        "".join(json.dumps(x) + "\n" for x in lines).encode(), "application/x-ndjson")
            while True:
                try:
                    listed = json.loads(hub.request("GET", "/api/datasets/alice/big/parquet"))
                    if listed["parquet_files"] or listed["failed"]:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            seconds = time.perf_counter() - start
        return seconds, rss.report()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mib", type=int, default=1024)
    args = ap.parse_args()
    with temp_root() as root:
        csv = root / "data.csv"
        rows = make_csv(csv, args.size_mib * MiB)
        size = csv.stat().st_size
        print(f"CSV: {size / MiB:.0f} MiB, {rows} rows, 6 columns")
        base_s, base_rss, _ = timed(BASELINE, str(csv), str(root / "direct.parquet"))
        core_s, core_rss, out = timed(HUBD_CORE, str(csv), str(root / "hubd-out"))
        print(f"  pyarrow.csv.read_csv → write_table   {base_s:6.1f} s   peak RSS {base_rss:6.0f} MiB")
        print(f"  hubd convert_split (streamed)        {core_s:6.1f} s   peak RSS {core_rss:6.0f} MiB   "
              f"({out.split()[0]} rows, {out.split()[1]} shards)   time ratio {core_s / base_s:.2f}x")
        e2e_s, rss = end_to_end(root, csv)
        print(f"  hubd export job, commit → listed     {e2e_s:6.1f} s   time ratio {e2e_s / base_s:.2f}x "
              f"(includes reading the CSV out of storage and storing the shards)")
        print(f"    server RSS: {rss}")


if __name__ == "__main__":
    main()

"""Server time of the web pages beside the API's JSON for the same data, from the Server-Timing header
(time in hubd before the body is sent): the repo page and the API's repo info, the tree page and the API's
tree listing of the same folder, the models listing page and /api/models. The repo has 1,000 files
(20 folders of 50 at the root's level below, plus 1,000 at the root with --flat) and a README with a card.

    python bench/page_latency.py [--files 1000] [--runs 50]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import urllib.request

from _hubd import Hubd, temp_root

README = b"""---
license: apache-2.0
tags: [bench, text-classification]
model-index:
- name: bench
  results:
  - task: {type: text-classification}
    dataset: {type: imdb, name: IMDB}
    metrics: [{type: accuracy, value: 0.9}]
---
# Bench model

""" + b"Some words of a model card, with **bold** and `code`.\n\n" * 200


def server_ms(url: str) -> float:
    with urllib.request.urlopen(url) as r:
        r.read()
        timing = r.headers["Server-Timing"]
    return float(timing.split("dur=")[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    with temp_root() as root:
        data = root / "data"
        data.mkdir()
        with Hubd(data) as hub:
            repo_id = hub.create_repo("pages")
            lines = [json.dumps({"key": "header", "value": {"summary": "files"}}),
                     json.dumps({"key": "file", "value": {"path": "README.md", "encoding": "base64",
                                                          "content": base64.b64encode(README).decode()}})]
            for i in range(args.files):
                lines.append(json.dumps({"key": "file", "value": {
                    "path": f"f{i:04d}.txt", "encoding": "base64",
                    "content": base64.b64encode(f"file {i}\n".encode() * 40).decode()}}))
            hub.request("POST", f"/api/models/{repo_id}/commit/main", "\n".join(lines).encode(),
                        "application/x-ndjson")
            for i in range(30):
                hub.create_repo(f"other{i}")
            pairs = {
                "repo page": (f"/{repo_id}", f"/api/models/{repo_id}"),
                f"tree page ({args.files + 2} entries)": (f"/{repo_id}/tree/main", f"/api/models/{repo_id}/tree/main"),
                "listing page (30)": ("/models?sort=lastModified", "/api/models?sort=lastModified&limit=30"),
            }
            print(f"server time (Server-Timing), median and p90 of {args.runs} requests after 3 warm-ups")
            for name, (page, api) in pairs.items():
                for _ in range(3):
                    server_ms(hub.url + page)
                    server_ms(hub.url + api)
                page_t = sorted(server_ms(hub.url + page) for _ in range(args.runs))
                api_t = sorted(server_ms(hub.url + api) for _ in range(args.runs))
                p90 = int(args.runs * 0.9)
                print(f"  {name:32s} page {statistics.median(page_t):7.2f} ms (p90 {page_t[p90]:7.2f})   "
                      f"API JSON {statistics.median(api_t):7.2f} ms (p90 {api_t[p90]:7.2f})   "
                      f"ratio {statistics.median(page_t) / statistics.median(api_t):.2f}x")


if __name__ == "__main__":
    main()

"""Listing latency of /api/models on a hub of 1M synthetic repos, on SQLite and on PostgreSQL.

    .venv/bin/python bench/listing_latency.py [--count 1000000] [--backends sqlite,postgres] [--requests 200]
        [--sqlite-cache DIR] [--explain]

Per backend: seed (seed_repos.py), start `hubd serve`, wait for its startup recount job, warm up, then run the
query mix sequentially from one keep-alive client and print p50/p99 of the server time (Server-Timing) and of
the client-observed latency per query kind, twice: as clients send it (repeated queries are answered from the
page cache) and with a query string of its own per request (`&nocache=N`, which hubd ignores but which is part
of the cache key), so every request queries the database and builds its page. Then wrk (16 connections, 10 s)
measures req/s of the mix, of one 30-item page and of one 1000-item page, each against a bare granian ASGI app
(`bare_app` below) answering the same bytes with no work at all, and prints the ratios.
--sqlite-file / --pg-database: use a database seeded beforehand (seed_repos.py) instead of seeding.
--explain: for every kind that misses the goal (server p50 <= 5 ms, p99 <= 50 ms), run the slowest request's
query in-process through hubd's list_rows, and print each SQL statement it ran, its time, and its plan.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import psycopg
from _hubd import Hubd, free_port, temp_root
from seed_repos import PIPELINES, REAL_WORDS, seed
from sqlalchemy import event, text

from hubd.db.engine import Database

GOAL_P50, GOAL_P99 = 5.0, 50.0
SORTS = ("downloads", "likes", "lastModified", "createdAt", "trendingScore")
DEEP_FROM, DEEP_TO = 20, 25  # pages of each cursor chain that count as deep


def bare_app_body() -> bytes:
    path = os.environ.get("LISTING_BARE_BODY")
    return Path(path).read_bytes() if path else b"[]"


_BARE: list[Any] = []


async def bare_app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """The bare endpoint: the same bytes hubd answered, from memory, with no work per request."""
    if scope["type"] != "http":
        return
    if not _BARE:
        _BARE.append(bare_app_body())
    body = _BARE[0]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))]


def pick_terms(url: str) -> dict[str, list[str]]:
    """Search words, authors and tags of known frequency, read from the seeded database."""
    db = Database(url)
    rng = random.Random(7)
    with db.read() as conn:
        public = "type = 'model' AND private = :f"
        ns = conn.execute(text(f"SELECT namespace, count(*) FROM repos WHERE {public} GROUP BY namespace "
                               "ORDER BY 2 DESC, 1"), {"f": False}).all()
        ids = conn.execute(text(f"SELECT search_id FROM repos WHERE {public}"), {"f": False}).scalars().all()
        tag_counts = conn.execute(text("SELECT tag, count(*) FROM repo_tags GROUP BY tag ORDER BY 2 DESC, 1")).all()
    n = len(ids)
    share = {w: sum(w in s for s in ids) / n for w in REAL_WORDS}
    common = sorted((w for w in share if 0.02 <= share[w] <= 0.10), key=lambda w: abs(share[w] - 0.05))[:5]
    words = Counter(w for s in ids for w in re.split(r"[/-]", s) if len(w) >= 9)
    rare_candidates = sorted(w for w, c in words.items() if c <= 2)
    rare_candidates = rng.sample(rare_candidates, min(60, len(rare_candidates)))
    rare = [w for w in rare_candidates if sum(w in s for s in ids) <= 10][:20]
    total = sum(c for _, c in ns)
    skip = {*PIPELINES, "transformers", "region:us"}
    common_tags = [t for t, c in tag_counts if 0.05 <= c / total <= 0.25 and t not in skip][:5]
    mid_tags = [t for t, c in tag_counts if 0.003 <= c / total <= 0.012][:5]
    rare_tags = [t for t, c in tag_counts if c <= 3 and t.startswith("arxiv:")]
    rare_tags = rng.sample(rare_tags, min(20, len(rare_tags)))
    db.dispose()
    print(f"  {n:,} public models; search '{common[0]}' matches {share[common[0]]:.1%} of them, "
          f"'{rare[0]}' {sum(rare[0] in s for s in ids)}; author {ns[0][0]} owns {ns[0][1]:,}; "
          f"tag {common_tags[0]} on {dict(tag_counts)[common_tags[0]]:,} repos, {mid_tags[0]} on "
          f"{dict(tag_counts)[mid_tags[0]]:,}, {rare_tags[0]} on {dict(tag_counts)[rare_tags[0]]}")
    return {"common": common, "rare": rare, "big": [a for a, _ in ns[:3]],
            "small": [a for a, c in rng.sample(ns, len(ns)) if 2 <= c <= 5][:40],
            "common_tags": common_tags, "mid_tags": mid_tags, "rare_tags": rare_tags}


def query_mix(t: dict[str, list[str]]) -> dict[str, list[dict[str, str]]]:
    """Query kind -> the parameter sets its requests cycle through (all on /api/models)."""
    mix: dict[str, list[dict[str, str]]] = {
        "search common": [{"search": w} for w in t["common"]],
        "search rare": [{"search": w} for w in t["rare"]],
        "author big": [{"author": a} for a in t["big"]],
        "author small": [{"author": a} for a in t["small"]],
        "tag common": [{"filter": g} for g in t["common_tags"]],
        "tag mid (~0.5%)": [{"filter": g} for g in t["mid_tags"]],
        "tag mid, each sort": [{"filter": g, "sort": s, "direction": d} for g in t["mid_tags"][:2] for s in SORTS
                               for d in ("-1", "1")],
        "tag rare": [{"filter": g} for g in t["rare_tags"]],
        "pipeline_tag": [{"pipeline_tag": p} for p in PIPELINES[:6]],
    }
    for key in SORTS:
        for direction in ("-1", "1"):
            mix[f"sort {key} {'desc' if direction == '-1' else 'asc'}"] = [{"sort": key, "direction": direction}]
    mix["limit 30"] = [{"sort": key, "limit": "30"} for key in SORTS]
    mix["limit 1000"] = [{"sort": key, "limit": "1000"} for key in SORTS]
    return mix


class Client:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=300)
        self.samples: dict[str, list[tuple[float, float, str]]] = {}  # kind -> (server ms, client ms, url)

    def get(self, url: str, kind: str | None = None) -> httpx.Response:
        started = time.perf_counter()
        r = self.http.get(url)
        client_ms = (time.perf_counter() - started) * 1000
        r.raise_for_status()
        server_ms = float(r.headers["server-timing"].split("dur=")[1])
        if kind:
            self.samples.setdefault(kind, []).append((server_ms, client_ms, url))
        return r

    def chain(self, params: dict[str, str], kind: str | None, deep_urls: list[str] | None = None) -> None:
        url: str | None = "/api/models?" + urlencode(params)
        for page in range(1, DEEP_TO + 1):
            assert url is not None
            r = self.get(url, kind if page >= DEEP_FROM else None)
            if deep_urls is not None and page >= DEEP_FROM:
                deep_urls.append(url)
            url = r.links.get("next", {}).get("url")
            if url is None:
                break
            url = url.removeprefix(str(self.http.base_url).rstrip("/"))


def run_mix(base: str, mix: dict[str, list[dict[str, str]]], requests: int,
            bust: bool = False) -> tuple[Client, list[str]]:
    """The mix; with `bust`, each request has a query string of its own (no cached page can answer it)."""
    c = Client(base)
    n = iter(range(10**9))

    def own(params: dict[str, str]) -> dict[str, str]:
        return {**params, "nocache": f"{os.getpid()}-{next(n)}"} if bust else params

    deep_params = [{"sort": key} for key in SORTS] + [{"sort": key, "direction": "1"} for key in SORTS]
    for variants in mix.values():  # warm-up: every variant once, and a deep chain
        for params in variants:
            c.get("/api/models?" + urlencode(own(params)))
    c.chain(own(deep_params[0]), None)
    for kind, variants in mix.items():
        for i in range(requests):
            c.get("/api/models?" + urlencode(own(variants[i % len(variants)])), kind)
    deep_urls: list[str] = []
    for i in range(math.ceil(requests / (DEEP_TO - DEEP_FROM + 1))):
        c.chain(own(deep_params[i % len(deep_params)]), f"deep pages {DEEP_FROM}-{DEEP_TO}", deep_urls)
    return c, deep_urls


def report(backend: str, c: Client, what: str) -> list[str]:
    """Print the table; return the kinds that miss the goal."""
    print(f"\n{backend}, {what}: server = Server-Timing app;dur, client = observed by a keep-alive httpx client (ms)")
    print(f"{'query kind':<24}{'n':>5}{'srv p50':>9}{'srv p99':>9}{'cli p50':>9}{'cli p99':>9}  goal")
    missed, everything = [], []
    for kind, samples in c.samples.items():
        srv, cli = [s[0] for s in samples], [s[1] for s in samples]
        everything += samples
        ok = pct(srv, 0.5) <= GOAL_P50 and pct(srv, 0.99) <= GOAL_P99
        if not ok:
            missed.append(kind)
        print(f"{kind:<24}{len(samples):>5}{pct(srv, .5):>9.2f}{pct(srv, .99):>9.2f}{pct(cli, .5):>9.2f}"
              f"{pct(cli, .99):>9.2f}  {'ok' if ok else 'MISS'}")
    srv, cli = [s[0] for s in everything], [s[1] for s in everything]
    print(f"{'overall':<24}{len(srv):>5}{pct(srv, .5):>9.2f}{pct(srv, .99):>9.2f}{pct(cli, .5):>9.2f}"
          f"{pct(cli, .99):>9.2f}")
    return missed


def wrk(base: str, paths: list[str], root: Path, seconds: int = 10, connections: int = 16) -> float:
    script = root / "mix.lua"
    script.write_text("local paths = {" + ",".join(json.dumps(p) for p in paths) + "}\nlocal i = 0\n"
                      "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script),
                          base], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def bare_rps(root: Path, body: bytes) -> float:
    (root / "page.json").write_bytes(body)
    port = free_port()  # a new one per run: the bare app reads its page once
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("granian")), "--interface", "asgi", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "1", "--backpressure", "256", "--log-level", "warning", "--working-dir",
         str(Path(__file__).parent), "listing_latency:bare_app"],
        env={**os.environ, "LISTING_BARE_BODY": str(root / "page.json")}, start_new_session=True)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        return wrk(f"http://127.0.0.1:{port}", ["/"], root)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait()


def wait_recount(url: str, timeout: float = 1800) -> float:
    """hubd enqueues a recount of downloads/trending at start: wait until it is done (it is not a listing)."""
    db, started = Database(url), time.perf_counter()
    try:
        while time.perf_counter() - started < timeout:
            with db.read() as conn:
                if conn.execute(text("SELECT 1 FROM jobs WHERE kind = 'recount' AND state = 'done'")).first():
                    return time.perf_counter() - started
            time.sleep(0.5)
        raise RuntimeError("the startup recount did not finish")
    finally:
        db.dispose()


def explain(url: str, kind: str, query: str) -> None:
    """The statements hubd runs for one request (list_rows: the pages of the mix ask for no card data, config
    or expand, which are list_repos'), each timed and with its plan."""
    from hubd.hub.listing import ListQuery, list_rows

    db = Database(url)
    db.create_schema()  # sets has_trigram_index as in the server
    qp = parse_qs(query)
    q = ListQuery(repo_type="model", search=qp.get("search", []), author=qp.get("author", [None])[0],
                  tags=qp.get("filter", []) + qp.get("pipeline_tag", []), sort=qp.get("sort", ["createdAt"])[0],
                  descending=qp.get("direction", ["-1"])[0] != "1", limit=int(qp.get("limit", ["30"])[0]),
                  cursor=qp.get("cursor", [None])[0])  # as hubd.api.listing._query builds it
    seen: list[tuple[str, Any]] = []
    event.listen(db.engine, "before_cursor_execute", lambda _c, _cur, stmt, params, _ctx, _many:
                 seen.append((stmt, params)) if not stmt.startswith(("BEGIN", "EXPLAIN")) else None)
    list_rows(db, None, q)
    print(f"\n--- {kind}: GET /api/models?{query}")
    with db.read() as conn:
        for stmt, params in list(seen):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                conn.exec_driver_sql(stmt, params).all()
                times.append((time.perf_counter() - started) * 1000)
            shown = re.sub(r"(?:(%\(\w+\)s(?:::\w+)?|\?), ){3,}", r"\1, ..., ", stmt)
            print(f"\n[{min(times):.2f} ms] {shown}\n  params: {str(params)[:300]}")
            if db.is_sqlite:
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params).all()
                depth = {0: -1}
                for node, parent, _, detail in rows:
                    depth[node] = depth.get(parent, -1) + 1
                    print("  " + "  " * depth[node] + detail)
            else:
                for (line,) in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params).all():
                    print("  " + line)
    db.dispose()


def schema_key(count: int) -> str:
    src = Path(inspect.getfile(Database)).parent
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(src.rglob("*.py"))))
    digest.update(Path(__file__).with_name("seed_repos.py").read_bytes())
    return f"seed-{count}-{digest.hexdigest()[:12]}.db"


def prepare(backend: str, root: Path, args: argparse.Namespace) -> str:
    """A seeded database for the backend; its URL."""
    if backend == "sqlite":
        target = root / "data" / "hubd.db"
        target.parent.mkdir(parents=True)
        cached = Path(args.sqlite_cache) / schema_key(args.count) if args.sqlite_cache else None
        if args.sqlite_file:
            print(f"  seeded SQLite file {args.sqlite_file} (copied)")
            cached = Path(args.sqlite_file)
        elif cached and cached.exists():
            print(f"  seeded SQLite file from cache {cached}")
        else:
            seeded = cached or target
            seeded.parent.mkdir(parents=True, exist_ok=True)
            print(f"  seeding took {seed(f'sqlite:///{seeded}', args.count, quiet=True):.1f} s")
        if cached:
            shutil.copyfile(cached, target)
        return f"sqlite:///{target}"
    if args.pg_database:
        print(f"  seeded PostgreSQL database {args.pg_database} (used as it is, kept)")
        return args.pg_url.rsplit("/", 1)[0] + "/" + args.pg_database
    name = f"hubd_bench_listing_{os.getpid()}"
    with psycopg.connect(args.pg_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = args.pg_url.rsplit("/", 1)[0] + "/" + name
    print(f"  seeding took {seed(url, args.count, quiet=True):.1f} s")
    return url


def drop_pg(args: argparse.Namespace) -> None:
    if args.pg_database:
        return
    with psycopg.connect(args.pg_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS hubd_bench_listing_{os.getpid()} WITH (FORCE)")


def run_backend(backend: str, args: argparse.Namespace) -> None:
    with temp_root() as root:
        print(f"\n=== {backend}, {args.count:,} repos (load average {os.getloadavg()[0]:.2f} at start)")
        try:
            url = prepare(backend, root, args)
            if backend == "postgres":
                os.environ["HUBD_DATABASE_URL"] = url  # for Hubd's `users add` and `tokens add` too
            # a user of its own: a database seeded beforehand keeps the users of earlier runs
            with Hubd(root / "data" if backend == "sqlite" else root, "--workers", "1",
                      user=f"bench{os.getpid()}") as hubd:
                print(f"  startup recount job took {wait_recount(url):.1f} s")
                if backend == "postgres":
                    with psycopg.connect(url, autocommit=True) as conn:
                        # the recount rewrote every row with downloads (and their tag rows)
                        conn.execute("VACUUM (ANALYZE) repos, repo_tags")
                terms = pick_terms(url)
                mix = query_mix(terms)
                cold, _ = run_mix(hubd.url, mix, args.requests, bust=True)
                missed = report(backend, cold, "every request built (own query string, no cached page)")
                c, deep_urls = run_mix(hubd.url, mix, args.requests)
                report(backend, c, "as sent (repeated queries answered from the page cache)")
                plain, big = "/api/models?sort=downloads&limit=30", "/api/models?sort=downloads&limit=1000"
                pages = {plain: c.get(plain).content, big: c.get(big).content}
                paths = [s[2] for samples in c.samples.values() for s in samples[:10]] + deep_urls[:10]
                rps = {"listing mix": wrk(hubd.url, paths, root), "plain page (sort=downloads, limit 30)":
                       wrk(hubd.url, [plain], root), "limit 1000 (sort=downloads)": wrk(hubd.url, [big], root)}
            bare = {plain: bare_rps(root, pages[plain]), big: bare_rps(root, pages[big])}
            print(f"\n{backend} throughput (wrk, 16 connections, 10 s, 1 worker each) against a bare granian app "
                  "answering the same bytes in the same run:")
            for (kind, value), path in zip(rps.items(), (plain, plain, big), strict=True):
                print(f"  {kind:<40}{value:>9.0f} req/s   bare {bare[path]:>7.0f} req/s   "
                      f"ratio {value / bare[path]:.3f}   (goal >= 0.5)")
            for kind in missed if args.explain else []:
                try:
                    explain(url, kind, max(cold.samples[kind])[2].split("?", 1)[1])  # the slowest request
                except Exception as exc:  # noqa: BLE001 - hubd's internals may have moved on
                    print(f"\n--- {kind}: explain failed: {exc!r}")
        finally:
            os.environ.pop("HUBD_DATABASE_URL", None)
            if backend == "postgres":
                drop_pg(args)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--requests", type=int, default=200, help="sequential requests per query kind")
    ap.add_argument("--sqlite-cache", help="keep the seeded SQLite file here between runs (keyed by schema)")
    ap.add_argument("--sqlite-file", help="a SQLite file seeded beforehand (copied, left as it is)")
    ap.add_argument("--pg-database", help="a PostgreSQL database seeded beforehand on --pg-url's server (kept)")
    ap.add_argument("--pg-url", default="postgresql://root@127.0.0.1/postgres", help="a superuser's database")
    ap.add_argument("--explain", action="store_true", help="SQL and plans of the kinds that miss the goal")
    args = ap.parse_args()
    for backend in args.backends.split(","):
        run_backend(backend, args)


if __name__ == "__main__":
    main()

"""The dataset viewer and the parquet export under hostile input (issue 9, items 6 and 13 and the low
items): every attack gets a 4xx in the Hub's error shape, changes nothing, and costs hubd bounded memory
and time. A dedicated hubd, so its worker's memory reflects these attacks only."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from hubd.dataviewer import query
from tests.conftest import Hubd, eventually, repo_jobs, running_hubd
from tests.resources import HealthProbe, peak_rss_mib, rss_mib

ROWS = "".join(f"person{i},{20 + i % 50},{['paris', 'oslo', 'lima'][i % 3]}\n" for i in range(300))
CSV = "name,age,city\n" + ROWS


@pytest.fixture(scope="module")
def server() -> Iterator[Hubd]:
    with running_hubd("viewer-attacks", "mallory") as hub:
        yield hub


@pytest.fixture(scope="module")
def api(server: Hubd) -> HfApi:
    return HfApi(endpoint=server.url, token=server.tokens["mallory"])


def export_jobs(server: Hubd, repo_id: str) -> list[dict]:
    """The parquet jobs of a repo, read from hubd's own database (to see attempts and state)."""
    return repo_jobs(server, repo_id, "parquet")


def wait_export(server: Hubd, repo_id: str, timeout: float = 120) -> dict:
    def ready() -> dict | None:
        r = httpx.get(f"{server.url}/api/datasets/{repo_id}/parquet")
        if r.status_code != 200:
            return None
        body = r.json()
        return body if (body["parquet_files"] or body["failed"]) else None

    result = eventually(ready, timeout=timeout, interval=0.3)
    assert result, f"the parquet export did not finish: {export_jobs(server, repo_id)}"
    return result


def push(api: HfApi, repo_id: str, files: dict[str, bytes]) -> None:
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    api.create_commit(repo_id, [CommitOperationAdd(p, b) for p, b in files.items()], commit_message="data",
                      repo_type="dataset")


@pytest.fixture(scope="module")
def people(server: Hubd, api: HfApi) -> str:
    repo_id = "mallory/people"
    push(api, repo_id, {"train.csv": CSV.encode()})
    wait_export(server, repo_id)
    return repo_id


def assert_hub_error(r: httpx.Response, status: int | tuple[int, ...]) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers.get("x-error-code") and r.headers.get("x-error-message")
    assert r.json()["error"] == r.headers["x-error-message"]


def snapshot(server: Hubd, api: HfApi, repo_id: str) -> tuple:
    """What a rejected request must not change: the dataset's refs and the bytes in storage."""
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    return ([(b.ref, b.target_commit) for b in refs.branches], [(c.ref, c.target_commit) for c in refs.converts],
            server.stored_bytes(""))


WHERE_ATTACKS = [
    '"len"("generate_series"(1,10000000))>0',  # the 1.3 GB query, anonymous
    '"upper"(name) = \'X\'',
    'name."upper"() = \'X\'',
    "upper(name) = 'X'",
    "read_csv('/etc/passwd') IS NOT NULL",
    "age > (SELECT count(*) FROM data)",
    "1=1; DROP TABLE data",
    "1=1 OFFSET 1",
    "1=1 LIMIT 1000000",
    "age = 1 -- comment",
    "age = 1 /* comment */",
    "age::VARCHAR = '20'",
    "nope = 1",
    "\"city\"=\"oslo\"",
    "(" * 100 + "age = 1" + ")" * 100,
    "NOT " * 500 + "age = 1",
    "age = 1 OR " * 1000 + "age = 2",  # 11 kB
    "name = '" + "x" * 30_000 + "'",  # 30 kB (httpx refuses URLs above 64 kB)
]


def test_where_attacks_fail_safely(server: Hubd, api: HfApi, people: str) -> None:
    before = snapshot(server, api, people)
    base = {"dataset": people, "config": "default", "split": "train"}
    for where in WHERE_ATTACKS:
        r = httpx.get(f"{server.url}/viewer/filter", params={**base, "where": where}, timeout=30)
        assert_hub_error(r, 400)
        assert r.json()["error"].startswith("Parameter 'where' is invalid"), (where[:50], r.json())
    # valid filters still work, quoted or not, with the Hub's documented syntax
    ok = httpx.get(f"{server.url}/viewer/filter",
                   params={**base, "where": "\"age\" > 67 AND city IN ('oslo', 'lima')", "orderby": "name DESC"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["num_rows_total"] == sum(1 for i in range(300) if 20 + i % 50 > 67 and i % 3 != 0)
    assert snapshot(server, api, people) == before


def test_orderby_and_search_attacks_fail_safely(server: Hubd, api: HfApi, people: str) -> None:
    before = snapshot(server, api, people)
    base = {"dataset": people, "config": "default", "split": "train"}
    for orderby in ["upper(name)", '"upper"(name)', "name LIMIT 1", "name; DROP TABLE data", "random()",
                    "name -- x", "(SELECT 1)", "nope", "name " * 1000]:
        r = httpx.get(f"{server.url}/viewer/filter", params={**base, "orderby": orderby})
        assert_hub_error(r, 400)
        assert r.json()["error"].startswith("Parameter 'orderby' is invalid"), orderby
    r = httpx.get(f"{server.url}/viewer/search", params={**base, "query": "x" * 30_000})
    assert_hub_error(r, 400)
    # search input is a bound parameter: SQL in it is just text to look for
    r = httpx.get(f"{server.url}/viewer/search", params={**base, "query": "') OR 1=1 --"})
    assert r.status_code == 200 and r.json()["num_rows_total"] == 0
    assert snapshot(server, api, people) == before


@pytest.mark.parametrize(("params", "status"), [
    ({"offset": str(10**24)}, 400),
    ({"offset": "9" * 5000}, 400),
    ({"offset": "-1"}, 400),
    ({"offset": "1e3"}, 400),
    ({"length": str(10**24)}, 400),
    ({"length": "-5"}, 400),
    ({"length": "101"}, 400),
])
def test_paging_parameters_out_of_range(server: Hubd, people: str, params: dict, status: int) -> None:
    base = {"dataset": people, "config": "default", "split": "train"}
    for endpoint in ("rows", "filter", "search"):
        extra = {"query": "person"} if endpoint == "search" else {}
        r = httpx.get(f"{server.url}/viewer/{endpoint}", params={**base, **extra, **params})
        assert_hub_error(r, status)
    # an offset past the end is not an error: an empty page, as on the Hub
    r = httpx.get(f"{server.url}/viewer/rows", params={**base, "offset": 10**9})
    assert r.status_code == 200 and r.json()["rows"] == []


def test_parquet_shard_number_out_of_range(server: Hubd, people: str) -> None:
    base = f"{server.url}/api/datasets/{people}/parquet/default/train"
    assert httpx.get(f"{base}/0.parquet").status_code == 302
    for n in ["9" * 5000, "1" + "0" * 30, "1"]:
        assert_hub_error(httpx.get(f"{base}/{n}.parquet"), 404)
    assert_hub_error(httpx.get(f"{server.url}/api/datasets/{people}/parquet/default/nope/0.parquet"), 404)


def test_deeply_nested_json_is_a_recorded_failure(server: Hubd, api: HfApi) -> None:
    """pyarrow's JSON reader overflows the C stack on 10,000 levels (SIGSEGV: the worker dies and the job
    is retried, the dataset "not ready" meanwhile). Now the export finishes at once with the error."""
    deep = 100_000
    lines = json.dumps({"a": 1}) + "\n" + '{"a": ' + "[" * deep + "]" * deep + "}\n"
    array = '[{"a": ' + "[" * deep + "]" * deep + "}]"
    for suffix, name, body in [("lines", "train.jsonl", lines), ("array", "train.json", array)]:
        repo_id = f"mallory/deep-{suffix}"
        push(api, repo_id, {name: body.encode()})
        result = wait_export(server, repo_id, timeout=60)
        assert result["parquet_files"] == []
        error = result["failed"][0]["error"]["error"]
        assert "nested deeper than" in error and name in error and "'default'" in error, error
        valid = httpx.get(f"{server.url}/viewer/is-valid", params={"dataset": repo_id}).json()
        assert valid["viewer"] is False and valid["preview"] is False
        jobs = export_jobs(server, repo_id)  # one per commit to main; none retried, none failed
        assert jobs and all((j["state"], j["attempts"]) == ("done", 1) for j in jobs), jobs
    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.once  # the server's memory, whatever the backend
def test_big_json_array_streamed(server: Hubd, api: HfApi, tmp_path: Path) -> None:
    """8.8 MB of JSON array took 247 MB of RSS when loaded whole; now it is streamed element by element.
    The bound is on growth, not on the absolute RSS: what the server holds before depends on the
    backend's client libraries and on the tests that ran before this one."""
    rows = [{"id": i, "text": f"row number {i} " + "lorem ipsum " * 3, "tags": ["a", "b"], "score": i / 7}
            for i in range(200_000)]
    data = json.dumps(rows).encode()
    assert len(data) > 20 * 2**20
    repo_id = "mallory/big-array"
    before = rss_mib(server.proc.pid)
    with HealthProbe(server.url) as upload_probe:
        push(api, repo_id, {"train.json": data})
    with HealthProbe(server.url) as probe:  # the export runs after the commit, in the worker
        result = wait_export(server, repo_id, timeout=180)
    peak = peak_rss_mib(server.proc.pid)
    print(f"\nbig JSON array {len(data) / 2**20:.1f} MiB: RSS {before:.0f} MiB before, peak {peak:.0f} MiB, "
          f"/healthz slowest {upload_probe.slowest:.2f} s during the upload, {probe.slowest:.2f} s over "
          f"{probe.answers} probes during the export")
    assert result["failed"] == [] and len(result["parquet_files"]) == 1
    size = httpx.get(f"{server.url}/viewer/size", params={"dataset": repo_id}).json()["size"]
    assert size["dataset"]["num_rows"] == 200_000
    first = httpx.get(f"{server.url}/viewer/rows",
                      params={"dataset": repo_id, "config": "default", "split": "train", "offset": 199_999}).json()
    assert first["rows"][0]["row"]["id"] == 199_999 and first["rows"][0]["row"]["tags"] == ["a", "b"]
    # loaded whole, 24 MiB of JSON costs about ten times its size; streamed, the growth is the
    # parquet writer's row groups and the export's pyarrow pools
    assert peak - before < 250, (before, peak)
    assert probe.slowest < 1.0, probe.slowest


@pytest.mark.once  # the server's memory and liveness, whatever the backend
def test_hostile_queries_bounded(server: Hubd, api: HfApi, people: str) -> None:
    """The generate_series and big-expression attacks, many at once and anonymous: the worker's memory
    stays bounded and /healthz keeps answering within a second."""
    import concurrent.futures

    base = {"dataset": people, "config": "default", "split": "train"}
    attacks = [*WHERE_ATTACKS, "\"len\"(\"generate_series\"(1,100000000000))>0",
               "\"list_sum\"(\"range\"(100000000)) > 0", "x" * 60_000]

    def hit(where: str) -> int:
        return httpx.get(f"{server.url}/viewer/filter", params={**base, "where": where}, timeout=30).status_code

    before = rss_mib(server.proc.pid)
    with HealthProbe(server.url) as probe, concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(hit, attacks * 5))
    after = rss_mib(server.proc.pid)
    print(f"\nhostile queries: RSS {before:.0f} → {after:.0f} MiB, /healthz slowest {probe.slowest:.2f} s "
          f"over {probe.answers} probes")
    assert set(statuses) <= {400, 414, 431}, set(statuses)
    assert after < before + 50
    assert probe.slowest < 1.0


def test_allowed_but_costly_query_is_bounded(tmp_path: Path) -> None:
    """What the validator allows can still be costly (a LIKE over many rows, ORDER BY over big strings):
    DuckDB runs it with a memory limit, one thread, and an interrupt from a timer. Real DuckDB over a real
    parquet file, through the module the viewer uses."""
    path = tmp_path / "big.parquet"
    n = 3_000_000
    with duckdb.connect() as conn:
        conn.execute(f"COPY (SELECT i AS id, repeat(md5(i::VARCHAR), 8) AS text FROM range({n}) t(i)) "
                     f"TO '{path}' (FORMAT parquet)")
    schema = pq.read_schema(path)
    assert schema.names == ["id", "text"]
    slow = "(\"text\" LIKE '%a%b%c%d%e%f%0%1%2%3%4%5%6%7%8%9%z%')"
    started = time.monotonic()
    with pytest.raises(query.QueryTooExpensive, match="took more than"), \
            query.connect([str(path)], query.Limits(timeout_s=0.2)) as session:
        query.filtered(session, slow, '"text" DESC', 0, 10)
    assert time.monotonic() - started < 5
    # ORDER BY over ~800 MB of strings needs more than 64 MiB and may not spill to disk
    with pytest.raises(query.QueryTooExpensive, match="MiB of memory"), \
            query.connect([str(path)], query.Limits(memory_mib=64, timeout_s=60)) as session:
        query.filtered(session, None, '"text" DESC', 0, 10)
    # and the connection is a sandbox: no other file is readable
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1]}), other)
    with query.connect([str(path)]) as session, pytest.raises(duckdb.Error, match="[Pp]ermission"):
        session.execute(f"SELECT * FROM read_parquet('{other}')")

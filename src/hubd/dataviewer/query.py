"""The viewer's queries, run by DuckDB over one split's parquet shards in a sandbox: the connection may
read exactly those files and nothing else, so a `where` clause cannot reach other data."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from hubd.dataviewer.features import json_value
from hubd.hub.errors import BadRequest, HubError

HISTOGRAM_BINS = 10
MAX_LABELS = 30


@dataclass(frozen=True)
class Limits:
    """What one viewer query may take. DuckDB's own default memory limit is 80 % of the machine's RAM and
    its thread count every core: far too much for one anonymous request."""

    memory_mib: int = 256
    timeout_s: float = 10.0
    threads: int = 1  # also keeps row order stable
    concurrent: int = 2  # queries at once per process: memory at most concurrent × memory_mib


class QueryTooExpensive(HubError):
    status = 400
    code = "QueryTooExpensive"
    default_message = "The query needs more time or memory than the viewer allows; narrow it"


class ViewerBusy(HubError):
    status = 503
    code = "ViewerBusy"
    default_message = "The dataset viewer is busy; try again shortly"


_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _slot(limits: Limits) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _slots.setdefault(limits.concurrent, threading.BoundedSemaphore(limits.concurrent))


def _literal(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Session:
    """One sandboxed DuckDB connection over a split's shards, with a deadline: every statement run through
    `execute` is interrupted from a timer once the request's time is spent."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, limits: Limits) -> None:
        self.conn = conn
        self.limits = limits
        self.deadline = _now() + limits.timeout_s

    def execute(self, sql: str, params: Sequence[object] | None = None) -> duckdb.DuckDBPyConnection:
        left = self.deadline - _now()
        if left <= 0:
            raise QueryTooExpensive(f"The query took more than {self.limits.timeout_s:g} s; narrow it")
        timer = threading.Timer(left, self.conn.interrupt)
        timer.start()
        try:
            return self.conn.execute(sql, list(params or []))
        except duckdb.InterruptException:
            raise QueryTooExpensive(f"The query took more than {self.limits.timeout_s:g} s; narrow it") from None
        except duckdb.OutOfMemoryException:
            raise QueryTooExpensive(
                f"The query needs more than {self.limits.memory_mib} MiB of memory; narrow it") from None
        finally:
            timer.cancel()

    def arrow(self, sql: str, params: Sequence[object] | None = None) -> pa.Table:
        # fetching runs under the same deadline as the statement
        result = self.execute(sql, params)
        timer = threading.Timer(max(0.0, self.deadline - _now()), self.conn.interrupt)
        timer.start()
        try:
            return _table(result)
        except duckdb.InterruptException:
            raise QueryTooExpensive(f"The query took more than {self.limits.timeout_s:g} s; narrow it") from None
        except duckdb.OutOfMemoryException:
            raise QueryTooExpensive(
                f"The query needs more than {self.limits.memory_mib} MiB of memory; narrow it") from None
        finally:
            timer.cancel()


def _now() -> float:
    return time.monotonic()


@contextmanager
def connect(paths: Sequence[str], limits: Limits | None = None) -> Iterator[Session]:
    """A sandboxed, bounded connection; waits at most the query timeout for a free slot (else 503)."""
    limits = limits or Limits()
    slot = _slot(limits)
    if not slot.acquire(timeout=limits.timeout_s):
        raise ViewerBusy()
    try:
        conn = duckdb.connect(config={
            "threads": limits.threads,
            "memory_limit": f"{limits.memory_mib}MB",
            # no spilling: a query that does not fit in memory_limit fails instead of writing to disk
            "temp_directory": "",
        })
        try:
            conn.execute(f"SET allowed_paths=[{', '.join(_literal(p) for p in paths)}]")
            conn.execute("SET enable_external_access=false")
            conn.execute("SET autoinstall_known_extensions=false")
            conn.execute("SET autoload_known_extensions=false")
            conn.execute("SET lock_configuration=true")
            files = "[" + ", ".join(_literal(p) for p in paths) + "]"
            conn.execute(f"CREATE VIEW data AS SELECT * FROM read_parquet({files})")
            conn.execute("CREATE VIEW numbered AS SELECT row_number() OVER () - 1 AS __row_idx, * "
                         f"FROM read_parquet({files})")
            yield Session(conn, limits)
        finally:
            conn.close()
    finally:
        slot.release()


def _table(result: duckdb.DuckDBPyConnection) -> pa.Table:
    out = result.arrow()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def _rows(table: pa.Table, first_idx: int | None = None) -> list[dict]:
    out: list[dict] = []
    names = [n for n in table.column_names if n != "__row_idx"]
    idx = table.column("__row_idx").to_pylist() if "__row_idx" in table.column_names else None
    for i, row in enumerate(table.select(names).to_pylist()):
        out.append({"row_idx": idx[i] if idx else (first_idx or 0) + i,
                    "row": {k: json_value(v) for k, v in row.items()}, "truncated_cells": []})
    return out


def page(session: Session, offset: int, length: int) -> list[dict]:
    table = session.arrow("SELECT * FROM data LIMIT ? OFFSET ?", [length, offset])
    return _rows(table, offset)


def filtered(session: Session, where: str | None, orderby: str | None, offset: int,
             length: int, params: list | None = None) -> tuple[list[dict], int]:
    """`where` and `orderby` are SQL built by `hubd.dataviewer.where` (or by `search`), never raw input."""
    clause = f"WHERE {where}" if where else ""
    order = f"ORDER BY {orderby}, __row_idx" if orderby else "ORDER BY __row_idx"
    try:
        total = session.execute(f"SELECT count(*) FROM numbered {clause}", params).fetchone()[0]  # type: ignore[index]
        table = session.arrow(f"SELECT * FROM numbered {clause} {order} LIMIT ? OFFSET ?",
                              [*(params or []), length, offset])
    except duckdb.Error as exc:
        # what the validator let through can still fail to bind or convert (a string compared with a
        # number column, say): the caller's mistake, a 400
        raise BadRequest(f"Cannot run the query: {str(exc).splitlines()[0]}") from None
    return _rows(table), int(total)


def search(session: Session, schema: pa.Schema, query: str, offset: int,
           length: int) -> tuple[list[dict], int]:
    """Rows whose text columns contain `query` (case-insensitive substring)."""
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if not text:
        return [], 0
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = " OR ".join(f"{quote(c)} ILIKE ? ESCAPE '\\'" for c in text)
    return filtered(session, where, None, offset, length, [pattern] * len(text))


def _histogram(session: Session, expr: str, lo: float, hi: float, integer: bool) -> dict:
    if lo == hi:
        n = session.execute(f"SELECT count({expr}) FROM data").fetchone()[0]  # type: ignore[index]
        return {"hist": [n], "bin_edges": [lo, hi]}
    width: float  # an int for integer columns
    edges: Sequence[float]
    if integer:
        width = max(1, -(-int(hi - lo + 1) // HISTOGRAM_BINS))
        edges = list(range(int(lo), int(hi) + 1, width)) + [int(hi)]
    else:
        width = (hi - lo) / HISTOGRAM_BINS
        edges = [lo + i * width for i in range(HISTOGRAM_BINS)] + [hi]
    bins = len(edges) - 1
    rows = session.execute(
        f"SELECT least(floor(({expr} - ?) / ?)::BIGINT, ?) AS b, count(*) FROM data WHERE {expr} IS NOT NULL "
        "GROUP BY b ORDER BY b", [lo, width, bins - 1]).fetchall()
    hist = [0] * bins
    for b, n in rows:
        hist[int(b)] += n
    return {"hist": hist, "bin_edges": [round(e, 5) if not integer else e for e in edges]}


def _numeric(session: Session, expr: str, total: int, integer: bool) -> dict:
    nulls, lo, hi, mean, median, std = session.execute(
        f"SELECT count(*) FILTER (WHERE {expr} IS NULL), min({expr}), max({expr}), avg({expr}), "
        f"median({expr}), stddev_samp({expr}) FROM data").fetchone()  # type: ignore[misc]
    stats = {"nan_count": nulls, "nan_proportion": round(nulls / total, 5) if total else 0.0,
             "min": lo, "max": hi, "mean": round(mean, 5) if mean is not None else None,
             "median": round(float(median), 5) if median is not None else None,
             "std": round(std, 5) if std is not None else None, "histogram": None}
    if lo is not None:
        stats["histogram"] = _histogram(session, expr, float(lo), float(hi), integer)
    return stats


def statistics(session: Session, schema: pa.Schema, total: int) -> list[dict]:
    out = []
    for f in schema:
        c = quote(f.name)
        t = f.type
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            kind = "int" if pa.types.is_integer(t) else "float"
            out.append({"column_name": f.name, "column_type": kind,
                        "column_statistics": _numeric(session, c, total, kind == "int")})
        elif pa.types.is_boolean(t):
            nulls, trues, falses = session.execute(
                f"SELECT count(*) FILTER (WHERE {c} IS NULL), count(*) FILTER (WHERE {c}), "
                f"count(*) FILTER (WHERE NOT {c}) FROM data").fetchone()  # type: ignore[misc]
            out.append({"column_name": f.name, "column_type": "bool", "column_statistics": {
                "nan_count": nulls, "nan_proportion": round(nulls / total, 5) if total else 0.0,
                "frequencies": {k: v for k, v in (("True", trues), ("False", falses)) if v}}})
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            nulls, unique = session.execute(
                f"SELECT count(*) FILTER (WHERE {c} IS NULL), count(DISTINCT {c}) FROM data").fetchone()  # type: ignore[misc]
            base = {"nan_count": nulls, "nan_proportion": round(nulls / total, 5) if total else 0.0}
            if unique <= MAX_LABELS:
                freq = dict(session.execute(f"SELECT {c}, count(*) FROM data WHERE {c} IS NOT NULL GROUP BY {c} "
                                         f"ORDER BY count(*) DESC, {c}").fetchall())
                out.append({"column_name": f.name, "column_type": "string_label", "column_statistics": {
                    **base, "no_label_count": 0, "no_label_proportion": 0.0, "n_unique": unique,
                    "frequencies": freq}})
            else:
                lengths = _numeric(session, f"length({c})", total, True)
                out.append({"column_name": f.name, "column_type": "string_text",
                            "column_statistics": {**lengths, **base}})
    return out

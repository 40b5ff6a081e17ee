"""The viewer's queries, run by DuckDB over one split's parquet shards in a sandbox: the connection may
read exactly those files and nothing else, so a `where` clause cannot reach other data."""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from hubd.dataviewer.features import json_value
from hubd.hub.errors import BadRequest

_ALLOWED_CALLS = {"and", "or", "not", "in", "is", "between", "like", "ilike"}
_FORBIDDEN = re.compile(r";|--|/\*|\*/|\b(select|from|union|attach|detach|copy|pragma|install|load|create|drop|"
                        r"insert|update|delete|call|set|export|import|with|describe|summarize)\b", re.IGNORECASE)
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_ORDER = re.compile(r'^\s*("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)(\s+(ASC|DESC))?'
                    r'(\s*,\s*("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)(\s+(ASC|DESC))?)*\s*$', re.IGNORECASE)
HISTOGRAM_BINS = 10
MAX_LABELS = 30


def _literal(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(paths: Sequence[str]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("SET threads=1")  # keeps row order stable and one query from taking every core
    conn.execute(f"SET allowed_paths=[{', '.join(_literal(p) for p in paths)}]")
    conn.execute("SET enable_external_access=false")
    conn.execute("SET autoinstall_known_extensions=false")
    conn.execute("SET autoload_known_extensions=false")
    conn.execute("SET lock_configuration=true")
    files = "[" + ", ".join(_literal(p) for p in paths) + "]"
    conn.execute(f"CREATE VIEW data AS SELECT * FROM read_parquet({files})")
    conn.execute(f"CREATE VIEW numbered AS SELECT row_number() OVER () - 1 AS __row_idx, * FROM read_parquet({files})")
    return conn


def _table(result: duckdb.DuckDBPyConnection) -> pa.Table:
    out = result.arrow()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def _rows(table: pa.Table, first_idx: int | None = None) -> list[dict]:
    out = []
    names = [n for n in table.column_names if n != "__row_idx"]
    idx = table.column("__row_idx").to_pylist() if "__row_idx" in table.column_names else None
    for i, row in enumerate(table.select(names).to_pylist()):
        out.append({"row_idx": idx[i] if idx else (first_idx or 0) + i,
                    "row": {k: json_value(v) for k, v in row.items()}, "truncated_cells": []})
    return out


def page(conn: duckdb.DuckDBPyConnection, offset: int, length: int) -> list[dict]:
    table = _table(conn.execute("SELECT * FROM data LIMIT ? OFFSET ?", [length, offset]))
    return _rows(table, offset)


def check_where(where: str) -> str:
    if _FORBIDDEN.search(where):
        raise BadRequest("Parameter 'where' is invalid")
    for name in _CALL.findall(where):
        if name.lower() not in _ALLOWED_CALLS:
            raise BadRequest("Parameter 'where' is invalid: function calls are not allowed")
    return where


def check_orderby(orderby: str) -> str:
    if not _ORDER.match(orderby) or _FORBIDDEN.search(orderby):
        raise BadRequest("Parameter 'orderby' is invalid")
    return orderby


def filtered(conn: duckdb.DuckDBPyConnection, where: str | None, orderby: str | None, offset: int,
             length: int, params: list | None = None) -> tuple[list[dict], int]:
    clause = f"WHERE {where}" if where else ""
    order = f"ORDER BY {orderby}, __row_idx" if orderby else "ORDER BY __row_idx"
    try:
        total = conn.execute(f"SELECT count(*) FROM numbered {clause}", params or []).fetchone()[0]  # type: ignore[index]
        table = _table(conn.execute(f"SELECT * FROM numbered {clause} {order} LIMIT ? OFFSET ?",
                                    [*(params or []), length, offset]))
    except duckdb.Error as exc:
        raise BadRequest(f"Cannot run the query: {str(exc).splitlines()[0]}") from None
    return _rows(table), int(total)


def search(conn: duckdb.DuckDBPyConnection, schema: pa.Schema, query: str, offset: int,
           length: int) -> tuple[list[dict], int]:
    """Rows whose text columns contain `query` (case-insensitive substring)."""
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if not text:
        return [], 0
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = " OR ".join(f"{quote(c)} ILIKE ? ESCAPE '\\'" for c in text)
    return filtered(conn, where, None, offset, length, [pattern] * len(text))


def _histogram(conn: duckdb.DuckDBPyConnection, expr: str, lo: float, hi: float, integer: bool) -> dict:
    if lo == hi:
        n = conn.execute(f"SELECT count({expr}) FROM data").fetchone()[0]  # type: ignore[index]
        return {"hist": [n], "bin_edges": [lo, hi]}
    if integer:
        width = max(1, -(-int(hi - lo + 1) // HISTOGRAM_BINS))
        edges = list(range(int(lo), int(hi) + 1, width)) + [int(hi)]
    else:
        width = (hi - lo) / HISTOGRAM_BINS
        edges = [lo + i * width for i in range(HISTOGRAM_BINS)] + [hi]
    bins = len(edges) - 1
    rows = conn.execute(
        f"SELECT least(floor(({expr} - ?) / ?)::BIGINT, ?) AS b, count(*) FROM data WHERE {expr} IS NOT NULL "
        "GROUP BY b ORDER BY b", [lo, width, bins - 1]).fetchall()
    hist = [0] * bins
    for b, n in rows:
        hist[int(b)] += n
    return {"hist": hist, "bin_edges": [round(e, 5) if not integer else e for e in edges]}


def _numeric(conn: duckdb.DuckDBPyConnection, expr: str, total: int, integer: bool) -> dict:
    nulls, lo, hi, mean, median, std = conn.execute(
        f"SELECT count(*) FILTER (WHERE {expr} IS NULL), min({expr}), max({expr}), avg({expr}), "
        f"median({expr}), stddev_samp({expr}) FROM data").fetchone()  # type: ignore[misc]
    stats = {"nan_count": nulls, "nan_proportion": round(nulls / total, 5) if total else 0.0,
             "min": lo, "max": hi, "mean": round(mean, 5) if mean is not None else None,
             "median": round(float(median), 5) if median is not None else None,
             "std": round(std, 5) if std is not None else None, "histogram": None}
    if lo is not None:
        stats["histogram"] = _histogram(conn, expr, float(lo), float(hi), integer)
    return stats


def statistics(conn: duckdb.DuckDBPyConnection, schema: pa.Schema, total: int) -> list[dict]:
    out = []
    for f in schema:
        c = quote(f.name)
        t = f.type
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            kind = "int" if pa.types.is_integer(t) else "float"
            out.append({"column_name": f.name, "column_type": kind,
                        "column_statistics": _numeric(conn, c, total, kind == "int")})
        elif pa.types.is_boolean(t):
            nulls, trues, falses = conn.execute(
                f"SELECT count(*) FILTER (WHERE {c} IS NULL), count(*) FILTER (WHERE {c}), "
                f"count(*) FILTER (WHERE NOT {c}) FROM data").fetchone()  # type: ignore[misc]
            out.append({"column_name": f.name, "column_type": "bool", "column_statistics": {
                "nan_count": nulls, "nan_proportion": round(nulls / total, 5) if total else 0.0,
                "frequencies": {k: v for k, v in (("True", trues), ("False", falses)) if v}}})
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            nulls, unique = conn.execute(
                f"SELECT count(*) FILTER (WHERE {c} IS NULL), count(DISTINCT {c}) FROM data").fetchone()  # type: ignore[misc]
            base = {"nan_count": nulls, "nan_proportion": round(nulls / total, 5) if total else 0.0}
            if unique <= MAX_LABELS:
                freq = dict(conn.execute(f"SELECT {c}, count(*) FROM data WHERE {c} IS NOT NULL GROUP BY {c} "
                                         f"ORDER BY count(*) DESC, {c}").fetchall())
                out.append({"column_name": f.name, "column_type": "string_label", "column_statistics": {
                    **base, "no_label_count": 0, "no_label_proportion": 0.0, "n_unique": unique,
                    "frequencies": freq}})
            else:
                lengths = _numeric(conn, f"length({c})", total, True)
                out.append({"column_name": f.name, "column_type": "string_text",
                            "column_statistics": {**lengths, **base}})
    return out

"""The viewer's `where` / `orderby` validator: what it lets through is rebuilt SQL over known columns only,
and every refusal is a 400 in the Hub's shape. The SQL it returns is also run by DuckDB here over a small
in-memory table, to show it means what the caller wrote."""

from __future__ import annotations

import duckdb
import pytest

from hubd.dataviewer.where import MAX_CHARS, MAX_DEPTH, compile_orderby, compile_where
from hubd.hub.errors import BadRequest

COLUMNS = ["name", "age", "city", "Mixed Case", 'q"uote', "score"]


@pytest.fixture(scope="module")
def db() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute('CREATE TABLE t (name VARCHAR, age INTEGER, city VARCHAR, "Mixed Case" INTEGER, '
                 '"q""uote" INTEGER, score DOUBLE)')
    conn.execute("INSERT INTO t VALUES ('ann', 30, 'oslo', 1, 2, 0.5), ('bob', 41, 'paris', 2, 3, NULL), "
                 "('it''s', 25, NULL, 3, 4, 1.5), ('zed_%', 60, 'lima', 4, 5, -2.0)")
    return conn


def names(db: duckdb.DuckDBPyConnection, where: str) -> list[str]:
    sql = compile_where(where, COLUMNS)
    return [r[0] for r in db.execute(f"SELECT name FROM t WHERE {sql} ORDER BY name").fetchall()]


@pytest.mark.parametrize(("where", "expected"), [
    ("age > 30", ["bob", "zed_%"]),
    ('"age" >= 30', ["ann", "bob", "zed_%"]),
    ("age < 30", ["it's"]),
    ("age <= 30 AND city = 'oslo'", ["ann"]),
    ("age <> 30", ["bob", "it's", "zed_%"]),
    ("age != 30", ["bob", "it's", "zed_%"]),
    ("city = 'oslo' OR city = 'lima'", ["ann", "zed_%"]),
    ("NOT (age > 30)", ["ann", "it's"]),
    ("(age > 20 AND (city = 'oslo' OR city = 'paris')) AND NOT name = 'bob'", ["ann"]),
    ("age IN (25, 41)", ["bob", "it's"]),
    ("city NOT IN ('oslo', 'paris')", ["zed_%"]),
    ("age IN (-1, 30)", ["ann"]),
    ("name LIKE 'b%'", ["bob"]),
    ("name NOT LIKE '%o%'", ["ann", "it's", "zed_%"]),
    ("name ILIKE 'ANN'", ["ann"]),
    ("name LIKE 'zed!_!%' ESCAPE '!'", ["zed_%"]),
    ("city IS NULL", ["it's"]),
    ("score IS NOT NULL AND city IS NOT NULL", ["ann", "zed_%"]),
    ("age BETWEEN 26 AND 41", ["ann", "bob"]),
    ("age NOT BETWEEN 26 AND 41", ["it's", "zed_%"]),
    ("name = 'it''s'", ["it's"]),
    ('"Mixed Case" = 2', ["bob"]),
    ('"mixed case" = 2', ["bob"]),  # DuckDB binds identifiers case-insensitively; so does the check
    ("AGE = 60", ["zed_%"]),
    ('"q""uote" = 4', ["it's"]),
    ("score < -1.5", ["zed_%"]),
    ("score = 1.5e0", ["it's"]),
    ("age + 5 > 60", ["zed_%"]),
    ("age * 2 = 60", ["ann"]),
    ("-age < -59", ["zed_%"]),
    ("age IS DISTINCT FROM 30", ["bob", "it's", "zed_%"]),
    ("age = 1_000 OR age = 30", ["ann"]),
])
def test_allowed_and_means_what_it_says(db: duckdb.DuckDBPyConnection, where: str, expected: list[str]) -> None:
    assert names(db, where) == expected


def test_rebuilt_sql_quotes_every_column() -> None:
    assert compile_where("age > 1 and city = 'x'", COLUMNS) == "((\"age\" > 1) AND (\"city\" = 'x'))"


@pytest.mark.parametrize("where", [
    # function calls, quoted or not, in every spelling the Hub's issue found
    "upper(name) = 'ANN'",
    '"upper"(name) = \'ANN\'',
    'name."upper"() = \'ANN\'',
    "name.upper() = 'ANN'",
    '"len"("generate_series"(1,10000000))>0',
    "length(repeat('x', 1000000000)) > 0",
    "read_csv('/etc/passwd') IS NOT NULL",
    "COLUMNS(*) > 1",
    "name COLLATE nocase = 'ann'",
    "{'x': 1} IS NOT NULL",
    "[1, 2] IS NOT NULL",
    # subqueries and statements
    "age > (SELECT 1)",
    "age IN (SELECT 1)",
    "EXISTS (SELECT 1)",
    "age = 1 UNION SELECT 1",
    "1=1; DROP TABLE data",
    "age = 1;",
    # comments
    "age = 1 -- x",
    "age = 1 /* x */",
    # OFFSET / LIMIT / ORDER tacked on
    "1=1 OFFSET 1",
    "1=1 LIMIT 1",
    "1=1 ORDER BY age",
    # casts
    "age::VARCHAR = '30'",
    "CAST(age AS VARCHAR) = '30'",
    "TRY_CAST(name AS INTEGER) = 1",
    "age = DATE '2020-01-01'",
    # unknown and qualified columns, star, parameters, odd literals
    "nope = 1",
    "t.age = 1",
    "\"city\"=\"oslo\"",  # a double-quoted string is a column name in SQL
    "* > 1",
    "age = ?",
    "age = $1",
    "name = E'x'",
    "age = 0x10",
    "name SIMILAR TO 'a.*'",
    "name GLOB 'a*'",
    "age // 2 = 15",
    "age IS 1",
    "",
    "   ",
    "age >",
    "'unterminated",
])
def test_refused(where: str) -> None:
    with pytest.raises(BadRequest) as info:
        compile_where(where, COLUMNS)
    assert info.value.status == 400 and info.value.message.startswith("Parameter 'where' is invalid")


@pytest.mark.parametrize(("where", "why"), [
    ('"upper"(name) = \'X\'', "function calls"),
    ("age::int > 1", "casts"),
    ("age > (SELECT 1)", "subqueries"),
    ("age = 1 -- x", "comments"),
    ("age = 1; x", "';'"),
    ("nope = 1", "unknown column"),
])
def test_refusals_say_why(where: str, why: str) -> None:
    with pytest.raises(BadRequest, match=why):
        compile_where(where, COLUMNS)


def test_deep_nesting_refused_before_parsing() -> None:
    with pytest.raises(BadRequest, match="nested deeper"):
        compile_where("(" * (MAX_DEPTH + 1) + "age = 1" + ")" * (MAX_DEPTH + 1), COLUMNS)
    # parentheses inside a string literal do not count
    assert compile_where("name = '" + "(" * 100 + "'", COLUMNS)


@pytest.mark.parametrize("where", ["NOT " * 400 + "age = 1", "- " * 600 + "age = 1", "age = " + "-" * 900 + "1"])
def test_deep_operator_chains_refused(where: str) -> None:
    with pytest.raises(BadRequest):
        compile_where(where, COLUMNS)


def test_long_and_chain_is_one_level(db: duckdb.DuckDBPyConnection) -> None:
    where = " OR ".join(f"age = {i}" for i in range(40))  # 30 and 25 match
    assert names(db, where) == ["ann", "it's"]


def test_over_long_input_refused() -> None:
    with pytest.raises(BadRequest, match="longer than"):
        compile_where("age = 1 OR " * (MAX_CHARS // 10) + "age = 2", COLUMNS)
    with pytest.raises(BadRequest, match="longer than"):
        compile_where("name = '" + "x" * MAX_CHARS + "'", COLUMNS)


def test_huge_in_list_refused() -> None:
    with pytest.raises(BadRequest):
        compile_where("age IN (" + ", ".join("1" for _ in range(500)) + ")", COLUMNS)


@pytest.mark.parametrize(("orderby", "sql"), [
    ("age", '"age" ASC NULLS LAST'),
    ('"name" DESC', '"name" DESC NULLS LAST'),
    ("age desc, name", '"age" DESC NULLS LAST, "name" ASC NULLS LAST'),
    ("score ASC NULLS FIRST", '"score" ASC NULLS FIRST'),
    ('"Mixed Case" DESC', '"Mixed Case" DESC NULLS LAST'),
])
def test_orderby_allowed(db: duckdb.DuckDBPyConnection, orderby: str, sql: str) -> None:
    assert compile_orderby(orderby, COLUMNS) == sql
    db.execute(f"SELECT * FROM t ORDER BY {sql}").fetchall()


@pytest.mark.parametrize("orderby", [
    "upper(name)", '"upper"(name)', "name.upper()", "age LIMIT 1", "age OFFSET 1", "age; DROP TABLE t",
    "age -- x", "nope", "t.age", "1", "age::VARCHAR", "(SELECT 1)", "age) UNION SELECT (1", "",
    ", ".join(["age"] * 20), "random()",
])
def test_orderby_refused(orderby: str) -> None:
    with pytest.raises(BadRequest) as info:
        compile_orderby(orderby, COLUMNS)
    assert info.value.message.startswith("Parameter 'orderby' is invalid")

"""The viewer's `where` and `orderby` inputs, parsed with a real SQL parser (sqlglot, DuckDB dialect) and
rebuilt from an allow-list.

A regular expression cannot tell `"upper"(name)` from `"upper" (name)`, so the check is done on the parse
tree: comparisons, AND/OR/NOT, IN lists, [I]LIKE, BETWEEN, IS [NOT] NULL, arithmetic, the split's own
column names and literals. Anything else (function calls quoted or not, subqueries, casts, parameters,
star, struct/list literals, qualified names) is refused. The SQL handed to DuckDB is then *rendered by
this module* from the validated tree — never the caller's text — so a construct the parser accepted and we
did not think of cannot reach DuckDB: only what `_render` knows how to write exists in the output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from hubd.hub.errors import BadRequest

MAX_CHARS = 2000  # longer filters are not something a person types; parse cost stays in the milliseconds
MAX_DEPTH = 32  # nesting of parentheses / operators (AND/OR chains count once)
MAX_NODES = 1000  # AST nodes; a term like `age = 1` is five
MAX_IN_ITEMS = 200
MAX_ORDER_COLUMNS = 8

_COMPARISONS: dict[type[exp.Expr], str] = {
    exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM", exp.NullSafeNEQ: "IS DISTINCT FROM",
}
_ARITHMETIC: dict[type[exp.Expr], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/",
                                                 exp.Mod: "%"}
# digits, optional fraction and exponent: what sqlglot leaves in a numeric Literal after `1_000` → `1000`
_NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class InvalidExpression(BadRequest):
    """400 in the Hub's shape; the message says what was refused."""


def _bad(param: str, why: str) -> InvalidExpression:
    return InvalidExpression(f"Parameter '{param}' is invalid: {why}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(value: str) -> str:
    # DuckDB strings have no backslash escapes (standard conforming): doubling the quote is the whole job
    return "'" + value.replace("'", "''") + "'"


class _Columns:
    """Column names as DuckDB resolves them: exact match first, else case-insensitive (DuckDB identifiers,
    quoted or not, bind case-insensitively)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.exact = set(names)
        self.folded: dict[str, list[str]] = {}
        for n in names:
            self.folded.setdefault(n.lower(), []).append(n)

    def resolve(self, param: str, name: str) -> str:
        if name in self.exact:
            return name
        found = self.folded.get(name.lower(), [])
        if len(found) == 1:
            return found[0]
        raise _bad(param, f"unknown column {name!r}")


def _precheck(param: str, text: str) -> None:
    """Bounds checked before any parsing: length, and parenthesis depth outside string literals (so that
    the recursive-descent parser never recurses deeply)."""
    if len(text) > MAX_CHARS:
        raise _bad(param, f"longer than {MAX_CHARS} characters")
    if "\x00" in text:
        raise _bad(param, "NUL character")
    depth, quote = 0, ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad(param, f"nested deeper than {MAX_DEPTH}")
        elif ch == ")":
            depth -= 1


def _tokens_check(param: str, text: str) -> None:
    """Statements separators and comments are refused outright (not silently dropped by the parser)."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(text)
    except SqlglotError:
        raise _bad(param, "cannot be parsed") from None
    for t in tokens:
        if t.comments:
            raise _bad(param, "comments are not allowed")
        if t.token_type == TokenType.SEMICOLON:
            raise _bad(param, "';' is not allowed")
        if t.token_type in (TokenType.PLACEHOLDER, TokenType.PARAMETER):
            raise _bad(param, "parameters are not allowed")


def _parse(param: str, sql: str) -> exp.Expr:
    try:
        parsed = sqlglot.parse(sql, read="duckdb")
    except (SqlglotError, RecursionError, ValueError):
        raise _bad(param, "cannot be parsed") from None
    if len(parsed) != 1 or parsed[0] is None:
        raise _bad(param, "a single expression is expected")
    tree = parsed[0]
    if sum(1 for _ in tree.walk()) > MAX_NODES:
        raise _bad(param, f"more than {MAX_NODES} terms")
    return tree


def _describe(node: exp.Expr) -> str:
    # casts and EXISTS are Func subclasses in sqlglot: named before the general case
    if isinstance(node, exp.Cast | exp.TryCast):
        return "casts are not allowed"
    if isinstance(node, exp.Subquery | exp.Select | exp.Query | exp.Exists):
        return "subqueries are not allowed"
    if isinstance(node, exp.Func | exp.Dot | exp.Anonymous):
        return "function calls are not allowed"
    return f"{node.key.upper()} is not allowed"


class _Renderer:
    def __init__(self, param: str, columns: _Columns) -> None:
        self.param = param
        self.columns = columns

    def bad(self, node: exp.Expr) -> InvalidExpression:
        return _bad(self.param, _describe(node))

    def column(self, node: exp.Expr) -> str:
        if not isinstance(node, exp.Column) or not isinstance(node.this, exp.Identifier):
            raise self.bad(node)
        if any(node.args.get(k) for k in ("table", "db", "catalog")):
            raise _bad(self.param, "qualified names are not allowed")
        return _quote(self.columns.resolve(self.param, node.this.this))

    def literal(self, node: exp.Expr) -> str:
        if isinstance(node, exp.Null):
            return "NULL"
        if isinstance(node, exp.Boolean):
            return "TRUE" if node.this else "FALSE"
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
            return "-" + self.literal(node.this)
        if type(node) is exp.Literal:
            if node.is_string:
                return _string(str(node.this))
            text = str(node.this)
            if _NUMBER.match(text):
                return text
        raise self.bad(node)

    def render(self, node: exp.Expr, depth: int = 0) -> str:
        if depth > MAX_DEPTH:
            raise _bad(self.param, f"nested deeper than {MAX_DEPTH}")
        d = depth + 1
        if isinstance(node, exp.And | exp.Or):
            # a chain `a AND b AND c …` is one level, however long: flatten it iteratively
            op = "AND" if isinstance(node, exp.And) else "OR"
            terms = list(node.flatten())
            return "(" + f" {op} ".join(self.render(t, d) for t in terms) + ")"
        if isinstance(node, exp.Paren):
            return self.render(node.this, d)
        if isinstance(node, exp.Not):
            return f"(NOT {self.render(node.this, d)})"
        if type(node) in _COMPARISONS:
            return f"({self.render(node.this, d)} {_COMPARISONS[type(node)]} {self.render(node.expression, d)})"
        if type(node) in _ARITHMETIC:
            if isinstance(node, exp.Div) and (node.args.get("typed") or node.args.get("safe")):
                raise self.bad(node)
            return f"({self.render(node.this, d)} {_ARITHMETIC[type(node)]} {self.render(node.expression, d)})"
        if isinstance(node, exp.Neg):
            return f"(- {self.render(node.this, d)})"
        if isinstance(node, exp.Is):
            right = node.expression
            if not isinstance(right, exp.Null | exp.Boolean):
                raise _bad(self.param, "IS must be followed by NULL, TRUE or FALSE")
            return f"({self.render(node.this, d)} IS {self.literal(right)})"
        if isinstance(node, exp.In):
            if any(node.args.get(k) for k in ("query", "unnest", "field")):
                raise _bad(self.param, "IN takes a list of literals")
            items = node.expressions
            if not items or len(items) > MAX_IN_ITEMS:
                raise _bad(self.param, f"IN takes 1 to {MAX_IN_ITEMS} literals")
            return f"({self.render(node.this, d)} IN ({', '.join(self.literal(i) for i in items)}))"
        if isinstance(node, exp.Like | exp.ILike):
            return self.like(node, None, d)
        if isinstance(node, exp.Escape):
            inner, esc = node.this, node.expression
            if not isinstance(inner, exp.Like | exp.ILike) or not (isinstance(esc, exp.Literal) and esc.is_string):
                raise self.bad(node)
            return self.like(inner, self.literal(esc), d)
        if isinstance(node, exp.Between):
            if node.args.get("symmetric"):
                raise self.bad(node)
            return (f"({self.render(node.this, d)} BETWEEN {self.render(node.args['low'], d)} "
                    f"AND {self.render(node.args['high'], d)})")
        if isinstance(node, exp.Column):
            return self.column(node)
        return self.literal(node)

    def like(self, node: exp.Like | exp.ILike, escape: str | None, d: int) -> str:
        if any(node.args.get(k) for k in ("escape",)):
            raise self.bad(node)
        op = "LIKE" if isinstance(node, exp.Like) else "ILIKE"
        if node.args.get("negate"):
            op = "NOT " + op
        tail = f" ESCAPE {escape}" if escape else ""
        return f"({self.render(node.this, d)} {op} {self.render(node.expression, d)}{tail})"


def compile_where(where: str, columns: Sequence[str]) -> str:
    """The DuckDB SQL for a viewer `where`, rebuilt from its validated parse tree. Raises 400."""
    _precheck("where", where)
    _tokens_check("where", where)
    tree = _parse("where", where)
    return _Renderer("where", _Columns(columns)).render(tree)


def compile_orderby(orderby: str, columns: Sequence[str]) -> str:
    """`col [ASC|DESC] [NULLS FIRST|LAST], …` over the split's columns only, rebuilt. Raises 400."""
    _precheck("orderby", orderby)
    _tokens_check("orderby", orderby)
    # parsed inside a SELECT so the parser sees an ORDER BY list; the SELECT must hold nothing else
    tree = _parse("orderby", "SELECT 1 FROM t ORDER BY " + orderby)
    order = tree.args.get("order") if isinstance(tree, exp.Select) else None
    extra = {k for k, v in tree.args.items() if v and k not in ("expressions", "from_", "from", "order")}
    if order is None or extra:
        raise _bad("orderby", "a list of columns with ASC or DESC is expected")
    if len(order.expressions) > MAX_ORDER_COLUMNS:
        raise _bad("orderby", f"more than {MAX_ORDER_COLUMNS} columns")
    renderer = _Renderer("orderby", _Columns(columns))
    out = []
    for item in order.expressions:
        if not isinstance(item, exp.Ordered) or any(item.args.get(k) for k in ("with_fill",)):
            raise _bad("orderby", "a list of columns with ASC or DESC is expected")
        col = renderer.column(item.this)
        direction = " DESC" if item.args.get("desc") else " ASC"
        nulls = item.args.get("nulls_first")
        # spelled out: sqlglot fills nulls_first with the dialect's default when it is not written
        out.append(col + direction + (" NULLS FIRST" if nulls else " NULLS LAST"))
    return ", ".join(out)

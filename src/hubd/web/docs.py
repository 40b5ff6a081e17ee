"""/openapi.json and /docs: the seed's OpenAPI description (its copy with hubd's corrections) extended with
every other route hubd serves, generated from the route table with each route's access rule; rendered as
HTML on the server (no script, nothing fetched)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml
from starlette.responses import Response

from hubd.api.http import Ctx, json_response
from hubd.web.base import page, view

SEED = Path(__file__).parent / "openapi-seed.yaml"
METHODS = ("get", "post", "put", "patch", "delete")


def path_template(pattern: str) -> str:
    """A route's regex as an OpenAPI path: named groups become {name}, optional parts are kept."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("(?P<", i):
            name = pattern[i + 4: pattern.index(">", i)]
            depth, j = 0, i
            while True:  # skip to the group's closing parenthesis
                if pattern[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append("{" + name + "}")
            i = j
        elif pattern.startswith("(?:", i) or pattern.startswith("(?!", i):
            if pattern.startswith("(?!", i):  # a lookahead: no text of its own
                i = pattern.index(")", i) + 1
            else:
                i += 3
        elif pattern.startswith(")?", i):
            i += 2
        elif pattern[i] in "^$)?":
            i += 1
        elif pattern[i] == "\\":
            out.append(pattern[i + 1])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return re.sub(r"\[\^/\]\+|\.\*|\.\+", "…", "".join(out))


@lru_cache(maxsize=1)
def _seed() -> dict:
    return yaml.safe_load(SEED.read_text())


def openapi(base_url: str) -> dict:
    from hubd.api.routes import build_router

    seed = _seed()
    spec = {**seed, "servers": [{"url": base_url, "description": "this hub"}],
            "info": {**seed.get("info", {}), "title": "hubd API (the Hugging Face Hub API as hubd serves it)"}}
    paths: dict[str, dict] = {"/api" + p: dict(ops) for p, ops in seed.get("paths", {}).items()}
    used = {op["operationId"] for ops in paths.values() for op in ops.values()
            if isinstance(op, dict) and "operationId" in op}
    for route in build_router().routes:
        template = path_template(route.regex.pattern)
        entry = paths.setdefault(template, {})
        for method, handler in route.handlers.items():
            m = method.lower()
            if m not in METHODS or m in entry:
                continue
            doc = (handler.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
            # one handler may serve several routes (a repo at a revision, an org's list): OpenAPI wants each
            # operation's id unique, so the second and later get a number
            base = op_id = f"{handler.__module__.rsplit('.', 1)[-1]}.{handler.__name__}.{m}"
            n = 1
            while op_id in used:
                n += 1
                op_id = f"{base}.{n}"
            used.add(op_id)
            entry[m] = {"summary": doc or handler.__name__.replace("_", " "),
                        "description": f"Access: {route.access.get(method)} (see the legend in api/routes.py).",
                        "operationId": op_id,
                        "responses": {"default": {"description": "The Hub's answer; errors carry X-Error-Code, "
                                                                 "X-Error-Message and {\"error\": ...}"}}}
    spec["paths"] = paths
    return spec


async def openapi_json(ctx: Ctx) -> Response:
    return json_response(await ctx.run(openapi, ctx.base_url))


@page
async def docs(ctx: Ctx) -> Response:
    spec = await ctx.run(openapi, ctx.base_url)
    operations = []
    for path, ops in sorted(spec["paths"].items()):
        for method in METHODS:
            op = ops.get(method)
            if isinstance(op, dict):
                params = [p for p in (op.get("parameters") or []) if isinstance(p, dict)]
                operations.append({"path": path, "method": method.upper(), "summary": op.get("summary", ""),
                                   "description": op.get("description", ""), "params": params,
                                   "tags": op.get("tags") or ["Web and other routes"]})
    groups: dict[str, list] = {}
    for op in operations:
        groups.setdefault(op["tags"][0], []).append(op)
    return view(ctx, "docs.html", spec=spec, groups=groups, count=len(operations))

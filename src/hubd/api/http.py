"""Routing on the raw path, the request context, and the Hub's error shape."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

import anyio
import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest, HubError, MethodNotAllowed, NotFound, PayloadTooLarge
from hubd.hub.service import Hub

log = logging.getLogger("hubd.http")
MAX_JSON_BODY = 16 * 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:=/+-]{1,128}$")


class RequestTimeout(HubError):
    status = 408
    code = "RequestTimeout"
    default_message = "The request body did not arrive in time"

    def __init__(self, message: str | None = None) -> None:
        # the rest of the body may still be on its way: this connection cannot carry another request
        super().__init__(message, headers={"Connection": "close"})


def loads(data: bytes | str) -> Any:
    """Parse a JSON document from a client. orjson refuses nesting deeper than 1024 (the stdlib parser
    recurses until RecursionError, a 500), numbers that overflow a double, NaN and lone surrogates."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = "nested too deeply" if "depth limit" in str(exc) else "not valid JSON"
        raise BadRequest(f"Request body is {reason}") from None


def loads_object(data: bytes | str) -> dict[str, Any]:
    """A JSON object from a client; an empty body is an empty object (as the Hub's clients send it)."""
    if not data.strip():
        return {}
    value = loads(data)
    if not isinstance(value, dict):
        raise BadRequest(f"Expected a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


@dataclass
class Ctx:
    hub: Hub
    request: Request
    params: dict[str, str]
    principal: Principal | None = None
    headers: dict[str, str] = field(default_factory=dict)
    rule: str = "public"  # the access rule the matched route declares (api/routes.py); api/repoctx.py reads it

    @property
    def base_url(self) -> str:
        return self.hub.settings.base_url

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args))

    async def body(self, limit: int = MAX_JSON_BODY, too_large: str | None = None) -> bytes:
        """A small request body (JSON, form), read with a size limit and an overall deadline: never an
        unbounded buffer, and a body trickling in a byte at a time cannot hold the request open."""
        declared = self.request.headers.get("content-length", "")
        if declared.isdigit() and (len(declared) > 15 or int(declared) > limit):
            raise PayloadTooLarge(too_large)  # refused on its declared length, before a byte is read
        body = bytearray()
        with anyio.move_on_after(self.hub.settings.json_body_timeout) as scope:
            async for chunk in self.request.stream():
                body.extend(chunk)
                if len(body) > limit:
                    raise PayloadTooLarge(too_large)
        if scope.cancelled_caught:
            raise RequestTimeout(f"The request body did not arrive within {self.hub.settings.json_body_timeout:g} s")
        return bytes(body)

    async def json_object(self) -> dict[str, Any]:
        """The body as a JSON object: any other JSON value, bad JSON or too deep nesting is a 400."""
        return loads_object(await self.body())

    async def json(self) -> dict[str, Any]:
        """Every JSON body the Hub's API takes is an object, so this is `json_object`."""
        return await self.json_object()

    def query_bool(self, name: str, default: bool = False) -> bool:
        value = self.request.query_params.get(name)
        if value is None:
            return default
        return value.lower() in ("1", "true", "yes")

    def query_list(self, name: str) -> list[str]:
        return self.request.query_params.getlist(name) + self.request.query_params.getlist(name + "[]")

    def next_link(self, path: str, params: dict[str, Any] | list[tuple[str, str]]) -> str:
        pairs = list(params.items()) if isinstance(params, dict) else params
        query = urlencode([(k, v) for k, v in pairs if v is not None], doseq=True)
        return f'<{self.base_url}{path}?{query}>; rel="next"'


Handler = Callable[[Ctx], Awaitable[Response]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")), status_code=status, headers=headers,
        media_type="application/json",
    )


def error_response(exc: HubError, principal: Principal | None, method: str) -> Response:
    status = exc.status
    # The Hub answers anonymous callers 401 for a repo they cannot see, authenticated ones 404.
    if exc.code in ("RepoNotFound", "GatedRepo") and principal is None:
        status = 401
    headers = {k: _header_safe(v) for k, v in exc.headers.items()}
    headers["X-Error-Message"] = _header_safe(exc.message)
    if exc.code:
        headers["X-Error-Code"] = exc.code
    if method == "HEAD":
        return Response(status_code=status, headers=headers)
    return JSONResponse({"error": exc.message}, status_code=status, headers=headers)


def _header_safe(message: str) -> str:
    # A control character in a header value makes the server drop the response (a 500): messages quote paths.
    message = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in message[:1000])
    return message.encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True)
class Route:
    regex: re.Pattern[str]
    handlers: dict[str, Handler]  # by method
    access: dict[str, str]  # by method: the access rule the route declares (see routes.ACCESS)


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._by_segment: tuple[dict[str, list[Route]], list[Route]] | None = None
        # what answers a path no route matches (a method no route takes stays a 405); it answers as the
        # router would (NotFound) unless it has a page to show
        self.fallback: Handler | None = None

    def add(self, pattern: str, access: str | dict[str, str], **handlers: Handler) -> None:
        """A route, its handlers by method, and its access rule (one for every method, or one per method)."""
        methods = {m.upper(): h for m, h in handlers.items()}
        rules = {m: access for m in methods} if isinstance(access, str) else {m.upper(): r for m, r in access.items()}
        assert rules.keys() == methods.keys(), f"{pattern}: an access rule for every method"
        self.routes.append(Route(re.compile("^" + pattern + "$"), methods, rules))
        self._by_segment = None

    def _candidates(self, raw_path: str) -> list[Route]:
        """The routes that can match a path, in order: those whose pattern starts with this path's first
        segment as literal text, and those whose first segment is a pattern (repo ids). A /resolve request
        tries some 40 patterns instead of all 120."""
        if self._by_segment is None:
            firsts = [_literal_first_segment(r.regex.pattern[1:]) for r in self.routes]
            generic = [r for r, f in zip(self.routes, firsts, strict=True) if f is None]
            self._by_segment = ({seg: [r for r, f in zip(self.routes, firsts, strict=True) if f in (seg, None)]
                                 for seg in set(firsts) if seg is not None}, generic)
        table, generic = self._by_segment
        return table.get(raw_path[1:].split("/", 1)[0], generic)

    def match(self, method: str, raw_path: str) -> tuple[Handler, dict[str, str], str]:
        """The handler, the path's parameters, and the access rule the route declares for the method."""
        allowed = False
        for route in self._candidates(raw_path):
            regex, handlers = route.regex, route.handlers
            m = regex.match(raw_path)
            if not m:
                continue
            as_method = method if method in handlers or method != "HEAD" else "GET"
            handler = handlers.get(as_method)
            if handler is None:
                allowed = True
                continue
            params = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
            if any("\0" in v for v in params.values()):
                # no repo, revision or file name holds NUL; PostgreSQL refuses it in any string (a 503)
                raise BadRequest("Paths and revisions cannot contain NUL characters")
            return handler, params, route.access[as_method]
        if allowed:
            raise MethodNotAllowed()
        if self.fallback is not None:
            return self.fallback, {}, "page"
        raise NotFound(f"Not found: {unquote(raw_path)}")


def _literal_first_segment(pattern: str) -> str | None:
    """'api' for '/api/models...', 'healthz' for '/healthz'; None when the first segment is not plain text."""
    m = re.match(r"/([A-Za-z0-9_~-]*)(?:/|\$?$)", pattern)
    return m.group(1) if m else None


def request_id(request: Request) -> str:
    """The caller's request id when it is a short plain token (it is echoed in a header), else a new one."""
    for name in ("x-request-id", "x-amzn-trace-id"):
        value = request.headers.get(name)
        if value and _REQUEST_ID.match(value):
            return value
    return next(_ids)


def _request_ids() -> Iterator[str]:
    """Ids unique across processes (a random prefix per process, re-drawn in a forked child) and cheap: uuid4
    was an eighth of a cached listing's Python time."""
    prefix = os.urandom(8).hex()
    return (f"{prefix}{n:016x}" for n in itertools.count())


_ids = _request_ids()


def _new_ids_after_fork() -> None:
    global _ids
    _ids = _request_ids()


os.register_at_fork(after_in_child=_new_ids_after_fork)

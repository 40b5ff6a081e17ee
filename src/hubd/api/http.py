"""Routing on the raw path, the request context, and the Hub's error shape."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hubd.hub.access import Principal
from hubd.hub.errors import BadRequest, HubError, MethodNotAllowed, NotFound, PayloadTooLarge
from hubd.hub.service import Hub

log = logging.getLogger("hubd.http")
MAX_JSON_BODY = 16 * 1024 * 1024


@dataclass
class Ctx:
    hub: Hub
    request: Request
    params: dict[str, str]
    principal: Principal | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.hub.settings.base_url

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args))

    async def body(self) -> bytes:
        """A small request body (JSON, form), read with a size limit: never an unbounded buffer."""
        body = bytearray()
        async for chunk in self.request.stream():
            body.extend(chunk)
            if len(body) > MAX_JSON_BODY:
                raise PayloadTooLarge()
        return bytes(body)

    async def json(self) -> Any:
        body = await self.body()
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except ValueError:
            raise BadRequest("Request body is not valid JSON") from None

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
    headers = {"X-Error-Message": _header_safe(exc.message), **exc.headers}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    if method == "HEAD":
        return Response(status_code=status, headers=headers)
    return JSONResponse({"error": exc.message}, status_code=status, headers=headers)


def _header_safe(message: str) -> str:
    # A control character in a header value makes the server drop the response (a 500): messages quote paths.
    message = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in message[:1000])
    return message.encode("latin-1", "replace").decode("latin-1")


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = []

    def add(self, pattern: str, **handlers: Handler) -> None:
        self.routes.append((re.compile("^" + pattern + "$"), {m.upper(): h for m, h in handlers.items()}))

    def match(self, method: str, raw_path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        for regex, handlers in self.routes:
            m = regex.match(raw_path)
            if not m:
                continue
            handler = handlers.get(method) or (handlers.get("GET") if method == "HEAD" else None)
            if handler is None:
                allowed = True
                continue
            params = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
            return handler, params
        if allowed:
            raise MethodNotAllowed()
        raise NotFound(f"Not found: {unquote(raw_path)}")


def request_id(request: Request) -> str:
    return request.headers.get("x-request-id") or request.headers.get("x-amzn-trace-id") or uuid.uuid4().hex

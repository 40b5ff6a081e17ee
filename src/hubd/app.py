"""Assembles the ASGI app: the router, authentication, error rendering, and the lifespan."""

from __future__ import annotations

import base64
import logging
import sqlite3
import time
from collections.abc import MutableMapping
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import ClientDisconnect, Request

from hubd.api.errors import as_hub_error
from hubd.api.http import Ctx, RequestTimeout, error_response, json_response, request_id
from hubd.api.ops import observe_request
from hubd.api.routes import build_router
from hubd.api.xet import CAS_PREFIX
from hubd.config import Settings, load_settings
from hubd.hub.access import Principal
from hubd.hub.counters import recount
from hubd.hub.errors import BadRequest, HubError, InsufficientStorage, ServiceUnavailable, Unauthorized
from hubd.hub.service import Hub, open_hub
from hubd.jobs.queue import enqueue
from hubd.jobs.worker import Ticker, Worker, Workers
from hubd.logs import configure_logging
from hubd.storage.errors import StorageError
from hubd.web.session import COOKIE as SESSION_COOKIE
from hubd.web.session import cookie_principal
from hubd.xet.errors import XetError

log = logging.getLogger("hubd")
access = logging.getLogger("hubd.access")

# download counts wait in memory at most this long before they reach the database
FLUSH_DOWNLOADS_EVERY = 1.0


def start_worker(hub: Hub) -> Workers:
    from hubd.dataviewer.export import run_export
    from hubd.hub.derive import run_derive_job

    handlers = {
        "derive": lambda job: run_derive_job(hub, job.repo_id),
        "parquet": lambda job: run_export(hub, job.repo_id),
        "recount": lambda job: recount(hub.db),
    }
    with hub.db.write() as conn:
        enqueue(conn, "recount")
    # webhook deliveries run on threads of their own: a receiver that hangs delays no derive or export job
    from hubd.hub.webhooks import delivery_handlers

    worker = Workers([Worker(hub.db, handlers), *(
        Worker(hub.db, delivery_handlers(hub), idle_sleep=0.5, name=f"hubd-webhooks-{i}") for i in range(3)),
        Ticker(hub.downloads.flush, FLUSH_DOWNLOADS_EVERY, "hubd-download-counts")])
    worker.start()
    return worker


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":  # git and git-lfs send the token as the password
        try:
            return base64.b64decode(value).decode().partition(":")[2] or None
        except (ValueError, UnicodeDecodeError):
            raise Unauthorized() from None
    raise Unauthorized()


# Only these mean the database cannot be reached or is busy (SQLite "database is locked" is an
# OperationalError): a 503 the client may retry. Any other database error is hubd's bug, a 500.
_DB_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def _disk_full(exc: SQLAlchemyError) -> bool:
    """The database could not write for want of space (SQLite SQLITE_FULL, PostgreSQL disk_full 53100)."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.Error) and getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    return getattr(orig, "sqlstate", None) == "53100"


def _has_nul(scope: dict[str, Any]) -> bool:
    query = scope.get("query_string") or b""
    return b"%00" in query or b"\0" in query


class HubApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.router = build_router()
        self.hub: Hub | None = None
        self.worker: Workers | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.hub is None:  # servers that skip the lifespan protocol
            self.hub = await anyio.to_thread.run_sync(open_hub, self.settings)
        received = 0
        # While the handler runs and the body is unfinished, each read of it has a deadline: a client that
        # stops sending mid-body gets a 408 instead of holding a request open forever. Later reads (a
        # streaming response listening for the disconnect) wait as long as they need.
        # The body must also average body_min_rate bytes/s over the time spent waiting for it (past a first
        # body_timeout of grace): one byte every few seconds would pass every per-read deadline and hold a
        # connection, and an upload's staged file, forever. Only waiting time counts, so a handler that is
        # slow to read (busy verifying, a slow disk) never makes its client look slow.
        body_pending = True
        body_timeout, min_rate = self.settings.body_timeout, self.settings.body_min_rate
        waited = 0.0

        async def counting_receive() -> Any:
            nonlocal received, body_pending, waited
            if body_pending:
                asked = time.monotonic()
                with anyio.move_on_after(body_timeout) as scope_:
                    message = await receive()
                if scope_.cancelled_caught:
                    body_pending = False
                    raise RequestTimeout(f"No request body data for {body_timeout:g} s")
                waited += time.monotonic() - asked
                if message["type"] != "http.request" or not message.get("more_body", False):
                    body_pending = False
                received += len(message.get("body", b""))
                if body_pending and min_rate and received < min_rate * (waited - body_timeout):
                    body_pending = False
                    raise RequestTimeout(f"The request body arrives slower than {min_rate} bytes/s")
                return message
            message = await receive()
            received += len(message.get("body", b""))
            return message

        request = Request(scope, counting_receive)
        rid = request_id(request)
        started = time.perf_counter()
        principal: Principal | None = None
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        route = "unmatched"
        try:
            if _has_nul(scope):
                # no query parameter holds NUL; PostgreSQL refuses it in any string (a 503)
                raise BadRequest("Query parameters cannot contain NUL characters")
            handler, params, rule = self.router.match(request.method, path)
            route = handler.__module__.rsplit(".", 1)[-1] + "." + handler.__name__
            # CAS calls carry Xet tokens, checked by the CAS handlers themselves
            token = None if path.startswith(CAS_PREFIX + "/") else _token(request)
            if token:
                # cached under the access generation: no thread hop nor query while nothing changed
                principal, key, gen = await self.hub.access.authenticate(token)
                request.state.access = (key, gen)
            elif SESSION_COOKIE in request.cookies:  # a signed-in browser: pages, and the API as on the Hub
                principal = await anyio.to_thread.run_sync(
                    cookie_principal, self.hub, request, handler.__module__.startswith("hubd.web."))
            ctx = Ctx(self.hub, request, params, principal, rule=rule)
            response = await handler(ctx)
        except HubError as exc:
            response = error_response(exc, principal, request.method)
        except (StorageError, XetError) as exc:
            response = error_response(as_hub_error(exc), principal, request.method)
        except SQLAlchemyError as exc:
            if _disk_full(exc):
                log.error("database full on %s %s: %s", request.method, path, exc)
                error: HubError = InsufficientStorage("The database has no space left, nothing was changed")
            elif isinstance(exc, _DB_UNAVAILABLE):
                log.exception("database unavailable on %s %s", request.method, path)
                error = ServiceUnavailable("The database is unavailable, try again later")
            else:  # a bug in a query or a broken invariant, not an outage: a 500, logged with its traceback
                log.exception("database error on %s %s", request.method, path)
                error = HubError("Internal server error")
            response = error_response(error, principal, request.method)
        except RecursionError:
            # Only a hostile input nests deep enough for this (JSON bodies are bounded by the parser in
            # api.http; this catches any other parser that recurses): a 400, never a 500.
            log.warning("input nested too deeply on %s %s", request.method, path)
            response = error_response(BadRequest("Request body is nested too deeply"), principal, request.method)
        except ClientDisconnect:
            # the client went away mid-body: nobody reads this answer, and it is not hubd's failure
            response = error_response(BadRequest("Client disconnected"), principal, request.method)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, path)
            response = json_response({"error": "Internal server error"}, 500,
                                     {"X-Error-Message": "Internal server error"})
        body_pending = False  # the handler is done: reads from here on only listen for a disconnect
        elapsed = time.perf_counter() - started
        # appended, not set: no answer carries them yet, and MutableHeaders' set scans and rebuilds the list
        response.raw_headers += [(b"x-request-id", rid.encode()),
                                 # time spent before the body is sent: what listing benchmarks read as server time
                                 (b"server-timing", f"app;dur={elapsed * 1000:.2f}".encode())]
        sent = 0

        async def counting_send(message: MutableMapping[str, Any]) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await response(scope, counting_receive, counting_send)
        finally:
            observe_request(request.method, route, response.status_code, elapsed, received, sent)
            if access.isEnabledFor(logging.INFO):  # the record's fields cost more than the check
                access.info("%s %s %s", request.method, path, response.status_code, extra={
                    "request_id": rid, "method": request.method, "path": path, "status": response.status_code,
                    "route": route, "ms": round(elapsed * 1000, 2), "bytes_in": received, "bytes_out": sent,
                    "user": principal.name if principal else None})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.hub = await anyio.to_thread.run_sync(open_hub, self.settings)
                    self.worker = await anyio.to_thread.run_sync(start_worker, self.hub)
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.worker is not None:
                    await anyio.to_thread.run_sync(self.worker.stop)
                if self.hub is not None:
                    await anyio.to_thread.run_sync(self.hub.downloads.flush)
                    self.hub.access.reader.close()
                    self.hub.db.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(settings: Settings | None = None) -> HubApp:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    return HubApp(settings)

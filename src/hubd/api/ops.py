"""Operations: liveness, readiness (database and storage reachable), Prometheus metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response

from hubd.api.http import Ctx, json_response

REGISTRY = CollectorRegistry()
REQUESTS = Counter("hubd_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("hubd_request_duration_seconds", "Time to the response headers", ["route"], registry=REGISTRY,
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
BYTES_IN = Counter("hubd_bytes_in_total", "Request body bytes received", registry=REGISTRY)
BYTES_OUT = Counter("hubd_bytes_out_total", "Response body bytes sent", registry=REGISTRY)
QUEUE = Gauge("hubd_job_queue_depth", "Jobs waiting or running, by kind", ["kind", "state"], registry=REGISTRY)
# labelled children by their labels: `labels()` validates and locks on every call (a twentieth of a cached
# listing's Python time); the label sets are those prometheus keeps anyway
_requests: dict[tuple[str, str, int], Any] = {}
_latency: dict[str, Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float, received: int, sent: int) -> None:
    counter = _requests.get((method, route, status))
    if counter is None:
        counter = _requests[(method, route, status)] = REQUESTS.labels(method, route, str(status))
    counter.inc()
    histogram = _latency.get(route)
    if histogram is None:
        histogram = _latency[route] = LATENCY.labels(route)
    histogram.observe(seconds)
    if received:
        BYTES_IN.inc(received)
    if sent:
        BYTES_OUT.inc(sent)


async def healthz(ctx: Ctx) -> Response:
    return json_response({"status": "ok"})


async def readyz(ctx: Ctx) -> Response:
    status = await ctx.run(ctx.hub.health.readiness)
    ok = all(v == "ok" for v in status.values())
    return json_response({"status": "ok" if ok else "unavailable", **status}, 200 if ok else 503)


def _queue_depth(ctx: Ctx) -> None:
    rows = ctx.hub.health.queue_depth()
    QUEUE.clear()
    for kind, state, n in rows:
        QUEUE.labels(kind, state).set(n)


async def metrics(ctx: Ctx) -> Response:
    await ctx.run(_queue_depth, ctx)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

"""Responses that carry stored bytes: zero-copy from disk, a redirect to object storage, or a stream."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.concurrency import iterate_in_threadpool
from starlette.responses import RedirectResponse, Response, StreamingResponse

from hubd.hub.errors import BadRequest, RangeNotSatisfiable
from hubd.hub.service import Hub

# Local files, whole or in ranges, are read and sent in large blocks: one thread hop per 4 MiB. Measured
# against granian's pathsend (FileResponse), which reads and writes 128 KiB at a time on a thread pool with
# a cross-thread wake-up each: 1.07x nginx sendfile for this path against 0.51x (bench/resolve_throughput.py).
READ_BLOCK = 4 * 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _position(digits: str) -> int:
    """A byte position of any length. Python refuses int() of more than 4,300 digits (a ValueError, so a
    500), and no stored object is 10^18 bytes long: longer numbers stand for "beyond any end"."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else _BEYOND


_BEYOND = 10**18


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `Range: bytes=` request, None for the whole body."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise BadRequest("Unsupported range: use one range of the form bytes=START-END, START- or -SUFFIX")
    unsatisfiable = RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    if not m.group(1):  # suffix: the last N bytes; the last 0 bytes, or any bytes of nothing, is no range
        n = _position(m.group(2))
        if n == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - n), size
    start = _position(m.group(1))
    end = min(_position(m.group(2)) + 1, size) if m.group(2) else size
    if start >= size or end <= start:
        raise unsatisfiable
    return start, end


def can_redirect(hub: Hub) -> bool:
    return hub.blobs.presigns and not hub.settings.storage_proxy


def blob_response(hub: Hub, key: str, size: int, range_header: str | None, headers: dict[str, str],
                  redirect: bool = False) -> Response:
    local = hub.blobs.local_path(key)
    if local is not None and hub.settings.accel_redirect:
        # behind nginx: it sends the file (sendfile, Range included) from an internal location aliased to the
        # storage directory; access was decided here, and the headers above travel as $upstream_http_*
        headers["X-Accel-Redirect"] = hub.settings.accel_redirect.rstrip("/") + "/" + quote(key)
        headers.pop("Accept-Ranges", None)  # nginx keeps ours and adds its own: it would say it twice
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    if redirect and can_redirect(hub) and (url := hub.blobs.presigned_get(key)) is not None:
        # the client reads X-Repo-Commit, X-Linked-Etag and X-Linked-Size from this 302 itself
        return RedirectResponse(url, status_code=302, headers=headers)
    return stream_response(lambda k, s, e: hub.blobs.iter_range(k, s, e, READ_BLOCK), key, size, range_header,
                           headers)


def stream_response(iter_range, key, size: int, range_header: str | None,
                    headers: dict[str, str]) -> Response:
    span = parse_range(range_header, size)
    start, end = span or (0, size)
    status = 206 if span else 200
    if span:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    headers.setdefault("Accept-Ranges", "bytes")
    return StreamingResponse(iterate_in_threadpool(iter_range(key, start, end)), status_code=status,
                             headers=headers, media_type="application/octet-stream")

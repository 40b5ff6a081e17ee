"""Responses that carry stored bytes: zero-copy from disk, a redirect to object storage, or a stream."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from hubd.api.streams import SEND_BLOCK, PathsendResponse, ranged_response
from hubd.hub.service import Hub

# Whole local files go by pathsend (granian reads and writes them in Rust). Ranges, and stores that are not a
# local directory, are read in blocks under glibc's mmap threshold (streams.SEND_BLOCK), many per thread hop.
# Until xet/memory.py fixed that threshold at 256 KiB, 4 MiB blocks were the fastest path (4.07 GB/s); since,
# each 4 MiB block (and granian's copy of it) is a fresh mapping faulted in page by page: 0.69 GB/s, 0.14x nginx.
# Measured side by side at load 3 (curl, GB/s): pathsend 1.03-1.15, 4 MiB blocks 0.52-0.60, 240 KiB blocks
# 0.52-0.79 (bench/resolve_throughput.py gives the ratios to nginx).
READ_BATCH = 4 * 1024 * 1024


def blob_response(hub: Hub, key: str, size: int, range_header: str | None, headers: dict[str, str],
                  redirect: bool = False) -> Response:
    content = hub.content
    local = content.local_path(key)
    if local is not None and hub.settings.accel_redirect:
        # behind nginx: it sends the file (sendfile, Range included) from an internal location aliased to the
        # storage directory; access was decided here, and the headers above travel as $upstream_http_*
        headers["X-Accel-Redirect"] = hub.settings.accel_redirect.rstrip("/") + "/" + quote(key)
        headers.pop("Accept-Ranges", None)  # nginx keeps ours and adds its own: it would say it twice
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    if redirect and (url := content.redirect_url(key)) is not None:
        # the client reads X-Repo-Commit, X-Linked-Etag and X-Linked-Size from this 302 itself
        return RedirectResponse(url, status_code=302, headers=headers)
    streamed = ranged_response(lambda s, e: content.iter_range(key, s, e, SEND_BLOCK), size, range_header,
                               headers, READ_BATCH)
    if local is not None and range_header is None:
        return PathsendResponse(local, headers, fallback=streamed)
    return streamed

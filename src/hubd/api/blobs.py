"""Responses that carry stored bytes: from disk through one reused buffer, from nginx (X-Accel-Redirect), a
redirect to object storage, or a stream from it."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import RedirectResponse, Response

from hubd.api.streams import SEND_BLOCK, BlockResponse, file_fill, ranged_response
from hubd.hub.service import Hub

# Local files, whole or a Range, are read into two reused 1 MiB buffers per response, one filled while the
# other is sent (streams.BlockResponse); the figures below are of the first, one-buffer version.
# Measured side by side at load 0.8-1.4 (bench/resolve_throughput.py, 1 GiB, ratio of medians to nginx
# sendfile): splice client 1.10, with a Range 1.13, curl 1.10, worker RSS +9 MiB during the downloads;
# granian's pathsend 0.71 in the same run (it reads 128 KiB at a time on a thread pool); fresh 4 MiB
# blocks 0.16 (each a new mapping under xet/memory.py's mmap threshold). Stores that are not a local
# directory stream in blocks under that threshold (streams.SEND_BLOCK), many per thread hop.
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
    if local is not None:
        return BlockResponse(file_fill(local), size, range_header, headers)
    return ranged_response(lambda s, e: content.iter_range(key, s, e, SEND_BLOCK), size, range_header, headers,
                           READ_BATCH)

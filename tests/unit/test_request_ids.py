"""Generated request ids: unique in a process and across forked workers (granian forks its workers)."""

from __future__ import annotations

import os
import re

from starlette.requests import Request

from hubd.api.http import request_id


def _new_id() -> str:
    return request_id(Request({"type": "http", "headers": [], "method": "GET", "path": "/"}))


def test_ids_are_distinct_32_hex_characters() -> None:
    ids = [_new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_a_forked_child_draws_its_own_prefix() -> None:
    parent = _new_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave without running pytest's teardown
        os.write(write, _new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert re.fullmatch(r"[0-9a-f]{32}", child)
    assert child[:16] != parent[:16]


def test_a_plain_caller_id_is_echoed() -> None:
    request = Request({"type": "http", "headers": [(b"x-request-id", b"trace-me-1")], "method": "GET", "path": "/"})
    assert request_id(request) == "trace-me-1"

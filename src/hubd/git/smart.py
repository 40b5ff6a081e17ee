"""Smart HTTP (stateless RPC) over dulwich's upload-pack and receive-pack handlers.

Each request runs dulwich's handler in a thread of its own. It reads the request body from a spooled file and
writes into `Output`, a small bounded queue the HTTP response drains: a pack is sent while it is generated,
and a slow client slows the generator instead of filling memory."""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, BinaryIO, cast

from dulwich.errors import GitProtocolError, HangupException
from dulwich.object_filters import BlobNoneFilter
from dulwich.objects import Blob
from dulwich.pack import write_pack_from_container
from dulwich.protocol import (
    CAPABILITY_ALLOW_REACHABLE_SHA1_IN_WANT,
    CAPABILITY_ALLOW_TIP_SHA1_IN_WANT,
    CAPABILITY_INCLUDE_TAG,
    CAPABILITY_NO_DONE,
    CAPABILITY_SIDE_BAND_64K,
    COMMAND_DEEPEN,
    COMMAND_FILTER,
    COMMAND_SHALLOW,
    COMMAND_WANT,
    SIDE_BAND_CHANNEL_PROGRESS,
    Protocol,
    ack_type,
    extract_want_line_capabilities,
    pkt_line,
)
from dulwich.server import Backend, ReceivePackHandler, UploadPackHandler, _ProtocolGraphWalker, _split_proto_line

from hubd.git import v2
from hubd.git.objects import RepoView

if TYPE_CHECKING:
    from dulwich.objects import ObjectID
    from dulwich.refs import Ref

log = logging.getLogger("hubd.git")
ZERO = b"0" * 40
SERVICES = ("git-upload-pack", "git-receive-pack")
_BLOCK = 64 * 1024


class ClientGone(Exception):
    """The HTTP client stopped reading: the handler thread gives up."""


class Output:
    """Bytes from the handler thread to the response, in blocks, through a bounded queue."""

    _END = object()

    def __init__(self, blocks: int = 16) -> None:
        self.q: queue.Queue = queue.Queue(blocks)
        self.buf = bytearray()
        self.cancelled = False
        self.error: BaseException | None = None

    def write(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) >= _BLOCK:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self._put(bytes(self.buf))
            self.buf.clear()

    def _put(self, item: object) -> None:
        while True:
            if self.cancelled:
                raise ClientGone()
            try:
                self.q.put(item, timeout=1)
                return
            except queue.Full:
                continue

    def close(self, error: BaseException | None = None) -> None:
        self.error = error
        try:
            if error is None:
                self.flush()
            self._put(self._END)
        except ClientGone:
            pass

    def get(self) -> bytes | None:
        """The next block, or None at the end (then `error` tells how it ended). Waits at most 1 s per
        try so a cancelled reader never leaves a thread waiting forever."""
        while True:
            if self.cancelled:
                return None
            try:
                item = self.q.get(timeout=1)
            except queue.Empty:
                continue
            return None if item is self._END else item


class _Backend(Backend):
    def __init__(self, view: RepoView) -> None:
        self.view = view

    def open_repository(self, path: str) -> RepoView:  # type: ignore[override]
        return self.view


class _Walker(_ProtocolGraphWalker):
    def determine_wants(self, heads: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        """dulwich's want reading, with one change: a want may be any object of this repo, not only an
        advertised tip (allow-reachable-sha1-in-want: a partial clone's lazy fetch asks for blobs by id)."""
        if self.advertise_refs or not self.stateless_rpc:
            return super().determine_wants(heads, depth)
        view = cast("RepoView", self.handler.repo)
        tips = set(heads.values())
        want = self.proto.read_pkt_line()
        if not want:
            return []
        line, caps = extract_want_line_capabilities(want)
        self.handler.set_client_capabilities(caps)
        self.set_ack_type(ack_type(caps))
        allowed = (COMMAND_WANT, COMMAND_SHALLOW, COMMAND_DEEPEN, COMMAND_FILTER, None)
        command, sha = _split_proto_line(line, allowed)
        wants: list[ObjectID] = []
        while command == COMMAND_WANT:
            assert isinstance(sha, bytes)
            if sha not in tips and not view.objects.is_reachable(sha.decode()):
                raise GitProtocolError(f"upload-pack: not our ref {sha.decode()}")
            if sha not in wants:
                wants.append(cast("ObjectID", sha))
            if len(wants) > v2.MAX_WANTS:
                raise GitProtocolError(f"at most {v2.MAX_WANTS} wants")
            command, sha = self.read_proto_line(allowed)
        self.set_wants(wants)
        if command == COMMAND_FILTER:  # `filter SPEC` after the wants, as git sends it over v0
            assert isinstance(sha, bytes)
            try:
                self.handler.filter_spec = v2.parse_filter(sha)
            except v2.Refused as exc:
                raise GitProtocolError(str(exc)) from None
            command, sha = self.read_proto_line(allowed)
        if command in (COMMAND_SHALLOW, COMMAND_DEEPEN):
            assert sha is not None
            self.unread_proto_line(command, sha)
            self._handle_shallow_request(wants)
        if self.proto.eof():
            return []
        return wants

    def _handle_shallow_request(self, wants: list) -> None:  # type: ignore[override]
        # A fetch into a shallow clone sends its `shallow` lines with no `deepen` (it keeps its depth);
        # dulwich expects a `deepen` and fails on the flush. Those commits are then boundaries of the walk,
        # and, as git's upload-pack does, nothing is answered about them.
        while True:
            command, value = self.read_proto_line((COMMAND_DEEPEN, COMMAND_SHALLOW, None))
            if command is None:
                self.shallow.update(self.client_shallow)
                return
            if command == COMMAND_DEEPEN:
                assert value is not None
                self.unread_proto_line(command, value)
                super()._handle_shallow_request(wants)
                return
            assert isinstance(value, bytes)
            self.client_shallow.add(cast("ObjectID", value))


class HubUploadPack(UploadPackHandler):
    def handle(self) -> None:
        """dulwich's negotiation and object walk, with the walker above, and the pack written object by
        object (no delta reuse: stored objects are whole, and reading each twice would double the reads)."""
        self._processing_have_lines = True
        walker = _Walker(self, self.repo.object_store, self.repo.get_peeled, self.repo.refs.get_symrefs)
        wants: list[ObjectID] = []

        def determine_wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
            wants.extend(walker.determine_wants(refs, depth))
            return wants

        missing = self.repo.find_missing_objects(determine_wants, walker, self.progress,
                                                 get_tagged=self.get_tagged)
        if not wants or missing is None:
            return
        spec = self.filter_spec
        explicit = set(wants)
        object_ids = [(sha, hint) for sha, hint in missing
                      if spec is None or hint is None or hint[0] != Blob.type_num or sha in explicit
                      or (not isinstance(spec, BlobNoneFilter)
                          and spec.should_include_blob(cast("RepoView", self.repo).objects.blob_size(sha.decode())))]
        if not walker.handle_done(not self.has_capability(CAPABILITY_NO_DONE), self._done_received):
            return
        self._start_pack_send_phase()
        self.progress(f"hubd: sending {len(object_ids)} objects\n".encode())
        if self.has_capability(CAPABILITY_SIDE_BAND_64K):  # full pkt-lines, not one per piece dulwich writes
            band = v2.Band(self.proto)
            write_pack_from_container(band.write, self.repo.object_store, object_ids,
                                      object_format=self.repo.object_format, reuse_deltas=False)
            band.flush()
        else:
            write_pack_from_container(self.write_pack_data, self.repo.object_store, object_ids,
                                      object_format=self.repo.object_format, reuse_deltas=False)
        self.proto.write_pkt_line(None)

    def capabilities(self) -> list[bytes]:
        # filter (partial clone) with the wants it needs later: any object of the repo by id (_Walker)
        return [*super().capabilities(), CAPABILITY_ALLOW_TIP_SHA1_IN_WANT, CAPABILITY_ALLOW_REACHABLE_SHA1_IN_WANT]

    def get_tagged(self, refs: Mapping[bytes, bytes] | None = None, repo: object = None) -> dict[ObjectID, ObjectID]:
        # include-tag: the annotated tags naming commits of the pack travel with it (dulwich finds none
        # without an on-disk repo behind the view)
        return cast("RepoView", self.repo).tagged() if self.has_capability(CAPABILITY_INCLUDE_TAG) else {}

    def set_client_capabilities(self, caps: Iterable[bytes]) -> None:
        super().set_client_capabilities(caps)  # parses filter=SPEC into self.filter_spec
        if self.filter_spec is not None:
            try:
                v2.parse_filter(self.filter_spec.to_spec_string().encode())
            except v2.Refused as exc:
                raise GitProtocolError(str(exc)) from None


PushFn = Callable[[list[tuple[bytes, bytes, bytes]], "str | None", Callable[[str], None]],
                  Iterable[tuple[bytes, bytes]]]


class HubReceivePack(ReceivePackHandler):
    """dulwich's receive-pack, with the pack spooled to a file and handed to hubd's push domain."""

    def __init__(self, backend: Backend, args: list[str], proto: Protocol, push: PushFn | None = None,
                 max_pack: int = 0, **kw: bool) -> None:
        super().__init__(backend, args, proto, **kw)
        self.push = push
        self.max_pack = max_pack

    def capabilities(self) -> list[bytes]:
        # no-thin: a pack must carry its delta bases, so nothing is ever rebuilt from an object the pusher
        # merely names (it could be another repo's)
        return [*super().capabilities(), b"no-thin"]

    def _say(self, text: str) -> None:
        if self._client_capabilities and self.has_capability(b"side-band-64k"):
            for line in text.splitlines() or [""]:
                self.proto.write_sideband(SIDE_BAND_CHANNEL_PROGRESS, line.encode() + b"\n")

    def _apply_pack(self, refs: list) -> Iterator[tuple[bytes, bytes]]:
        assert self.push is not None
        sends_pack = any(new != ZERO for _old, new, _name in refs)
        with tempfile.TemporaryDirectory(prefix="hubd-push-") as tmp:
            pack_path = None
            if sends_pack:
                pack_path = f"{tmp}/push.pack"
                with open(pack_path, "wb") as f:
                    size = 0
                    while chunk := self.proto.read(_BLOCK):
                        size += len(chunk)
                        if size > self.max_pack:
                            yield from _refuse_all(refs, f"the pack is larger than {self.max_pack} bytes")
                            return
                        f.write(chunk)
            yield from self.push(refs, pack_path, self._say)


def _refuse_all(refs: list, reason: str) -> Iterator[tuple[bytes, bytes]]:
    yield b"unpack", reason.encode()
    for _old, _new, name in refs:
        yield name, reason.encode()


def advertisement(service: str, view: RepoView) -> bytes:
    """The body of GET info/refs?service=…: the service line, then the refs and capabilities."""
    out = bytearray(pkt_line(f"# service={service}\n".encode()) + pkt_line(None))
    proto = Protocol(lambda n: b"", out.extend)
    _handler(service, view, proto, advertise=True).handle()
    return bytes(out)


def _handler(service: str, view: RepoView, proto: Protocol, advertise: bool = False,
             push: PushFn | None = None, max_pack: int = 0) -> UploadPackHandler | ReceivePackHandler:
    backend = _Backend(view)
    if service == "git-upload-pack":
        return HubUploadPack(backend, ["/"], proto, stateless_rpc=True, advertise_refs=advertise)
    return HubReceivePack(backend, ["/"], proto, push=push, max_pack=max_pack, stateless_rpc=True,
                          advertise_refs=advertise)


def start(service: str, view: RepoView, body: BinaryIO, out: Output, push: PushFn | None = None,
          max_pack: int = 0, v2_commands: list[v2.Command] | None = None) -> threading.Thread:
    """Run one stateless RPC of `service` in a thread; its answer comes out of `out`. With `v2_commands` (a
    protocol v2 request, parsed and checked already) the v2 upload-pack answers instead of dulwich's."""

    def run() -> None:
        proto = Protocol(body.read, out.write)
        try:
            if v2_commands is not None:
                v2.serve(view, v2_commands, out.write)
            else:
                _handler(service, view, proto, push=push, max_pack=max_pack).handle()
        except ClientGone:
            return
        except (GitProtocolError, HangupException, ValueError, KeyError, IndexError, AssertionError,
                v2.Refused) as exc:
            # a malformed request: git shows an ERR line as "remote error: …"
            log.info("git %s protocol error: %r", service, exc)
            try:
                out.write(pkt_line(f"ERR {_message(exc)}\n".encode()))
            except ClientGone:
                return
            out.close()
            return
        except BaseException as exc:  # noqa: BLE001 - reported by the response, which logs it
            out.close(exc)
            return
        finally:
            body.close()
        out.close()

    thread = threading.Thread(target=run, name=f"hubd-{service}", daemon=True)
    thread.start()
    return thread


def _message(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip() or type(exc).__name__
    return text[:500]


def spool() -> tempfile.SpooledTemporaryFile:
    """Request bodies are kept in memory up to 1 MiB, then on local disk (a cache, never state)."""
    return tempfile.SpooledTemporaryFile(max_size=1024 * 1024, prefix="hubd-git-")


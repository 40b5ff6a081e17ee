"""git protocol v2 for upload-pack (gitprotocol-v2): the capability advertisement, `ls-refs` and `fetch`.

dulwich serves v0/v1 only, so the framing and the two commands are here; the object walk (MissingObjectFinder),
shallow boundaries (find_shallow), partial clone filters (parse_filter_spec) and pack writing are dulwich's.

A request is parsed whole, with every bound checked, before any work: a malformed one is a 400 and costs one
pass over a body that is itself bounded. What only the repo can answer (an object that is not this repo's, a
filter hubd does not serve) comes back in-band as an `ERR` line, which git shows as "remote error: ..."."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, cast

from dulwich.object_filters import BlobLimitFilter, BlobNoneFilter, FilterSpec, parse_filter_spec
from dulwich.object_store import MissingObjectFinder, find_shallow
from dulwich.objects import Blob, Commit
from dulwich.pack import write_pack_from_container
from dulwich.protocol import SIDE_BAND_CHANNEL_DATA, SIDE_BAND_CHANNEL_PROGRESS, Protocol, pkt_line
from dulwich.server import _all_wants_satisfied

from hubd.git.objects import RepoView

if TYPE_CHECKING:
    from dulwich.objects import ObjectID
    from dulwich.refs import Ref

FLUSH, DELIM, RESPONSE_END = b"0000", b"0001", b"0002"
MAX_PKT = 65520
MAX_WANTS = 100_000  # a lazy fetch after a --filter=blob:none checkout asks for every file of the tree at once
MAX_HAVES = 100_000  # stateless negotiation sends the common haves again each round
MAX_SHALLOW = 100_000
MAX_PREFIXES = 1000  # git's own ls-refs ignores prefixes past a bound and lists everything; so does hubd
MAX_DEPTH = 2**31 - 1
MAX_READY_WANTS = 64
_OID = re.compile(rb"^[0-9a-f]{40}$")
CAPABILITIES = (b"agent=hubd", b"ls-refs", b"fetch=shallow filter",
                b"server-option", b"object-format=sha1")
FETCH_FLAGS = {b"thin-pack", b"no-progress", b"include-tag", b"ofs-delta", b"done", b"deepen-relative"}


class BadRequest(Exception):
    """The request breaks the protocol or a bound: answered 400 before anything is read from storage."""


class Refused(Exception):
    """A well-formed request hubd will not serve; the message goes to git as an ERR line."""


def wants_v2(header: str | None) -> bool:
    """Git-Protocol: colon-separated keys, e.g. `version=2` or `version=2:object-format=sha1`."""
    return header is not None and "version=2" in header.split(":")


def advertisement() -> bytes:
    """GET info/refs with `Git-Protocol: version=2`: what this server speaks (no service line: git-http-backend
    leaves it out for v2 and git does not expect it)."""
    lines = [b"version 2", *CAPABILITIES]
    return b"".join(pkt_line(line + b"\n") for line in lines) + FLUSH


# --- parsing ----------------------------------------------------------------------------------------------
def _pkts(f: BinaryIO) -> Callable[[], bytes | None]:
    """A reader of pkt-lines: the line without its newline, or FLUSH / DELIM / RESPONSE_END, or None at the end
    of the body."""

    def read() -> bytes | None:
        head = f.read(4)
        if not head:
            return None
        if len(head) < 4 or not re.fullmatch(rb"[0-9a-fA-F]{4}", head):
            raise BadRequest("malformed pkt-line length")
        size = int(head, 16)
        if size < 4:
            if size == 3:
                raise BadRequest("malformed pkt-line length")
            return head
        if size > MAX_PKT:
            raise BadRequest("pkt-line longer than 65520 bytes")
        data = f.read(size - 4)
        if len(data) != size - 4:
            raise BadRequest("the body ends inside a pkt-line")
        return data[:-1] if data.endswith(b"\n") else data

    return read


@dataclass
class Command:
    name: str
    args: list[bytes] = field(default_factory=list)
    parsed: LsRefsArgs | FetchArgs | None = None


def parse(f: BinaryIO) -> list[Command]:
    """Every command of a request body: `command=NAME`, capability lines, a delim, arguments, a flush."""
    read = _pkts(f)
    out: list[Command] = []
    while (line := read()) is not None:
        if line == FLUSH:  # an empty request (git's keep-alive) or the end of the last command
            continue
        if not line.startswith(b"command="):
            raise BadRequest("expected a command=... line")
        name = line[len(b"command="):].decode("ascii", "replace")
        if name not in ("ls-refs", "fetch"):
            raise BadRequest(f"unknown command {name[:64]!r}")
        cmd = Command(name)
        while True:  # capability lines: agent, object-format, server-option; checked, otherwise unused
            line = read()
            if line is None:
                raise BadRequest("the body ends inside a command")
            if line in (DELIM, FLUSH):
                break
            if line == RESPONSE_END:
                raise BadRequest("unexpected response-end packet")
            if line.startswith(b"object-format=") and line != b"object-format=sha1":
                raise BadRequest("only object-format=sha1 is served")
        if line == DELIM:
            while (arg := read()) != FLUSH:
                if arg is None:
                    raise BadRequest("the body ends inside a command")
                if arg in (DELIM, RESPONSE_END):
                    raise BadRequest("unexpected delim packet")
                cmd.args.append(arg)
                if len(cmd.args) > MAX_WANTS + MAX_HAVES + MAX_SHALLOW + MAX_PREFIXES + 16:
                    raise BadRequest("too many arguments")
        cmd.parsed = parse_ls_refs(cmd.args) if name == "ls-refs" else parse_fetch(cmd.args)
        out.append(cmd)
        if len(out) > 16:
            raise BadRequest("too many commands in one request")
    return out


@dataclass
class LsRefsArgs:
    symrefs: bool = False
    peel: bool = False
    prefixes: list[bytes] = field(default_factory=list)


def parse_ls_refs(args: list[bytes]) -> LsRefsArgs:
    a = LsRefsArgs()
    for arg in args:
        if arg == b"symrefs":
            a.symrefs = True
        elif arg == b"peel":
            a.peel = True
        elif arg == b"unborn":
            pass  # not advertised; every hub repo has its main branch from creation on
        elif arg.startswith(b"ref-prefix "):
            a.prefixes.append(arg[len(b"ref-prefix "):])
        else:
            raise BadRequest(f"unexpected ls-refs argument {arg[:64]!r}")
    if len(a.prefixes) > MAX_PREFIXES:
        a.prefixes = []
    return a


@dataclass
class FetchArgs:
    wants: list[bytes] = field(default_factory=list)
    haves: list[bytes] = field(default_factory=list)
    shallow: set[bytes] = field(default_factory=set)
    flags: set[bytes] = field(default_factory=set)
    depth: int | None = None
    deepen_since: int | None = None
    deepen_not: list[bytes] = field(default_factory=list)
    filter: bytes | None = None


def _oid(value: bytes, what: str) -> bytes:
    if not _OID.match(value):
        raise BadRequest(f"{what}: not an object id")
    return value


def parse_fetch(args: list[bytes]) -> FetchArgs:
    a = FetchArgs()
    for arg in args:
        key, _, value = arg.partition(b" ")
        if key == b"want":
            a.wants.append(_oid(value, "want"))
        elif key == b"have":
            a.haves.append(_oid(value, "have"))
        elif key == b"shallow":
            a.shallow.add(_oid(value, "shallow"))
        elif key == b"deepen":
            if not value.isdigit() or not 0 < int(value) <= MAX_DEPTH:
                raise BadRequest("deepen: not a positive depth")
            a.depth = int(value)
        elif key == b"deepen-since":
            if not value.isdigit() or len(value) > 12:
                raise BadRequest("deepen-since: not a timestamp")
            a.deepen_since = int(value)
        elif key == b"deepen-not":
            if not value or len(value) > 255:
                raise BadRequest("deepen-not: not a ref name")
            a.deepen_not.append(value)
        elif key == b"filter":
            if a.filter is not None or not value or len(value) > 1024:
                raise BadRequest("filter: one filter spec is expected")
            a.filter = value
        elif arg in FETCH_FLAGS and not value:
            a.flags.add(arg)
        else:
            # want-ref, sideband-all, packfile-uris, wait-for-done are not advertised, so not accepted
            raise BadRequest(f"unexpected fetch argument {arg[:64]!r}")
    if len(a.wants) > MAX_WANTS or len(a.haves) > MAX_HAVES or len(a.shallow) > MAX_SHALLOW:
        raise BadRequest(f"at most {MAX_WANTS} wants, {MAX_HAVES} haves and {MAX_SHALLOW} shallow lines")
    # repeats cost nothing more than one line each (every object behind a want is read from storage)
    a.wants, a.haves = list(dict.fromkeys(a.wants)), list(dict.fromkeys(a.haves))
    if len(a.deepen_not) > 1000:
        raise BadRequest("too many deepen-not lines")
    if a.depth is not None and (a.deepen_since is not None or a.deepen_not):
        raise BadRequest("deepen and deepen-since/deepen-not cannot be combined")
    if not a.wants and (a.haves or b"done" in a.flags):
        raise BadRequest("fetch without want lines")
    return a


def parse_filter(spec: bytes) -> FilterSpec:
    """blob:none and blob:limit=<n>[kmg]: what a partial clone of model or dataset repos asks for. Other filters
    are refused as git's upload-pack refuses a filter its configuration does not allow."""
    try:
        parsed = parse_filter_spec(spec)
    except ValueError as exc:
        raise Refused(f"invalid filter-spec '{spec.decode('utf-8', 'replace')[:100]}': {exc}") from None
    if not isinstance(parsed, BlobNoneFilter | BlobLimitFilter):
        kind = spec.split(b":", 1)[0].decode("ascii", "replace")[:40]
        raise Refused(f"filter '{kind}' not supported (blob:none and blob:limit are)")
    return parsed


# --- serving ------------------------------------------------------------------------------------------------
def serve(view: RepoView, commands: list[Command], write: Callable[[bytes], None]) -> None:
    proto = Protocol(lambda n: b"", write)
    for cmd in commands:
        if isinstance(cmd.parsed, LsRefsArgs):
            ls_refs(view, cmd.parsed, proto)
        elif isinstance(cmd.parsed, FetchArgs):
            fetch(view, cmd.parsed, proto)


def ls_refs(view: RepoView, a: LsRefsArgs, proto: Protocol) -> None:
    symrefs, peel, prefixes = a.symrefs, a.peel, a.prefixes
    refs = view.get_refs()
    targets = view.refs.get_symrefs()
    names = sorted(refs, key=lambda n: (n != b"HEAD", n))
    for name in names:
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        line = refs[name] + b" " + name
        if symrefs and name in targets:
            line += b" symref-target:" + targets[name]
        if peel:
            peeled = view.get_peeled(name)
            if peeled != refs[name]:
                line += b" peeled:" + peeled
        proto.write_pkt_line(line + b"\n")
    proto.write_pkt_line(None)


def _check_wants(view: RepoView, wants: list[bytes]) -> None:
    """A want must be this repo's: a ref target, one of its commits, or a tree or blob reachable from them
    (partial clones fetch blobs by id). Anything else, including another repo's objects, is not ours."""
    objects = view.objects
    tips = set(view.get_refs().values())
    for w in wants:
        sha = w.decode()
        if w in tips or sha in objects.commits or objects.is_reachable(sha):
            continue
        raise Refused(f"upload-pack: not our ref {sha}")


def _shallow_info(view: RepoView, a: FetchArgs, commit_wants: list[bytes]) -> tuple[set, set, set]:
    """(the shallow boundary the walk stops at, new shallow lines, unshallow lines) for this request."""
    store = view.objects
    client_shallow = {s for s in a.shallow if s.decode() in store.commits}
    if a.depth is not None:
        # deepen-relative (git fetch --deepen=N): N more commits below the client's current boundary
        heads, depth = ((sorted(client_shallow), a.depth + 1) if b"deepen-relative" in a.flags and client_shallow
                        else (commit_wants, a.depth))
        shallow, not_shallow = find_shallow(store, cast("list[ObjectID]", heads), min(depth, MAX_DEPTH))
        cut: set[bytes] = set(shallow - not_shallow)
        return cut, cut - client_shallow, set(not_shallow) & client_shallow
    if a.deepen_since is not None or a.deepen_not:
        cut, walked = _deepen_by(view, a, commit_wants)
        return cut, cut - client_shallow, client_shallow & (walked - cut)
    return set(client_shallow), set(), set()


def _deepen_by(view: RepoView, a: FetchArgs, heads: list[bytes]) -> tuple[set[bytes], set[bytes]]:
    """deepen-since / deepen-not: walk from the wants; a commit is kept when it is recent enough and not
    reachable from any deepen-not ref; a kept commit with a parent that is not kept is a shallow boundary."""
    store = view.objects
    excluded: set[bytes] = set()
    refs: dict[bytes, bytes] = {bytes(k): bytes(v) for k, v in view.get_refs().items()}
    for name in a.deepen_not:
        ref = next((r for r in (name, b"refs/heads/" + name, b"refs/tags/" + name) if r in refs), None)
        if ref is None:
            raise Refused(f"git upload-pack: deepen-not is not a ref: {name.decode('utf-8', 'replace')[:100]}")
        stack: list[bytes] = [view.get_peeled(cast("Ref", ref))]
        while stack:
            sha = stack.pop()
            if sha in excluded:
                continue
            excluded.add(sha)
            stack.extend(_parents(store, sha))

    def kept(sha: bytes) -> bool:
        if sha in excluded:
            return False
        if a.deepen_since is None:
            return True
        commit = store[sha]
        assert isinstance(commit, Commit)
        return commit.commit_time >= a.deepen_since

    boundary: set[bytes] = set()
    seen: set[bytes] = set()
    stack = [h for h in heads if kept(h)]
    if not stack:
        raise Refused("no commits selected for shallow requests")
    while stack:
        sha = stack.pop()
        if sha in seen:
            continue
        seen.add(sha)
        parents = _parents(store, sha)
        if any(not kept(p) for p in parents):
            boundary.add(sha)
            continue
        stack.extend(parents)
    return boundary, seen


def _parents(store: object, sha: bytes) -> list[bytes]:
    commit = store[sha]  # type: ignore[index]
    assert isinstance(commit, Commit)
    return list(commit.parents)


def fetch(view: RepoView, a: FetchArgs, proto: Protocol) -> None:
    if not a.wants:
        proto.write_pkt_line(None)
        return
    store = view.objects
    _check_wants(view, a.wants)
    spec = parse_filter(a.filter) if a.filter is not None else None
    common = [h for h in a.haves if h in store]  # this repo's commits only: another repo's are never ACKed
    commit_wants = [w for w in a.wants if w.decode() in store.commits or w in view.tag_objects]
    peeled_wants = [view.peel_object(w) for w in commit_wants]
    if b"done" in a.flags:  # what can be refused is, before the first line of the answer
        boundary, new_shallow, unshallow = _shallow_info(view, a, peeled_wants)
    else:
        proto.write_pkt_line(b"acknowledgments\n")
        for h in common:
            proto.write_pkt_line(b"ACK " + h + b"\n")
        if not common:
            proto.write_pkt_line(b"NAK\n")
        # ready once every wanted commit has a common ancestor among the haves; until then git sends more.
        # Each want is a walk of its own, so past a few dozen hubd does not try: git sends `done` after its
        # haves run out (or 256 go unacknowledged), and the pack is the same
        ready = bool(common) and len(commit_wants) == len(a.wants) and len(set(peeled_wants)) <= MAX_READY_WANTS \
            and _all_wants_satisfied(
            store, cast("set[ObjectID]", set(common)), cast("set[ObjectID]", set(peeled_wants)))
        if not ready:
            proto.write_pkt_line(None)
            return
        boundary, new_shallow, unshallow = _shallow_info(view, a, peeled_wants)
        proto.write_pkt_line(b"ready\n")
        proto.write(DELIM)
    if a.shallow or a.depth is not None or a.deepen_since is not None or a.deepen_not:
        proto.write_pkt_line(b"shallow-info\n")
        for sha in sorted(new_shallow):
            proto.write_pkt_line(b"shallow " + sha + b"\n")
        for sha in sorted(unshallow):
            proto.write_pkt_line(b"unshallow " + sha + b"\n")
        proto.write(DELIM)
    # A commit that stops being shallow is one the client has without its parents: walking down from the
    # haves would wrongly count those parents as the client's, so the pack is then built without haves.
    haves = [] if unshallow else common
    tagged = view.tagged() if b"include-tag" in a.flags else {}
    # Blobs asked for by id (a partial clone's lazy fetch) go straight into the pack: the object walk would
    # read each one whole only to learn that it is a blob, and the pack writer would read it again.
    blobs = {w for w in a.wants if store.kind(w.decode()) == "blob"}
    walked = [w for w in a.wants if w not in blobs]
    finder = MissingObjectFinder(store, cast("list[ObjectID]", haves), cast("list[ObjectID]", walked),
                                 shallow=cast("set[ObjectID]", boundary),
                                 get_tagged=lambda: tagged) if walked else None
    explicit = set(a.wants)
    object_ids: list[tuple[ObjectID, tuple[int, bytes | None] | None]] = [
        (cast("ObjectID", w), (Blob.type_num, None)) for w in a.wants if w in blobs]
    for sha, hint in finder if finder is not None else ():
        if sha in blobs:
            continue
        if spec is not None and hint is not None and hint[0] == Blob.type_num and sha not in explicit:
            if isinstance(spec, BlobNoneFilter):
                continue
            if not spec.should_include_blob(store.blob_size(sha.decode())):
                continue
        object_ids.append((sha, hint))
    proto.write_pkt_line(b"packfile\n")
    progress = b"no-progress" not in a.flags
    if progress:
        proto.write_sideband(SIDE_BAND_CHANNEL_PROGRESS, f"hubd: sending {len(object_ids)} objects\n".encode())
    data = Band(proto)
    write_pack_from_container(data.write, store,  # type: ignore[arg-type]  # read only, as dulwich's server does
                              object_ids, object_format=view.object_format, reuse_deltas=False)
    data.flush()
    proto.write_pkt_line(None)


class Band:
    """The pack on side-band channel 1 in full pkt-lines: dulwich writes it in pieces of a few bytes (headers,
    each object's parts), which would otherwise cost a pkt-line header each."""

    SIZE = 65515  # the largest pkt-line payload after the band byte

    def __init__(self, proto: Protocol) -> None:
        self.proto = proto
        self.buf = bytearray()

    def write(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= self.SIZE:
            self.proto.write_sideband(SIDE_BAND_CHANNEL_DATA, bytes(self.buf[:self.SIZE]))
            del self.buf[:self.SIZE]

    def flush(self) -> None:
        if self.buf:
            self.proto.write_sideband(SIDE_BAND_CHANNEL_DATA, bytes(self.buf))
            self.buf.clear()

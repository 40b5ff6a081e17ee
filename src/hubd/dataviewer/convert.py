"""Data files → parquet shards, streamed in record batches: memory holds one batch, not a file."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

SHARD_BYTES = 500 * 1024 * 1024  # as the Hub: shards of about 500 MB
MAX_SPLIT_BYTES = 5 * 1024**3  # beyond this the export is partial, as on the Hub
BLOCK = 4 * 1024 * 1024
MAX_JSON_DEPTH = 64  # pyarrow's JSON reader overflows the C stack on deep nesting (10,000 levels: SIGSEGV)
MAX_JSON_ITEM = 16 * 1024 * 1024  # one element of a top-level JSON array

# a JSON string on one line (raw newlines are not allowed inside JSON strings): removed before counting
# brackets, so a "[" inside a value does not count as nesting
_JSON_STRING = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}\n]+")
_ANY_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # may span lines (in a JSON array)
_STRUCTURE = re.compile(rb"[\[\]{}]")
_ALL_BUT_OPENERS = bytes(sorted(set(range(256)) - set(b"[{\n")))
_OPENER_RUN = re.compile(rb"[\[{]{%d}" % (MAX_JSON_DEPTH + 1))


class ConversionError(ValueError):
    """A data file cannot be read or does not fit the split's schema."""


@dataclass
class SplitExport:
    shards: list[Path] = field(default_factory=list)
    num_rows: int = 0
    schema: pa.Schema | None = None
    partial: bool = False


def read_batches(path: Path, fmt: str, label: str | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of one data file; any error is a ConversionError naming `label` (the file's path in
    the repo; the local path is a blob's hash)."""
    label = label or path.name
    try:
        if fmt in ("csv", "tsv"):
            parse = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
            yield from pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=BLOCK), parse_options=parse)
        elif fmt == "parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=65536)
        elif fmt == "json":
            yield from _json_batches(path)
        else:
            raise ConversionError(f"unsupported format {fmt}")
    except ConversionError as exc:
        raise ConversionError(f"{label}: {exc}") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        # every way a data file can be bad is the dataset's recorded error, never a job crash (a crash is
        # retried, and until the last retry the dataset stays "not ready")
        raise ConversionError(f"{label}: {exc}") from None


def check_json_lines_depth(path: Path) -> None:
    """Refuse JSON Lines nested deeper than MAX_JSON_DEPTH or with a line longer than BLOCK, before
    pyarrow parses them. One streaming pass, in blocks cut at line ends; regexes do the per-byte work, and
    only a line with more than MAX_JSON_DEPTH opening brackets is walked bracket by bracket."""
    carry = b""
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK)
            data = carry + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            chunk, carry = data[:cut], data[cut:]
            if len(carry) > BLOCK:
                raise ConversionError(f"a line is longer than {BLOCK // 2**20} MiB")
            # fast path (bytes.translate + one regex, C speed): a line with at most MAX_JSON_DEPTH opening
            # brackets, in strings or not, cannot nest deeper; only other chunks get the exact walk
            if _OPENER_RUN.search(chunk.translate(None, _ALL_BUT_OPENERS)):
                brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", chunk))
                for line in brackets.split(b"\n"):
                    if line.count(b"[") + line.count(b"{") > MAX_JSON_DEPTH:
                        _check_depth(path, line)
            if not block:
                return


def _check_depth(path: Path, brackets: bytes) -> None:
    depth = 0
    for c in brackets:
        if c in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ConversionError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        elif depth:  # floored at 0: stray closers cannot pay for deeper nesting later
            depth -= 1


def _blank_string(m: re.Match[bytes]) -> bytes:
    return b'"' + b" " * (len(m.group()) - 2) + b'"'


def json_array_to_lines(path: Path, out: Path) -> None:
    """Rewrite a top-level JSON array of objects as JSON Lines, streaming, for pyarrow's reader (which only
    streams JSON Lines; loading the array whole cost ~28× its size in memory). Strings are masked with
    same-length blanks so that only structural brackets and commas are seen; the elements are the
    top-level comma-separated slices of the original bytes. Refuses nesting deeper than MAX_JSON_DEPTH
    (pyarrow's reader crashes on 10,000 levels) and elements or strings larger than MAX_JSON_ITEM."""
    depth = 0
    pending = b""  # bytes of the element being read, from earlier blocks (bounded by MAX_JSON_ITEM)
    carry = b""  # an unterminated string at the end of the previous block
    started = closed = False
    with open(path, "rb") as f, open(out, "wb") as w:
        while True:
            block = f.read(BLOCK)
            data = carry + block
            masked = _ANY_JSON_STRING.sub(_blank_string, data)
            # every complete string is now `"   "`: a quote left unpaired opens a string that goes on in the
            # next block; it and what follows are carried over
            tail = 0
            if block and masked.count(b'"') % 2:
                tail = len(data) - masked.rfind(b'"')
                if tail > MAX_JSON_ITEM:
                    raise ConversionError(f"a string is longer than {MAX_JSON_ITEM // 2**20} MiB")
            end = len(data) - tail
            carry = data[end:]
            start = 0
            for m in _STRUCTURE.finditer(masked, 0, end):
                c = m.group()
                if c in b"[{":
                    depth += 1
                    if depth > MAX_JSON_DEPTH:
                        raise ConversionError(f"nested deeper than {MAX_JSON_DEPTH} levels")
                    if depth == 1:
                        if started or c != b"[":
                            raise ConversionError("expected a list of objects")
                        started, start = True, m.end()
                    elif depth == 2:
                        if masked[start:m.start()].strip(b" \t\r\n,"):
                            raise ConversionError("expected a list of objects")
                        if c != b"{":
                            raise ConversionError("expected a list of objects")
                        start, pending = m.start(), b""
                elif c in b"]}":
                    depth -= 1
                    if depth < 0:
                        raise ConversionError("unbalanced brackets")
                    if depth == 1:  # an element ends here
                        w.write((pending + data[start:m.end()]).replace(b"\n", b" ").replace(b"\r", b" "))
                        w.write(b"\n")
                        pending, start = b"", m.end()
                    elif depth == 0:
                        if masked[start:m.start()].strip(b" \t\r\n,"):
                            raise ConversionError("expected a list of objects")
                        closed, start = True, m.end()
            if depth >= 2:
                pending += data[start:end]
                if len(pending) > MAX_JSON_ITEM:
                    raise ConversionError(f"an element is larger than {MAX_JSON_ITEM // 2**20} MiB")
            elif closed and masked[start:end].strip(b" \t\r\n"):
                raise ConversionError("trailing data after the array")
            if not block:
                break
    if not closed or depth:
        raise ConversionError("the JSON array is not closed")


def _json_array_batches(path: Path) -> Iterator[pa.RecordBatch]:
    # a temporary file, never beside `path`: that may be the stored blob itself
    with tempfile.TemporaryDirectory(prefix="hubd-json-") as tmp:
        lines = Path(tmp) / "array.jsonl"
        json_array_to_lines(path, lines)
        yield from pajson.open_json(lines, read_options=pajson.ReadOptions(block_size=BLOCK))


def _json_batches(path: Path) -> Iterator[pa.RecordBatch]:
    with open(path, "rb") as f:
        first = f.read(4096).lstrip()
    if first.startswith(b"["):  # a JSON array, not JSON Lines: pyarrow only streams the latter
        yield from _json_array_batches(path)
        return
    check_json_lines_depth(path)
    yield from pajson.open_json(path, read_options=pajson.ReadOptions(block_size=BLOCK))


def convert_split(sources: list[tuple[Path, str]], out_dir: Path, names: list[str] | None = None) -> SplitExport:
    """Write `sources` (local path, format) as {out_dir}/NNNN.parquet shards; `names` label errors."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = SplitExport()
    writer: pq.ParquetWriter | None = None
    written = 0
    try:
        for i, (path, fmt) in enumerate(sources):
            label = names[i] if names else path.name
            for batch in read_batches(path, fmt, label):
                if result.schema is None:
                    result.schema = batch.schema
                elif batch.schema != result.schema:
                    try:
                        batch = pa.Table.from_batches([batch]).cast(result.schema).to_batches()[0]
                    except (pa.ArrowException, ValueError, IndexError) as exc:
                        raise ConversionError(f"{label} does not match the split's columns: {exc}") from None
                if writer is None or written >= SHARD_BYTES:
                    if writer is not None:
                        writer.close()
                    shard = out_dir / f"{len(result.shards):04d}.parquet"
                    writer = pq.ParquetWriter(shard, result.schema, compression="snappy")
                    result.shards.append(shard)
                    written = 0
                writer.write_batch(batch, row_group_size=100_000)
                written += batch.nbytes
                result.num_rows += batch.num_rows
                if sum(s.stat().st_size for s in result.shards[:-1]) + written > MAX_SPLIT_BYTES:
                    result.partial = True
                    return result
        return result
    finally:
        if writer is not None:
            writer.close()

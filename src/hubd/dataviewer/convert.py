"""Data files → parquet shards, streamed in record batches: memory holds one batch, not a file."""

from __future__ import annotations

import json
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
MAX_JSON_ARRAY_FILE = 256 * 1024 * 1024


class ConversionError(ValueError):
    """A data file cannot be read or does not fit the split's schema."""


@dataclass
class SplitExport:
    shards: list[Path] = field(default_factory=list)
    num_rows: int = 0
    schema: pa.Schema | None = None
    partial: bool = False


def read_batches(path: Path, fmt: str) -> Iterator[pa.RecordBatch]:
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
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
        raise ConversionError(f"{path.name}: {exc}") from None


def _json_batches(path: Path) -> Iterator[pa.RecordBatch]:
    with open(path, "rb") as f:
        first = f.read(4096).lstrip()
    if first.startswith(b"["):  # a JSON array, not JSON Lines: pyarrow only streams the latter
        if path.stat().st_size > MAX_JSON_ARRAY_FILE:
            raise ConversionError(f"{path.name}: JSON arrays above 256 MiB are not converted; use JSON Lines")
        rows = json.loads(path.read_bytes())
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ConversionError(f"{path.name}: expected a list of objects")
        yield from pa.Table.from_pylist(rows).to_batches(max_chunksize=65536)
        return
    yield from pajson.open_json(path, read_options=pajson.ReadOptions(block_size=BLOCK))


def convert_split(sources: list[tuple[Path, str]], out_dir: Path) -> SplitExport:
    """Write `sources` (local path, format) as {out_dir}/NNNN.parquet shards."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = SplitExport()
    writer: pq.ParquetWriter | None = None
    written = 0
    try:
        for path, fmt in sources:
            for batch in read_batches(path, fmt):
                if result.schema is None:
                    result.schema = batch.schema
                elif batch.schema != result.schema:
                    try:
                        batch = pa.Table.from_batches([batch]).cast(result.schema).to_batches()[0]
                    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, IndexError) as exc:
                        raise ConversionError(f"{path.name} does not match the split's columns: {exc}") from None
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

"""Arrow schemas as `datasets` Features dicts, and Arrow values as JSON."""

from __future__ import annotations

import base64
import datetime as dt
import decimal

import pyarrow as pa


def feature(t: pa.DataType) -> dict:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return {"feature": feature(t.value_type), "_type": "List"}
    if pa.types.is_struct(t):
        return {f.name: feature(f.type) for f in t}
    if pa.types.is_timestamp(t):
        return {"dtype": f"timestamp[{t.unit}]", "_type": "Value"}
    if pa.types.is_dictionary(t):
        return feature(t.value_type)
    names = {pa.bool_(): "bool", pa.string(): "string", pa.large_string(): "large_string", pa.binary(): "binary",
             pa.date32(): "date32", pa.null(): "null"}
    return {"dtype": names.get(t, str(t)), "_type": "Value"}


def features(schema: pa.Schema) -> dict:
    return {f.name: feature(f.type) for f in schema}


def feature_list(schema: pa.Schema) -> list[dict]:
    """The viewer's form: one entry per column, with its index."""
    return [{"feature_idx": i, "name": f.name, "type": feature(f.type)} for i, f in enumerate(schema)]


def json_value(v: object) -> object:
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, float) and v != v:
        return None  # NaN is not JSON
    if isinstance(v, list):
        return [json_value(x) for x in v]
    if isinstance(v, dict):
        return {k: json_value(x) for k, x in v.items()}
    return v

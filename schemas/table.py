"""A checked register's rows as plain Python lists, the shape a parser process sends back.

A parser process checks the register with pandas and pandera (`hazardnet.intake.check_pool`); the ingesting
process only stores the rows. Sending them as a `PlainFrame` — one list per field, every null (None, NaN, NaT)
already None — means the ingesting process never imports pandas and numpy (≈0.8 CPU s per run) to unpickle
a DataFrame. `field_columns` is the one conversion from a frame, used by the parser process and by the store
for a frame checked in the ingesting process itself, so both paths store the same values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas.headers import FIELDS

if TYPE_CHECKING:
    import pandas as pd

FIELD_NAMES = [f.name for f in FIELDS]

# classes whose values never equal a value of another class found in a register's cells
_NEVER_EQUAL_ACROSS = frozenset({str, type(None)})


def per_distinct_value(values: list[Any], fn: Callable[[Any], Any]) -> dict[Any, Any] | None:
    """`fn` of each distinct value of `values` (value -> result, so `map(result.__getitem__, values)` is every
    value's), computed once per value: a register repeats its counties, grades, statuses, dates and blanks in
    every row. None when two distinct cells could fall on one key — values of two classes that can be equal
    (1, 1.0 and True; a date and a datetime; 0.0 and -0.0) — or a value is unhashable: then apply `fn` to each value."""
    classes = set(map(type, values))
    if len(classes - _NEVER_EQUAL_ACROSS) > 1:
        return None
    try:
        results = {v: fn(v) for v in dict.fromkeys(values)}
    except TypeError:  # unhashable
        return None
    if float in classes and 0.0 in results and len({math.copysign(1.0, v) for v in values
                                                    if v.__class__ is float and v == 0.0}) > 1:
        return None  # 0.0 and -0.0: one key, two cells ("0" and "-0")
    return results


class PlainColumn(list):
    """A column of a PlainFrame; `tolist()` as a pandas Series has it."""

    def tolist(self) -> list[Any]:
        return list(self)


@dataclass
class PlainFrame:
    """`_row` (0-based grid row) and every field of FIELD_NAMES, as lists of `length` plain values."""

    columns: dict[str, list[Any]]
    length: int

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, name: str) -> PlainColumn:
        return PlainColumn(self.columns[name])

    @classmethod
    def of(cls, frame: pd.DataFrame) -> PlainFrame:
        columns = dict(zip(FIELD_NAMES, field_columns(frame)))
        columns["_row"] = [int(r) for r in frame["_row"].tolist()]
        return cls(columns, len(frame))


def column_values(rows: pd.DataFrame, name: str) -> list[Any]:
    """A column as plain Python values with every null (None, NaN, NaT) as None; all None if absent."""
    if name not in rows.columns:
        return [None] * len(rows)
    col = rows[name]
    if col.dtype != object:
        col = col.astype(object)
    values = col.tolist()
    nulls = col.isna()  # the same test as pd.isna(value), for the whole column at once
    if nulls.any():
        values = [None if null else v for v, null in zip(values, nulls.tolist())]
    return values


def field_columns(rows: pd.DataFrame | PlainFrame) -> list[list[Any]]:
    """`column_values` of every field (FIELD_NAMES order), in one go where the frame allows it: its present
    field columns all of dtype object (as the checker makes them) are turned into one 2-D object array, whose
    nulls one `pd.isna` finds (the same test, element by element, as each column's isna) — a few calls
    instead of several pandas Series operations per column. A PlainFrame's columns are that already."""
    if isinstance(rows, PlainFrame):
        return [rows.columns.get(name) or [None] * rows.length for name in FIELD_NAMES]
    import pandas as pd

    present = [name for name in FIELD_NAMES if name in rows.columns]
    if not present or not rows.columns.is_unique:
        return [column_values(rows, name) for name in FIELD_NAMES]
    dtypes = rows.dtypes
    if any(dtypes[name] != object for name in present):
        return [column_values(rows, name) for name in FIELD_NAMES]
    block = rows[present].to_numpy(dtype=object, copy=True)
    nulls = pd.isna(block)
    if nulls.any():
        block[nulls] = None
    by_name = dict(zip(present, block.T.tolist()))
    n = len(rows)
    return [by_name[name] if name in by_name else [None] * n for name in FIELD_NAMES]

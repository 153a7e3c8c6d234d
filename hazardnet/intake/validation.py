"""Judge a normalized register with pandera and turn every failure into a Finding at its cell."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandera.errors as pe

from hazardnet.intake.findings import Finding, cell_ref, show_value
from hazardnet.intake.sheet import RegisterSheet
from schemas.headers import FIELD_BY_NAME
from schemas.register import CHECK_MESSAGES, FRAME_CHECK_FIELDS, MAX_TEXT, expecting_county, register_schema


@lru_cache(maxsize=64)
def _schema(as_of: dt.date, severities: tuple[str, ...]):
    """The schema of a report date, built once per worker for every county (it is immutable once built)."""
    return register_schema(as_of, None, severities)


def validate_register(reg: RegisterSheet, county: str, as_of: dt.date, severities: list[str]) -> list[Finding]:
    """Every rule of the register checked at once (lazy); one Finding per failing cell."""
    frame = reg.frame.drop(columns=["_row"]).reset_index(drop=True)
    if frame.empty:
        return []
    schema = _schema(as_of, tuple(severities))
    try:
        with expecting_county(county):
            schema.validate(frame, lazy=True)
        return []
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
    findings: dict[tuple[int, str, str], Finding] = {}
    # A row whose found date is itself wrong gets no "earlier than the found date" findings: noise.
    bad_found = {int(c.index) for c in cases.itertuples(index=False)
                 if c.column == "found_date" and c.check in ("is_date", "not_future") and c.index is not None}
    for case in cases.itertuples(index=False):
        check = str(case.check)
        idx = case.index
        if idx is None or (isinstance(idx, float) and idx != idx):
            continue  # schema-level problems (a missing column) are reported by read_register
        idx = int(idx)
        name = FRAME_CHECK_FIELDS.get(check, case.column)
        if name not in FIELD_BY_NAME:
            continue
        if name not in reg.columns and not (name == "hazard_id" and reg.derived_ids):
            continue  # a missing column is one finding at the header (read_register), not one per row
        if check in FRAME_CHECK_FIELDS and idx in bad_found:
            continue
        key = (idx, name, check)
        if key in findings:
            continue
        value = frame.at[idx, name]
        grid_row = int(reg.frame.at[idx, "_row"])
        col = reg.columns.get(name)
        if name == "hazard_id" and reg.derived_ids:
            col = None
        template = CHECK_MESSAGES.get(check, f"不符合规则 {check}")
        message = template.format(value=show_value(value), county=county, limit=MAX_TEXT,
                                  choices="、".join(severities))
        findings[key] = Finding(
            sheet=reg.sheet,
            cell=cell_ref(grid_row, col) if col is not None else f"第{grid_row + 1}行",
            field=FIELD_BY_NAME[name].header,
            message=message,
            value=show_value(reg.raw.get((grid_row, col), value) if col is not None else value),
            row=grid_row + 1,
            col=(col + 1) if col is not None else 0,
        )
    return sorted(findings.values(), key=lambda f: (f.row, f.col, f.message))


def _warm_up() -> None:
    """Let pandera register its pandas backends (importing what they need) now, at import: in the forkserver
    that preloads this module that happens once for all parser processes, not at each one's first register."""
    import pandas as pd
    import pandera.pandas as pa

    schema = pa.DataFrameSchema({"x": pa.Column(None, pa.Check(lambda s: s.notna(), name="warm_up"), nullable=True)})
    schema.validate(pd.DataFrame({"x": [1]}), lazy=True)


_warm_up()

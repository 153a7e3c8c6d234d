"""A register that says a hazard is closed (已销号 / 已闭环) without the passing re-inspection that closes it:
the row is stored as 已整改 (the customer's claim) and a warning points at its status cell."""

from __future__ import annotations

from hazardnet.intake.findings import WARNING, Finding, cell_ref
from hazardnet.intake.sheet import RegisterSheet
from hazardnet.rules import closed
from schemas.headers import FIELD_BY_NAME, normalize_label
from schemas.vocab import CLOSED_STATUS_WORDS

_CLOSED_WORDS = frozenset(normalize_label(w) for w in CLOSED_STATUS_WORDS)


def closure_findings(reg: RegisterSheet) -> list[Finding]:
    """One warning per row whose 整改状态 claims 销号/闭环 but whose 复查 columns do not close it."""
    col = reg.columns.get("status")
    if col is None or reg.frame.empty:
        return []
    out: list[Finding] = []
    names = [f for f in ("status", "completed_date", "owner", "reinspect_date", "reinspector", "reinspect_result")]
    claims = [i for i, grid_row in enumerate(reg.frame["_row"].tolist())  # rows written 销号/闭环: few
              if normalize_label(reg.raw.get((int(grid_row), col))) in _CLOSED_WORDS]
    if not claims:
        return out
    for rec in reg.frame.iloc[claims][["_row", *names]].to_dict("records"):
        grid_row = int(rec["_row"])
        raw = reg.raw.get((grid_row, col), None)
        if closed(rec):
            continue
        out.append(Finding(
            sheet=reg.sheet, cell=cell_ref(grid_row, col), field=FIELD_BY_NAME["status"].header,
            message=f"整改状态为“{raw}”，但没有复查结论为“合格”的复查记录（复查日期不早于完成日期、复查人不是整改责任人），"
                    f"按“已整改”（待复查）登记；复查合格后再填写“已销号”。",
            value=str(raw), level=WARNING, row=grid_row + 1, col=col + 1))
    return out

"""Rows whose loop columns (整改状态, 完成日期, 复查日期, 复查人, 复查结论) keep the hazard from closing: a register that
says a hazard is closed (已销号 / 已闭环) without the passing re-inspection that closes it (the row is stored as 已整改,
the customer's claim), and the contradictions a clerk may not see — a 合格 re-inspection of a hazard still 未整改 or
整改中, a 复查人 who is the customer's own 整改责任人, a 复查结论 without its 复查日期 or the reverse, a 未整改 hazard with a
完成日期. Each is a warning at its cell (the file is still accepted) saying why the hazard will not close."""

from __future__ import annotations

from typing import Any

from hazardnet.intake.findings import WARNING, Finding, cell_ref, show_value
from hazardnet.intake.sheet import RegisterSheet
from hazardnet.rules import closed
from schemas.headers import FIELD_BY_NAME, normalize_label
from schemas.vocab import CLOSED_STATUS_WORDS, REINSPECT_PASS, REINSPECT_RESULTS, STATUS_OPEN

_CLOSED_WORDS = frozenset(normalize_label(w) for w in CLOSED_STATUS_WORDS)
_LOOP = ("status", "completed_date", "owner", "reinspect_date", "reinspector", "reinspect_result")


def closure_findings(reg: RegisterSheet) -> list[Finding]:
    """One warning per row whose 整改状态 claims 销号/闭环 but whose 复查 columns do not close it, then one per
    contradiction of its loop columns (`loop_findings`)."""
    col = reg.columns.get("status")
    if col is None or reg.frame.empty:
        return []
    out: list[Finding] = []
    claims = [i for i, grid_row in enumerate(reg.frame["_row"].tolist())  # rows written 销号/闭环: few
              if normalize_label(reg.raw.get((int(grid_row), col))) in _CLOSED_WORDS]
    for rec in reg.frame.iloc[claims][["_row", *_LOOP]].to_dict("records") if claims else []:
        grid_row = int(rec["_row"])
        raw = reg.raw.get((grid_row, col), None)
        if closed(rec):
            continue
        out.append(Finding(
            sheet=reg.sheet, cell=cell_ref(grid_row, col), field=FIELD_BY_NAME["status"].header,
            message=f"整改状态为“{raw}”，但没有复查结论为“合格”的复查记录（复查日期不早于完成日期、复查人不是整改责任人），"
                    f"按“已整改”（待复查）登记；复查合格后再填写“已销号”。",
            value=str(raw), level=WARNING, row=grid_row + 1, col=col + 1))
    return out + loop_findings(reg)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def loop_findings(reg: RegisterSheet) -> list[Finding]:
    """A warning at the cell of each contradiction of a row's loop columns that keeps the hazard from closing."""
    columns = {name: reg.frame[name].tolist() for name in _LOOP}
    out: list[Finding] = []

    def warn(grid_row: int, name: str, message: str, value: Any) -> None:
        col = reg.columns.get(name)
        if col is None:  # the column the contradiction is about is not in the register: nothing to point at
            return
        shown = show_value(reg.raw.get((grid_row, col), value))
        out.append(Finding(reg.sheet, cell_ref(grid_row, col), FIELD_BY_NAME[name].header, message, shown,
                           level=WARNING, row=grid_row + 1, col=col + 1))

    for i, grid_row in enumerate(reg.frame["_row"].tolist()):
        grid_row = int(grid_row)
        status, completed, owner, when, by, result = (columns[name][i] for name in _LOOP)
        if result == REINSPECT_PASS and status in STATUS_OPEN:
            warn(grid_row, "reinspect_result",
                 f"复查结论为“合格”，但整改状态为“{status}”：只有“已整改”的隐患复查合格才能销号，本隐患仍按“{status}”统计；"
                 f"请核对整改状态或复查结论。", result)
        if not _blank(by) and not _blank(owner) and str(by).strip() == str(owner).strip():
            warn(grid_row, "reinspector",
                 f"复查人“{by}”就是本隐患的整改责任人：复查应由供电企业人员进行，不能由客户的整改责任人自己复查，"
                 f"这次复查不能作为销号依据；请填写实际复查人。", by)
        if result in REINSPECT_RESULTS and _blank(when):
            warn(grid_row, "reinspect_result",
                 f"填写了复查结论“{result}”，但未填写复查日期：没有复查日期的复查结论不计入销号或重新整改；请补填复查日期。",
                 result)
        if not _blank(when) and _blank(result):
            warn(grid_row, "reinspect_date",
                 "填写了复查日期，但未填写复查结论：隐患不会销号；请填写“合格”或“不合格”。", when)
        if status == "未整改" and not _blank(completed):
            warn(grid_row, "completed_date",
                 f"整改状态为“未整改”，却填写了完成日期“{show_value(completed)}”：隐患按“未整改”统计，不会进入复查和销号；"
                 f"已整改完成的请将整改状态改为“已整改”，否则删除完成日期。", completed)
    return out

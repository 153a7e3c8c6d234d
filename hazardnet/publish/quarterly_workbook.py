"""The quarterly summary workbook (季度隐患治理情况汇总.xlsx) and everything a quarter writes.

The workbook has the sheets 总览 (figures, notes, native charts), 通报清单 (the meeting handout), 逾期督办
(overdue hazards with their deadline history, for government supervision), 本季度报告已整改 and 整改承诺 (the
commitment table signed at the meeting). `write_summary` writes one scope's workbook, `write_deck` its briefing
deck (`briefing_deck`), `write_quarter_newsletter` the newsletter text (`newsletter`); the quarterly job
(hazardnet/jobs/quarterly.py) writes every file of a quarter. Figures: `quarterly`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hazardnet.publish.briefing_deck import Photos, deck_name, write_briefing_deck
from hazardnet.publish.newsletter import newsletter_name, write_newsletter
from hazardnet.publish.closure_figures import CLOSURE_FIGURES
from hazardnet.publish.quarterly import (
    DONE_IN_QUARTER,
    FIGURES,
    RECONCILIATION,
    Quarter,
    QuarterlySummary,
    cell_value,
    quarter_status,
    supervision_request,
)
from hazardnet.settings import Settings
from hazardnet.xlsx.row_height import DEFAULT_COL_WIDTH
from hazardnet.xlsx.style import (Formats, atomic_workbook, keep_on_page, paper_for, setup_print, write_cell,
                                  write_table)
from schemas.vocab import CATEGORIES, CUSTOMER_GRADES, MAJOR_SEVERITY


# ---- file names ------------------------------------------------------------------------------
def quarterly_dir(settings: Settings, quarter: Quarter) -> Path:
    return settings.outbox / "quarterly" / quarter.label


def workbook_name(scope_name: str, quarter: Quarter) -> str:
    return f"{scope_name}{quarter.title}电力安全隐患治理情况汇总.xlsx"


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip() or "未命名"


# ---- the workbook ----------------------------------------------------------------------------
OVERVIEW = "总览"
BRIEFING = "通报清单"
OVERDUE = "逾期督办"
REMEDIATED = "本季度报告已整改"
COMMITMENTS = "整改承诺"

BRIEFING_HEADERS = ["序号", "隐患编号", "隐患等级", "隐患类别", "发现日期", "本季度情况", "隐患描述", "可能后果",
                    "整改建议", "整改期限", "整改责任人", "整改状态", "完成日期", "逾期天数", "政府督办"]
BRIEFING_WIDTHS = [5, 14, 7, 10, 11, 9, 30, 22, 22, 11, 9, 8, 11, 7, 7]
OVERDUE_HEADERS = ["县(市)", "户号", "客户名称", "重要用户等级", "隐患编号", "隐患等级", "隐患类别", "隐患描述",
                   "发现日期", "告知日期", "首次整改期限", "季末整改期限", "当前整改期限", "整改期限变更次数", "逾期天数",
                   "整改状态", "整改责任人", "防控措施", "政府督办", "督办层级", "到达日期"]
OVERDUE_WIDTHS = [9, 13, 22, 8, 14, 7, 10, 30, 11, 11, 11, 11, 11, 8, 7, 8, 9, 20, 7, 11, 11]
OVERDUE_WRAP = ("客户名称", "隐患描述", "防控措施")
# The handout's paper copy (publish.paper) prints 逾期督办 on A3 with 8-pt text or larger, as the bulletin's: without
# 户号 and 告知日期, headers wrapping instead of widening their columns, long texts wrapping narrower.
OVERDUE_PAPER_LEFT_OUT = ("户号", "告知日期")
OVERDUE_PAPER_WIDTHS = {"县(市)": 8, "客户名称": 12, "重要用户等级": 6, "隐患类别": 8, "隐患描述": 20, "隐患等级": 5,
                        "整改期限变更次数": 5, "逾期天数": 5, "整改状态": 7, "整改责任人": 7, "防控措施": 12,
                        "政府督办": 5, "督办层级": 8}
OVERDUE_PAPER_WRAP = (*OVERDUE_WRAP, "隐患类别", "督办层级")
COMMITMENT_HEADERS = ["序号", "县(市)", "户号", "客户名称", "隐患编号", "隐患等级", "隐患描述", "当前整改期限", "整改状态",
                      "承诺完成日期", "责任人（签字）"]
COMMITMENT_WIDTHS = [5, 9, 13, 22, 14, 7, 40, 11, 8, 13, 13]
REMEDIATED_HEADERS = ["县(市)", "户号", "客户名称", "重要用户等级", "隐患编号", "隐患等级", "隐患类别", "隐患描述",
                      "发现日期", "整改期限", "完成日期", "整改用时(天)", "是否按期", "整改资金(万元)"]
REMEDIATED_WIDTHS = [9, 13, 22, 8, 14, 7, 10, 32, 11, 11, 11, 8, 7, 9]

NOTES = [
    "口径说明：",
    "1. 数据取自截至数据截至日各县(市)报送并通过校验的隐患台账，每项隐患取截至该日最新一次报送的版本；各项数字按隐患自身的发现日期、完成日期归入本季度。",
    "2. 季初未整改：季度开始前发现、且季度开始时尚未整改完成的隐患；本季度新发现：发现日期在本季度内的隐患。",
    "3. 本季度报告已整改：整改状态为“已整改”且完成日期在本季度内的隐患（客户报告整改完成，含待复查和已复查；复查合格方为销号，见本季度复查销号）；季末未整改：截至季末尚未整改完成的隐患（含季度结束后才完成的）。",
    "4. 季初未整改 + 本季度新发现 − 本季度报告已整改 = 季末未整改（本季度内发现并报告已整改的隐患计入新发现和报告已整改，不计入未整改）。",
    "5. 本季度涉及隐患 = 季初未整改 + 本季度新发现；整改率 = 本季度报告已整改 ÷ 本季度涉及隐患；整改用时为完成日期与发现日期相差的天数。",
    "6. 季末逾期：季末尚未整改且季末时的整改期限早于季末最后一天的隐患，与汇总台账、月度通报的逾期口径一致；季度结束后延期的不改变季末逾期。",
    "7. 上季度末台账记载未整改：上季度汇总（在上季度结束后相同天数的数据截至日）记载的季末未整改数；补报及更正 = 季初未整改 − 该数，反映其后补报或更正状态的隐患；上季度尚无已接收台账（系统所知的第一个季度）而有季初未整改隐患的县(市)无从比对，两项显示为“—”，合计亦然。",
    "8. 从县(市)最新台账中消失的隐患仍按最后报送的状态统计，在通报清单中注明。",
    "9. 逾期督办中的整改期限变更次数：各次报送的台账中该隐患整改期限被改为另一日期的次数。",
]


class _Styles:
    """Formats of the quarterly workbook beyond the shared ones."""

    def __init__(self, wb):
        self.base = Formats(wb)
        f = self.base
        self.section = wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True})
        self.note = wb.add_format({"font_name": "宋体", "font_size": 9, "text_wrap": False})
        self.median = wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1,
                                     "num_format": "0.0", "align": "center"})
        self.total_pct = wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1,
                                        "bold": True, "bg_color": "#F2F2F2", "num_format": "0.0%",
                                        "align": "center"})
        self.total_median = wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1,
                                           "bold": True, "bg_color": "#F2F2F2", "num_format": "0.0",
                                           "align": "center"})
        self.county_band = wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True, "border": 1,
                                          "bg_color": "#BDD7EE", "valign": "vcenter"})
        self.customer_band = wb.add_format({"font_name": "宋体", "font_size": 10, "bold": True, "border": 1,
                                            "bg_color": "#EDEDED", "valign": "vcenter", "text_wrap": True})
        self.major = wb.add_format({"font_name": "宋体", "font_size": 10, "border": 1, "bold": True,
                                    "font_color": "#C00000", "align": "center", "valign": "vcenter"})
        self.f = f


def _write_figures_table(ws, st: _Styles, row: int, label: str, rows: list[dict], *, key: str,
                         with_reconciliation: bool, total: bool) -> tuple[int, int, int]:
    """Write a figures table with header at `row`. Returns (first data row, last data row, next free row)."""
    f = st.f
    headers = [label, *FIGURES.values(), *(RECONCILIATION.values() if with_reconciliation else ()),
               *(CLOSURE_FIGURES.values() if with_reconciliation else ())]
    keys = [*FIGURES, *(RECONCILIATION if with_reconciliation else ()), *(CLOSURE_FIGURES if with_reconciliation else ())]
    ws.set_row(row, 30)
    for c, h in enumerate(headers):
        ws.write_string(row, c, h, f.header)
    r = row
    for i, rec in enumerate(rows):
        r = row + 1 + i
        is_total = total and i == len(rows) - 1
        write_cell(ws, r, 0, rec[key], f.total if is_total else f.text)
        for c, k in enumerate(keys, start=1):
            v = rec[k]
            if k == "remediation_rate":
                fmt = st.total_pct if is_total else f.percent
            elif k == "median_days":
                fmt = st.total_median if is_total else st.median
            else:
                fmt = f.total_int if is_total else f.integer
            if v is None:
                ws.write_string(r, c, "—", f.total if is_total else f.center)
            else:
                write_cell(ws, r, c, v, fmt)
    return row + 1, r, r + 2


def write_overview(wb, st: _Styles, s: QuarterlySummary, settings: Settings) -> dict:
    """Sheet 总览: the figures tables, the notes and three native charts. Returns the table positions.

    Printed on the paper its widest table needs (`paper_for`), each heading kept on a page with its table and
    the charts on one page (`keep_on_page`)."""
    f = st.f
    ws = wb.add_worksheet(OVERVIEW)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 11, 10)
    ncols = 1 + len(FIGURES) + len(RECONCILIATION) + len(CLOSURE_FIGURES)  # the widest table: 分县(市)情况
    widths = [16.0, *[10.0] * 11, *[DEFAULT_COL_WIDTH] * (ncols - 12)]
    blocks: list[tuple[int, int]] = []  # (heading row, the table's last row)
    ws.merge_range(0, 0, 0, 11, f"{s.scope_name}{s.quarter.title}电力安全隐患治理情况汇总", f.title)
    ws.set_row(0, 28)
    ws.write_string(1, 0, f"统计期间：{s.quarter.start:%Y年%m月%d日}至{s.quarter.end:%Y年%m月%d日}；"
                          f"数据截至{s.as_of:%Y年%m月%d日}各县(市)报送的隐患台账；"
                          f"编制单位：{settings.company}", f.subtitle)
    pos: dict = {}
    row = 3
    ws.write_string(row, 0, "一、分县(市)情况", st.section)
    first, last, row = _write_figures_table(ws, st, row + 1, "县(市)", s.by_county, key="county",
                                            with_reconciliation=True, total=True)
    pos["by_county"] = (first, last)
    blocks.append((first - 2, last))
    for title, label, column, values in (("二、按隐患等级", "隐患等级", "severity", s.severities),
                                          ("三、按隐患类别", "隐患类别", "category", CATEGORIES),
                                          ("四、按重要用户等级", "重要用户等级", "customer_grade", CUSTOMER_GRADES)):
        ws.write_string(row, 0, title, st.section)
        rows = s.breakdown(column, values)
        first, last, row = _write_figures_table(ws, st, row + 1, label, rows, key="key",
                                                with_reconciliation=False, total=False)
        pos[column] = (first, last)
        blocks.append((first - 2, last))

    ws.write_string(row, 0, "五、分月新发现与报告已整改", st.section)
    row += 1
    for c, h in enumerate(["月份", "本季度新发现", "本季度报告已整改"]):
        ws.write_string(row, c, h, f.header)
    months = s.by_month()
    for i, m in enumerate(months, start=1):
        write_cell(ws, row + i, 0, m["month"], f.center)
        write_cell(ws, row + i, 1, m["found"], f.integer)
        write_cell(ws, row + i, 2, m["remediated"], f.integer)
    pos["by_month"] = (row + 1, row + len(months))
    blocks.append((row - 1, row + len(months)))
    row += len(months) + 2

    ws.write_string(row, 0, "六、季末整改状态（本季度涉及隐患）", st.section)
    row += 1
    for c, h in enumerate(["县(市)", "未整改", "整改中", DONE_IN_QUARTER]):
        ws.write_string(row, c, h, f.header)
    status = s.status_by_county()
    for i, rec in enumerate(status, start=1):
        write_cell(ws, row + i, 0, rec["county"], f.text)
        for c, k in enumerate(("未整改", "整改中", "已整改"), start=1):
            write_cell(ws, row + i, c, rec[k], f.integer)
    pos["status"] = (row + 1, row + len(status))
    blocks.append((row - 1, row + len(status)))
    row += len(status) + 2

    blocks.append((row, row + len(NOTES) - 1))
    for line in NOTES:
        ws.write_string(row, 0, line, st.note)
        row += 1
    row += 1
    pos["charts_row"] = row
    _insert_charts(wb, ws, pos, row)
    blocks.append((row, row + CHART_STEP + CHART_ROWS - 1))  # the three charts together
    paper = paper_for(widths)
    keep_on_page(ws, blocks, widths=widths, paper=paper)
    setup_print(ws, header_rows=None, landscape=True, page_header=f"{s.scope_name}{s.quarter.title}隐患治理情况汇总",
                paper=paper)
    return pos


CHART_ROWS = 17  # rows of 15 points that a chart 1.1 × 288 pixels tall covers
CHART_STEP = 18  # rows from the first charts to the third, below them


def _insert_charts(wb, ws, pos: dict, row: int) -> None:
    """Three native Excel charts whose data are the tables above (so they stay true if a cell is corrected)."""
    sheet = OVERVIEW
    s_first, s_last = pos["status"]
    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    for c, (name, colour) in enumerate((("未整改", "#C00000"), ("整改中", "#FFC000"),
                                        (DONE_IN_QUARTER, "#70AD47")), start=1):
        chart.add_series({"name": [sheet, s_first - 1, c], "categories": [sheet, s_first, 0, s_last, 0],
                          "values": [sheet, s_first, c, s_last, c], "fill": {"color": colour},
                          "data_labels": {"value": True}})
    chart.set_title({"name": "各县(市)季末整改状态"})
    chart.set_y_axis({"name": "隐患数（项）", "major_gridlines": {"visible": True}})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(row, 0, chart, {"x_scale": 1.4, "y_scale": 1.1})

    m_first, m_last = pos["by_month"]
    chart = wb.add_chart({"type": "column"})
    for c, colour in ((1, "#4472C4"), (2, "#70AD47")):
        chart.add_series({"name": [sheet, m_first - 1, c], "categories": [sheet, m_first, 0, m_last, 0],
                          "values": [sheet, m_first, c, m_last, c], "fill": {"color": colour},
                          "data_labels": {"value": True}})
    chart.set_title({"name": "本季度分月新发现与报告已整改"})
    chart.set_y_axis({"name": "隐患数（项）"})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(row, 7, chart, {"x_scale": 1.0, "y_scale": 1.1})

    c_first, c_last = pos["category"]
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"name": [sheet, c_first - 1, 2], "categories": [sheet, c_first, 0, c_last, 0],
                      "values": [sheet, c_first, 2, c_last, 2], "fill": {"color": "#4472C4"},
                      "data_labels": {"value": True}})
    chart.set_title({"name": "本季度涉及隐患（按类别）"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    ws.insert_chart(row + CHART_STEP, 0, chart, {"x_scale": 1.4, "y_scale": 1.1})


def _yes_no(v) -> str | None:
    return v if v in ("是", "否") else None


def write_briefing(wb, st: _Styles, s: QuarterlySummary) -> int:
    """Sheet 通报清单: the meeting handout, a band per county and per customer. Returns the hazard count."""
    f = st.f
    ws = wb.add_worksheet(BRIEFING)
    ncol = len(BRIEFING_HEADERS)
    for c, w in enumerate(BRIEFING_WIDTHS):
        ws.set_column(c, c, w)
    ws.merge_range(0, 0, 0, ncol - 1, f"{s.scope_name}{s.quarter.title}电力安全隐患通报清单", f.title)
    ws.set_row(0, 28)
    ws.merge_range(1, 0, 1, ncol - 1, f"本季度新发现及截至季末仍未整改的全部隐患（含本季度报告已整改的）。"
                                      f"统计期间：{s.quarter.start:%Y-%m-%d}至{s.quarter.end:%Y-%m-%d}",
                   f.subtitle)
    ws.set_row(2, 30)
    for c, h in enumerate(BRIEFING_HEADERS):
        ws.write_string(2, c, h, f.header)
    df = s.briefing()
    r = 3
    n = 0
    if not len(df):
        ws.merge_range(r, 0, r, ncol - 1, "本季度无隐患。", f.text)
    for county, cdf in df.groupby("county", sort=False):
        majors = int((cdf["severity"] == MAJOR_SEVERITY).sum())
        ws.merge_range(r, 0, r, ncol - 1,
                       f"{county}：涉及客户 {cdf['customer_id'].nunique()} 户，隐患 {len(cdf)} 项"
                       f"（其中重大隐患 {majors} 项，季末未整改 {int(cdf['open_at_end'].sum())} 项）",
                       st.county_band)
        ws.set_row(r, 22)
        r += 1
        for (cid, name), kdf in cdf.groupby(["customer_id", "customer_name"], sort=False, dropna=False):
            first = kdf.iloc[0]
            extra = "，".join(x for x in (f"重要用户等级：{first['customer_grade']}" if first["customer_grade"] else "",
                                         f"行业：{first['industry']}" if cell_value(first["industry"]) else "") if x)
            ws.merge_range(r, 0, r, ncol - 1, f"户号 {cid}　{cell_value(name) or ''}（{extra}）", st.customer_band)
            r += 1
            for rec in kdf.to_dict("records"):
                n += 1
                situation = "本季度新发现" if rec["found_in_quarter"] else "季初未整改"
                status = quarter_status(rec)
                if rec.get("absent"):
                    status = f"{status}（未在最新台账中）"
                days = cell_value(rec["days_overdue"])
                values = [n, rec["hazard_id"], rec["severity"], rec["category"], cell_value(rec["found_date"]),
                          situation, rec["description"], cell_value(rec["consequence"]),
                          cell_value(rec["suggestion"]),
                          cell_value(rec["deadline"]) if cell_value(rec["deadline"]) else "未明确整改期限",
                          cell_value(rec["owner"]), status, cell_value(rec["completed_date"]),
                          int(days) if days is not None else None, _yes_no(rec["gov_supervised"])]
                overdue = bool(rec["overdue_at_end"])
                for c, v in enumerate(values):
                    if c == 2 and v == MAJOR_SEVERITY:
                        fmt = st.major
                    elif isinstance(v, dt.date):
                        fmt = f.alert_date if overdue and c == 9 else f.date
                    elif c in (6, 7, 8, 11):
                        fmt = f.alert if overdue and c == 11 else f.wrap
                    elif isinstance(v, int):
                        fmt = f.integer
                    else:
                        fmt = f.center if c in (2, 3, 5, 10, 14) else f.text
                    write_cell(ws, r, c, v, fmt)
                r += 1
    ws.freeze_panes(3, 0)
    setup_print(ws, header_rows=(2, 2), landscape=True,
                page_header=f"{s.scope_name}{s.quarter.title}隐患通报会材料", paper=paper_for(BRIEFING_WIDTHS))
    return n


def _rows(df: pd.DataFrame, columns: list) -> Iterable[list]:
    for rec in df.to_dict("records"):
        yield [c(rec) if callable(c) else cell_value(rec[c]) for c in columns]


def write_overdue(wb, st: _Styles, s: QuarterlySummary, paper: bool = False) -> int:
    """Sheet 逾期督办: overdue at quarter end, for government supervision, with each deadline's history
    (`paper`: the paper copy's columns, OVERDUE_PAPER_LEFT_OUT)."""
    ws = wb.add_worksheet(OVERDUE)
    keep = [h not in OVERDUE_PAPER_LEFT_OUT for h in OVERDUE_HEADERS] if paper else [True] * len(OVERDUE_HEADERS)
    headers = [h for h, k in zip(OVERDUE_HEADERS, keep) if k]
    widths = [OVERDUE_PAPER_WIDTHS.get(h, w) if paper else w for h, w, k in zip(OVERDUE_HEADERS, OVERDUE_WIDTHS, keep)
              if k]
    wrap = [c for c, h in enumerate(headers) if h in (OVERDUE_PAPER_WRAP if paper else OVERDUE_WRAP)]
    ws.merge_range(0, 0, 0, len(headers) - 1,
                   f"{s.scope_name}{s.quarter.title}逾期未整改隐患督办清单（季末 {s.quarter.end:%Y-%m-%d} 逾期，"
                   f"数据截至{s.as_of:%Y-%m-%d}）", st.f.title)
    ws.set_row(0, 28)
    df = s.overdue()
    cols = ["county", "customer_id", "customer_name", "customer_grade", "hazard_id", "severity", "category",
            "description", "found_date", "notice_date", "first_deadline", "deadline_at_end", "deadline",
            lambda r: int(cell_value(r["deadline_changes"]) or 0),
            lambda r: int(r["days_overdue"]) if cell_value(r["days_overdue"]) is not None else None,
            quarter_status, "owner", "contingency", lambda r: _yes_no(r["gov_supervised"]) or "否",
            lambda r: cell_value(r.get("rung")), lambda r: cell_value(r.get("rung_reached"))]
    cols = [c for c, k in zip(cols, keep) if k]
    n = write_table(wb, ws, st.f, headers, _rows(df, cols) if len(df) else [], first_row=1, widths=widths,
                    wrap_cols=wrap, page_header=f"{s.scope_name}{s.quarter.title}逾期督办清单",
                    paper=paper_for(widths), empty="季末无逾期未整改隐患。")
    if n:
        ws.write_string(n + 3, 0, supervision_request(df), st.note)
    return n


def write_commitments(wb, st: _Styles, s: QuarterlySummary) -> int:
    """Sheet 整改承诺: every hazard of the quarter still open on the report date, with empty 承诺完成日期 and
    责任人 columns, to be filled in and signed at the briefing meeting."""
    ws = wb.add_worksheet(COMMITMENTS)
    ws.merge_range(0, 0, 0, len(COMMITMENT_HEADERS) - 1,
                   f"{s.scope_name}{s.quarter.title}隐患通报会整改承诺表（截至{s.as_of:%Y-%m-%d}尚未整改的隐患）",
                   st.f.title)
    ws.set_row(0, 28)
    df = s.commitments()
    cols = [lambda r: None, "county", "customer_id", "customer_name", "hazard_id", "severity", "description",
            lambda r: cell_value(r["deadline"]) or "未明确", "status", lambda r: None, lambda r: None]
    rows = []
    for i, row in enumerate(_rows(df, cols) if len(df) else [], start=1):
        row[0] = i
        rows.append(row)
    n = write_table(wb, ws, st.f, COMMITMENT_HEADERS, rows, first_row=1, widths=COMMITMENT_WIDTHS, wrap_cols=[3, 6],
                    page_header=f"{s.scope_name}{s.quarter.title}隐患通报会整改承诺表",
                    paper=paper_for(COMMITMENT_WIDTHS))
    ws.set_footer("&L客户（签字）：&C政府主管部门（签字）：&R供电企业（签字）：　　第 &P 页")
    return n


def write_remediated(wb, st: _Styles, s: QuarterlySummary) -> int:
    """Sheet 本季度报告已整改: hazards remediated in the quarter."""
    ws = wb.add_worksheet(REMEDIATED)
    ws.merge_range(0, 0, 0, len(REMEDIATED_HEADERS) - 1, f"{s.scope_name}{s.quarter.title}报告已整改隐患清单（含待复查和已复查销号）",
                   st.f.title)
    ws.set_row(0, 28)
    df = s.remediated()

    def on_time(r):
        d, done = cell_value(r["deadline"]), r["done_on"]
        return "未明确期限" if d is None else ("是" if done <= d else "否")

    cols = ["county", "customer_id", "customer_name", "customer_grade", "hazard_id", "severity", "category",
            "description", "found_date", "deadline", lambda r: r["done_on"],
            lambda r: int(r["days_open"]) if cell_value(r["days_open"]) is not None else None,
            on_time, lambda r: cell_value(r["funds"])]
    return write_table(wb, ws, st.f, REMEDIATED_HEADERS, _rows(df, cols) if len(df) else [], first_row=1,
                       widths=REMEDIATED_WIDTHS, wrap_cols=[2, 7],
                       page_header=f"{s.scope_name}{s.quarter.title}报告已整改隐患清单",
                       paper=paper_for(REMEDIATED_WIDTHS), empty="本季度无报告已整改的隐患。")


def write_quarterly_workbook(path: Path, s: QuarterlySummary, settings: Settings, *, paper: bool = False) -> Path:
    """Write one quarterly summary workbook (总览, 通报清单, 逾期督办, 本季度报告已整改, 整改承诺) atomically, each sheet
    on A3 landscape (`paper_for`); `paper`: the layout of the printed handout (`write_overdue`)."""
    with atomic_workbook(path) as wb:
        st = _Styles(wb)
        write_overview(wb, st, s, settings)
        write_briefing(wb, st, s)
        write_overdue(wb, st, s, paper)
        write_remediated(wb, st, s)
        write_commitments(wb, st, s)
    return path


# ---- everything for a quarter -----------------------------------------------------------------
@dataclass
class QuarterlyWorkbook:
    scope: str  # "prefecture" | "county" | "customer"
    name: str  # 海西州 / county / customer name
    county: str | None
    customer_id: str | None
    path: Path
    digest: str
    figures: dict  # the scope's total figures
    hazards: int  # rows of the 通报清单
    deck: Path | None = None  # the briefing deck of the same scope (none for a customer)
    as_of: dt.date | None = None  # the report date (数据截至)

    def as_json(self) -> dict:
        return {"scope": self.scope, "name": self.name, "county": self.county, "customer_id": self.customer_id,
                "path": str(self.path), "digest": self.digest, "figures": self.figures, "hazards": self.hazards,
                "deck": str(self.deck) if self.deck else None,
                "as_of": self.as_of.isoformat() if self.as_of else None}


def write_summary(s: QuarterlySummary, settings: Settings, *, customer_id: str | None = None,
                  folder: Path | None = None) -> QuarterlyWorkbook:
    """Write one summary workbook under outbox/quarterly/<quarter>/ (customers in a 客户 sub-folder)."""
    base = folder or quarterly_dir(settings, s.quarter)
    if s.scope == "customer":
        path = base / "客户" / _safe(f"{s.counties[0]}_{customer_id}_{workbook_name(s.scope_name, s.quarter)}")
    else:
        path = base / _safe(workbook_name(s.scope_name, s.quarter))
    write_quarterly_workbook(path, s, settings)
    return QuarterlyWorkbook(s.scope, s.scope_name, None if s.scope == "prefecture" else s.counties[0], customer_id,
                             path, s.digest(), s.total, int(s.flags["in_quarter"].sum()) if len(s.flags) else 0,
                             as_of=s.as_of)


def write_deck(s: QuarterlySummary, settings: Settings, *, photos: Photos = None, emergency=None) -> Path:
    """Write the briefing deck of a prefecture or county summary beside its workbook (with `emergency`, the
    customer-file and 应急演练 slides: publish.emergency_slides)."""
    path = quarterly_dir(settings, s.quarter) / _safe(deck_name(s.scope_name, s.quarter))
    return write_briefing_deck(path, s, as_of=s.as_of, company=settings.company, photos=photos,
                               emergency=emergency).path


def write_quarter_newsletter(s: QuarterlySummary, settings: Settings, emergency=None) -> Path:
    """Write 工作开展情况.docx of the prefecture summary beside the workbooks (with `emergency`, its paragraph on
    the joint drills and customer files)."""
    return write_newsletter(quarterly_dir(settings, s.quarter) / newsletter_name(s.quarter), s, as_of=s.as_of,
                            company=settings.company, emergency=emergency)

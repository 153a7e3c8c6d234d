"""One hazard's file (一患一档) as a workbook: its summary, every version, notices, deadlines, re-inspections, the
督办建议函 that named it, and the warnings and messages sent about it — all in words a reader knows (the ledger's
kinds through delivery.ledger's KIND_ZH, channels and statuses through delivery.labels; times on the local clock)."""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from hazardnet.xlsx.text_width import text_units

FIRST_DEADLINE, DEADLINE_CHANGED = "首次填写", "期限变更"

SHEETS = (
    ("台账版本", "versions", (("as_of", "报送基准日"), ("file", "台账文件"), ("status", "整改状态"),
                            ("deadline", "整改期限"), ("owner", "整改责任人"), ("notice_date", "告知日期"),
                            ("signed_by", "签收人"), ("completed_date", "完成日期"), ("reinspect_date", "复查日期"),
                            ("reinspector", "复查人"), ("reinspect_result", "复查结论"))),
    ("通知书", "notices", (("number", "通知书编号"), ("issued_on", "签发日期"), ("served", "已送达"),
                         ("served_on", "告知日期"), ("signed_by", "签收人"), ("path", "文件"))),
    ("期限变更", "deadline_changes", (("as_of", "报送基准日"), ("change", "类型"), ("previous", "原期限"),
                                  ("deadline", "整改期限"), ("source", "来源"), ("reason", "原因"),
                                  ("approval", "批准"), ("committed_by", "承诺责任人"))),
    ("复查", "reinspections", (("reinspect_date", "复查日期"), ("reinspector", "复查人"),
                             ("reinspect_result", "复查结论"), ("reported_in", "载于台账"))),
    ("督办建议函", "letters", (("number", "编号"), ("rung_name", "督办层级"), ("scope", "范围"),
                           ("issued_on", "签发日期"), ("hazards", "函中隐患数"), ("path", "文件"))),
    ("预警与消息", "messages", (("kind_name", "类别"), ("item", "事项"), ("recipient", "收件方"),
                           ("channel_name", "渠道"), ("status_name", "结果"), ("sent_at", "发送时间"))),
)

# what a sheet says when that part of the hazard's life holds nothing yet
EMPTY = {"versions": "尚无台账版本。", "notices": "尚未列入任何整改通知书。", "deadline_changes": "尚无整改期限记录。",
         "reinspections": "尚无复查记录。", "letters": "尚未列入任何隐患督办建议函。", "messages": "尚无预警、提醒或消息。"}


def _show(v) -> object:
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, list):
        return "、".join(map(str, v))
    return "" if v is None else v


def _deadline_row(item: dict) -> dict:
    """The first deadline ever given is its first entry (首次填写), not a change from blank."""
    first = item.get("previous") is None
    return {**item, "change": FIRST_DEADLINE if first else DEADLINE_CHANGED,
            "previous": "—" if first else item.get("previous")}


def write_hazard_file(path: Path, record: dict) -> Path:
    """Write the hazard's file as an .xlsx (a summary sheet, then one sheet per part of its life)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path))
    bold = book.add_format({"bold": True, "font_name": "宋体"})
    text = book.add_format({"font_name": "宋体"})
    sheet = book.add_worksheet("一患一档")
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 60)
    letters = record.get("letters") or []
    summary = [("县(市)", record["county"]), ("隐患编号", record["hazard_id"]), ("户号", record["customer_id"]),
               ("客户名称", record["customer_name"]), ("阶段", record["stage"]),
               ("在本阶段天数", record["days_in_stage"]), ("数据截至", record["as_of"]),
               ("照片数", len(record["photos"])),
               ("督办建议函", "、".join(f"{x['number']}（{x['rung_name']}）" for x in letters) or "无")]
    summary += [(k, record["current"].get(k)) for k in ("description", "severity", "deadline", "status")]
    names = {"description": "隐患描述", "severity": "隐患等级", "deadline": "整改期限", "status": "整改状态"}
    for i, (k, v) in enumerate(summary):
        sheet.write(i, 0, names.get(k, k), bold)
        sheet.write(i, 1, _show(v), text)
    for title, key, columns in SHEETS:
        ws = book.add_worksheet(title)
        items = [_deadline_row(x) for x in record.get(key) or []] if key == "deadline_changes" else \
            (record.get(key) or [])
        for c, (name, header) in enumerate(columns):
            ws.write(0, c, header, bold)
            width = max([text_units(header), *(text_units(str(_show(x.get(name)))) for x in items)])
            ws.set_column(c, c, min(max(12, width + 2), 60))
        for r, item in enumerate(items, 1):
            for c, (name, _header) in enumerate(columns):
                ws.write(r, c, _show(item.get(name)), text)
        if not items:  # a part of its life that has not happened yet says so, not a bare header row
            ws.write(1, 0, EMPTY[key], text)
    book.close()
    return path

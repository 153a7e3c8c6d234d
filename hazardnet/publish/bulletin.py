"""The monthly bulletin (月度电力安全隐患通报): one scoped, print-ready workbook and one mail per recipient.

Sheets: 通报说明 (counts by county, severity and status; overdue major hazards called out), 本月新发现
(found in the month), 未整改 (every open hazard, overdue ones highlighted with days overdue), 本月已整改
(completed in the month). A customer with nothing in scope gets no mail; an authority or a supply
company always gets one (a nil report is still a report).

Customers and authorities with a mobile also get a short notice by SMS once their mail is delivered
("本月电力安全隐患通报已发至邮箱……未整改 N 项（逾期 M 项）"), once per month like the mail.

This module renders (the sections, the workbook, the subject, body and SMS text); the bulletin job
(hazardnet/jobs/bulletin.py) hands them to the dispatcher, whose ledger makes a re-run send only what has not
been delivered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hazardnet.delivery.directory import DirectoryResult, Recipient
from hazardnet.delivery.letter import SUBJECT_PREFIX, Letter, mail_signature, safe_file_name, sms_text
from hazardnet.publish.consolidated import current_register
from hazardnet import rules
from hazardnet.rules import scope_label
from hazardnet.settings import Settings
from hazardnet.store import Store
from hazardnet.xlsx.style import FONT, Formats, atomic_workbook, paper_for, setup_print, write_cell, write_table
from hazardnet.xlsx.text_width import text_width
from hazardnet.xlsx.writers import WorkbookWriters
from schemas.headers import FIELD_BY_NAME
from schemas.vocab import MAJOR_SEVERITY, PARTY_CUSTOMER, PARTY_GOV, PARTY_UTILITY, STATUS_DONE, STATUSES

BULLETIN_DIR = "通报"
PUBLIC_KEYS = ("recipient", "party", "county", "customer_id", "addresses", "attachment", "status", "rows")

# Columns of the three hazard sheets: register fields (headers from the schema) and derived columns.
LIST_FIELDS = ("county", "customer_id", "customer_name", "customer_grade", "hazard_id", "found_date",
               "description", "category", "severity", "consequence", "suggestion", "notice_date", "deadline",
               "owner", "contingency", "status", "completed_date", "gov_supervised", "remarks")
OPEN_EXTRA = (("days_overdue", "逾期天数", 8), ("days_open", "存续天数", 8))
# what a list sheet with no rows says under its header (a recipient, or the paper copy, sees no bare header row)
EMPTY_NEW = "本月无新发现隐患。"
EMPTY_OPEN = "截至统计日无未整改隐患。"
EMPTY_DONE = "本月无已整改隐患。"
PHOTO_HEADER = "照片"  # last column of 未整改: a thumbnail of the hazard's first photo
THUMB_PX = 320  # longest side of a bulletin thumbnail: ~3× its size in the cell, ~20 kB a photo
THUMB_BOX = (96, 72)  # pixels the thumbnail takes in its cell
WRAP = {"customer_name", "description", "consequence", "suggestion", "contingency", "remarks"}
WIDTHS = {"county": 8, "customer_id": 13, "customer_name": 18, "customer_grade": 8, "hazard_id": 14,
          "found_date": 11, "description": 30, "category": 10, "severity": 7, "consequence": 22, "suggestion": 22,
          "notice_date": 11, "deadline": 11, "owner": 8, "contingency": 18, "status": 8, "completed_date": 11,
          "gov_supervised": 6, "remarks": 12}
# The paper copy (publish.paper) prints the lists on A3 landscape with 8-pt text or larger: it leaves out what paper
# cannot use or the authority does not need (户号; 告知日期; in 未整改 the 照片 column, empty on paper, 完成日期, empty
# but for a reopened hazard, and 存续天数, the 发现日期 being printed), its headers wrap instead of widening their
# columns, and long texts wrap narrower (rows grow, pages follow).
PAPER_LEFT_OUT = frozenset({"customer_id", "notice_date"})
PAPER_OPEN_LEFT_OUT = frozenset({"completed_date", "days_open"})
PAPER_WIDTHS = {"county": 8, "customer_name": 14, "customer_grade": 6, "hazard_id": 17, "found_date": 11,
                "description": 22, "category": 8, "severity": 5, "consequence": 16, "suggestion": 16,
                "deadline": 11, "owner": 7, "contingency": 13, "status": 7, "completed_date": 11,
                "gov_supervised": 5, "remarks": 10, "days_overdue": 5}
PAPER_WRAP = WRAP | {"category"}


# ---- the period ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """A calendar month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """A month as a person writes it for a command or a Run form: YYYY-MM (2026-01), as their help says;
        ValueError with the Chinese sentence both show otherwise. 2026-1, 2026/01, 202601 or 2026年1月 are refused,
        as settings.parse_date refuses 2026/11/15: one written form for every month a person types."""
        m = re.fullmatch(r"([0-9]{4})-([0-9]{2})", str(text).strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"通报月份“{text}”格式不正确，请写成 YYYY-MM（月份写两位），例如 2026-01。")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Period:
        return cls(day.year, day.month)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last(self) -> dt.date:
        nxt = dt.date(self.year + (self.month == 12), self.month % 12 + 1, 1)
        return nxt - dt.timedelta(days=1)

    def contains(self, day: Any) -> bool:
        return isinstance(day, dt.date) and self.first <= day <= self.last


def report_date_problem(period: Period, day: dt.date) -> str | None:
    """The sentence refusing a bulletin whose report date lies before its month (a month not begun yet, 2027-05
    typed for 2026-05: every recipient would be mailed a bulletin of a month with nothing in it), else None. It
    names the Run form's fields, which the command's --month and --as-of are."""
    if day < period.first:
        return (f"基准日 {day} 早于通报月份{period.label}的第一天（{period.first}），该月尚无可通报的隐患；"
                f"请检查通报月份和基准日。")
    return None


def default_as_of(period: Period, today: dt.date) -> dt.date:
    """The report date of a bulletin: today, or the month's last day for a month already over."""
    return min(today, period.last)


# ---- what a recipient sees ------------------------------------------------------------------------
@dataclass
class BulletinSections:
    """The rows of one recipient's bulletin, one frame per hazard sheet."""

    new: pd.DataFrame
    open: pd.DataFrame
    done: pd.DataFrame
    scoped: pd.DataFrame

    @property
    def hazard_keys(self) -> set[tuple[str, str]]:
        keys: set[tuple[str, str]] = set()
        for df in (self.new, self.open, self.done):
            keys.update(zip(df["county"], df["hazard_id"]))
        return keys

    @property
    def rows(self) -> int:
        """Distinct hazards in the bulletin."""
        return len(self.hazard_keys)

    @property
    def empty(self) -> bool:
        return self.rows == 0

    @property
    def overdue_major(self) -> pd.DataFrame:
        df = self.open
        return df[df["overdue"].astype(bool) & (df["severity"] == MAJOR_SEVERITY)] if len(df) else df


def bulletin_sections(scoped: pd.DataFrame, period: Period) -> BulletinSections:
    """Split a recipient's scoped register into found-this-month, open, and completed-this-month."""
    if scoped.empty:
        return BulletinSections(scoped, scoped, scoped, scoped)
    found = scoped["found_date"].map(period.contains)
    facts = rules.stage_facts(scoped)
    done = pd.Series([rules.is_closed(h) for h in facts], index=scoped.index, dtype=bool)  # reopened: still open
    completed = scoped["completed_date"].map(period.contains)
    return BulletinSections(scoped[found].copy(), scoped[~done].copy(), scoped[done & completed].copy(), scoped)


def scope_description(recipient: Recipient, settings: Settings) -> str:
    if recipient.party == PARTY_CUSTOMER:
        return f"本单位（{recipient.county_label}，户号 {recipient.customer_id}）的隐患"
    if recipient.county is None:
        return f"{settings.prefecture}全部县(市)（{'、'.join(settings.counties)}）的客户隐患"
    return f"{recipient.county}全部用电客户的隐患"


# ---- the workbook -----------------------------------------------------------------------------------
def _value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    if not isinstance(v, str):
        try:
            if pd.isna(v):
                return None
        except (TypeError, ValueError):
            pass
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalars
        return v.item()
    return v


def _list_rows(df: pd.DataFrame, extra: Sequence[str] = (), fields: Sequence[str] = LIST_FIELDS) -> list[list[Any]]:
    return [[_value(v) for v in rec] for rec in df[list(fields) + list(extra)].itertuples(index=False, name=None)]


def _list_columns(paper: bool, open_list: bool = False) -> tuple[tuple[str, ...], tuple[tuple[str, str, int], ...]]:
    """(register fields, derived columns) of a hazard sheet: all of them, or those the paper copy prints."""
    extra = OPEN_EXTRA if open_list else ()
    if not paper:
        return LIST_FIELDS, extra
    left_out = PAPER_LEFT_OUT | (PAPER_OPEN_LEFT_OUT if open_list else frozenset())
    return tuple(n for n in LIST_FIELDS if n not in left_out), tuple(e for e in extra if e[0] not in left_out)


def _list_headers(extra: Sequence[tuple[str, str, int]] = (), fields: Sequence[str] = LIST_FIELDS,
                  paper: bool = False) -> tuple[list[str], list[float]]:
    headers = ["县(市)" if n == "county" else FIELD_BY_NAME[n].header for n in fields]
    if paper:  # headers wrap over two or three lines
        widths = [float(PAPER_WIDTHS[n]) for n in [*fields, *(n for n, _, _ in extra)]]
    else:
        widths = [float(max(WIDTHS[n], min(text_width(h) + 1, 14))) for n, h in zip(fields, headers)]
        widths += [float(w) for _, _, w in extra]
    return headers + [h for _, h, _ in extra], widths


def _counts(sections: BulletinSections, key: str, values: Sequence[str]) -> list[list[Any]]:
    """Rows [value, new, open, overdue, major open, done] for each value of `key` plus a 合计 row."""
    def n(df: pd.DataFrame, v: str, mask=None) -> int:
        if df.empty:
            return 0
        sel = df[key] == v
        if mask is not None:
            sel &= mask(df)
        return int(sel.sum())

    rows = []
    for v in values:
        rows.append([v, n(sections.new, v), n(sections.open, v),
                     n(sections.open, v, lambda d: d["overdue"].astype(bool)),
                     n(sections.open, v, lambda d: d["severity"] == MAJOR_SEVERITY), n(sections.done, v)])
    rows.append(["合计", *[sum(r[i] for r in rows) for i in range(1, 6)]])
    return rows


def _insert_thumbnails(ws, open_df: pd.DataFrame, thumbnails: Mapping[tuple[str, str], bytes], col: int) -> None:
    """The thumbnail of each photographed hazard in its row of 未整改 (moving and sizing with the cell, so
    sorting or filtering the sheet keeps each photo with its hazard)."""
    import io

    from PIL import Image

    for r, key in enumerate(zip(open_df["county"], open_df["hazard_id"]), start=1):
        data = thumbnails.get(key)
        if not data:
            continue
        with Image.open(io.BytesIO(data)) as img:  # our own JPEG, made from the store's rendition
            w, h = img.size
        scale = min(THUMB_BOX[0] / w, THUMB_BOX[1] / h)
        ws.set_row(r, THUMB_BOX[1] * 0.75 + 6)  # points; a little margin around the picture
        ws.insert_image(r, col, f"{key[1]}.jpg", {"image_data": io.BytesIO(data), "x_scale": scale,
                                                   "y_scale": scale, "x_offset": 2, "y_offset": 2,
                                                   "object_position": 1})


def thumbnail(jpeg: bytes, px: int = THUMB_PX) -> bytes:
    """A stored photo rendition scaled down to `px` on its longest side, as a 96-dpi JPEG."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as img:
        img.draft("RGB", (px, px))
        img = img.convert("RGB")
        img.thumbnail((px, px), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80, optimize=True, dpi=(96, 96))
    return buf.getvalue()


def bulletin_thumbnails(run: BulletinRun, keys) -> dict[tuple[str, str], bytes]:
    """Thumbnails of the first photo of each hazard in `keys` that has one (made once per run)."""
    with run.lock:
        if run.photo_index is None:
            run.photo_index = run.store.photo_index(run.as_of)
        wanted = {k: run.photo_index[k][0] for k in keys if run.photo_index.get(k)}
        missing = {sha for sha in wanted.values() if sha not in run.thumbs}
    if missing:
        made = {sha: thumbnail(data) for sha, data in run.store.photo_data(missing).items()}
        with run.lock:
            run.thumbs.update(made)
    return {k: run.thumbs[sha] for k, sha in wanted.items() if sha in run.thumbs}


def write_bulletin_workbook(path: Path, sections: BulletinSections, *, recipient: Recipient, period: Period,
                            as_of: dt.date, settings: Settings,
                            thumbnails: Mapping[tuple[str, str], bytes] | None = None,
                            customer_report: Mapping | None = None, notes: Sequence[str] = (),
                            paper: bool = False) -> Path:
    """Write the recipient's bulletin workbook: 通报说明 (A4), 本月新发现, 未整改, 本月已整改 (A3 landscape, too
    wide for A4: `paper_for`), each headed and paged, a list's header row on every page.

    `thumbnails`: (county, hazard_id) -> JPEG shown in the 照片 column of 未整改 (see `thumbnail`).
    `customer_report`: the customer-checks report (jobs.customer_checks); its problems the recipient may see go
    on a 客户档案问题 sheet (publish.customer_problems). `paper`: the paper copy's layout (PAPER_LEFT_OUT)."""
    label = scope_label(recipient, settings.prefecture)
    page_header = f"{recipient.org_name}　{period.label}电力安全隐患通报（{label}）"
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        ws = wb.add_worksheet("通报说明")
        _write_summary(wb, ws, fmts, sections, recipient=recipient, period=period, as_of=as_of, settings=settings,
                       notes=notes)
        setup_print(ws, header_rows=None, landscape=False, page_header=page_header)

        wrapping = PAPER_WRAP if paper else WRAP
        fields, _ = _list_columns(paper)
        wrap = [i for i, n in enumerate(fields) if n in wrapping]
        headers, widths = _list_headers(fields=fields, paper=paper)
        for title, df in (("本月新发现", sections.new),):
            sheet = wb.add_worksheet(title)
            write_table(wb, sheet, fmts, headers, _list_rows(df, fields=fields), widths=widths, wrap_cols=wrap,
                        page_header=page_header, paper=paper_for(widths), empty=EMPTY_NEW)
        open_fields, open_extra = _list_columns(paper, open_list=True)
        open_headers, open_widths = _list_headers(open_extra, open_fields, paper)
        open_rows = _list_rows(sections.open, [n for n, _, _ in open_extra], open_fields)
        if not paper:  # the 照片 column (paper has no room for a thumbnail 96 pixels wide)
            open_headers, open_widths = [*open_headers, PHOTO_HEADER], [*open_widths, 14.0]
            open_rows = [[*r, None] for r in open_rows]
        sheet = wb.add_worksheet("未整改")
        open_df = sections.open
        write_table(wb, sheet, fmts, open_headers, open_rows, widths=open_widths,
                    wrap_cols=[i for i, n in enumerate(open_fields) if n in wrapping],
                    highlight=[bool(x) for x in open_df["overdue"]] if len(open_df) else None,
                    page_header=page_header, paper=paper_for(open_widths), empty=EMPTY_OPEN)
        if thumbnails and len(open_df) and not paper:
            _insert_thumbnails(sheet, open_df, thumbnails, col=len(open_headers) - 1)
        sheet = wb.add_worksheet("本月已整改")
        write_table(wb, sheet, fmts, headers, _list_rows(sections.done, fields=fields), widths=widths,
                    wrap_cols=wrap, page_header=page_header, paper=paper_for(widths), empty=EMPTY_DONE)
        if customer_report is not None:
            from hazardnet.publish.customer_problems import write_problems_sheet

            write_problems_sheet(wb, fmts, customer_report, recipient, page_header=page_header)
    return path


def _fit_lines(text: str, room: float) -> list[str]:
    """`text` cut into lines no wider than `room` column units (a merged row does not wrap the same way in Excel,
    WPS and LibreOffice; rows of their own print alike everywhere)."""
    lines, current = [], ""
    for ch in text:
        if current and text_width(current + ch) > room:
            lines.append(current)
            current = "　　" + ch  # the continuation indented, as under a heading
        else:
            current += ch
    return [*lines, current] if current else lines


def _write_summary(wb, ws, fmts: Formats, sections: BulletinSections, *, recipient: Recipient, period: Period,
                   as_of: dt.date, settings: Settings, notes: Sequence[str] = ()) -> None:
    """The 通报说明 sheet: who, what period, the counts, and the overdue major hazards by name."""
    ncols = 6
    for c, w in enumerate([16, 12, 12, 12, 12, 12]):
        ws.set_column(c, c, w)
    ws.set_column(6, 8, 14)
    label = scope_label(recipient, settings.prefecture)
    ws.merge_range(0, 0, 0, ncols - 1, f"{settings.prefecture}{period.label}电力安全隐患通报（{label}）", fmts.title)
    ws.set_row(0, 30)
    lines = [
        f"致：{recipient.org_name}（{recipient.party}）",
        f"通报范围：{scope_description(recipient, settings)}",
        f"统计期间：{period.first:%Y年%m月%d日}至{period.last:%Y年%m月%d日}　　数据截至：{as_of:%Y年%m月%d日}",
        *(f"数据说明：{note}" for note in notes),
        f"编制单位：{settings.company}",
        summary_sentence(sections),
    ]
    room = 16 + 12 * (ncols - 1) - 4  # the merged columns' width, less the cell's margins
    r = 1
    for line in lines:  # a long line (a data note) goes on as many rows as it needs, each as the others
        for part in _fit_lines(line, room):
            ws.merge_range(r, 0, r, ncols - 1, part, fmts.subtitle)
            ws.set_row(r, 18)
            r += 1
    r += 1

    def table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
        nonlocal r
        ws.merge_range(r, 0, r, len(headers) - 1, title, fmts.subtitle)
        r += 1
        for c, h in enumerate(headers):
            ws.write_string(r, c, h, fmts.header)
        r += 1
        for row in rows:
            for c, v in enumerate(row):
                fmt = fmts.total_int if row[0] == "合计" and c else (fmts.total if row[0] == "合计" else
                                                                    (fmts.integer if c else fmts.text))
                write_cell(ws, r, c, v, fmt)
            r += 1
        r += 1

    counties = [recipient.county] if recipient.county else list(settings.counties)
    extra = sorted(set(sections.scoped["county"]) - set(counties)) if len(sections.scoped) else []
    table("一、按县(市)统计", ["县(市)", "本月新发现", "未整改", "其中逾期", "其中重大", "本月已整改"],
          _counts(sections, "county", counties + extra))
    table("二、按隐患等级统计", ["隐患等级", "本月新发现", "未整改", "其中逾期", "其中重大", "本月已整改"],
          _counts(sections, "severity", list(settings.severities)))
    status_rows = [[s, int((sections.scoped["status"] == s).sum()) if len(sections.scoped) else 0]
                   for s in STATUSES if s != STATUS_DONE]
    reopened = int((sections.open["status"] == STATUS_DONE).sum()) if len(sections.open) else 0
    status_rows.append(["复查不合格，须重新整改", reopened])  # 已整改 but reopened: open (rules.is_open); fits the column
    status_rows.append([f"{STATUS_DONE}（本月）", len(sections.done)])
    table("三、按整改状态统计", ["整改状态", "隐患条数"], status_rows)

    major = sections.overdue_major
    ws.merge_range(r, 0, r, ncols - 1, f"四、逾期未整改的重大隐患（{len(major)} 条）", fmts.subtitle)
    r += 1
    if major.empty:
        ws.merge_range(r, 0, r, ncols - 1, "本期无逾期未整改的重大隐患。", fmts.text)
        r += 1
    else:
        headers = ["县(市)", "客户名称", "隐患编号", "隐患描述", "整改期限", "逾期天数", "政府督办"]
        for c, h in enumerate(headers):
            ws.write_string(r, c, h, fmts.header)
        r += 1
        for rec in major.sort_values("days_overdue", ascending=False).to_dict("records"):
            values = [rec["county"], rec["customer_name"], rec["hazard_id"], rec["description"], _value(rec["deadline"]),
                      _value(rec["days_overdue"]), rec["gov_supervised"]]
            for c, v in enumerate(values):
                write_cell(ws, r, c, _value(v), fmts.alert, date_fmt=fmts.alert_date)
            r += 1
    r += 1
    notes = [
        "说明：",
        "1.“本月新发现”为本月发现的隐患；“未整改”为截至统计日尚未完成整改的全部隐患（含整改中，以及已报整改但复查不合格、须重新整改的），逾期的以红色标出并注明逾期天数；"
        "“本月已整改”为本月完成整改的隐患。",
        "2. 逾期：未完成整改且整改期限早于统计日。未明确整改期限的隐患请尽快明确。",
        "3. 依据用电安全“1+1+1”工作网协作书，用电客户负责隐患整改，政府主管部门督促整改，供电企业跟踪服务。",
    ]
    note = wb.add_format({"font_name": FONT, "font_size": 10, "text_wrap": True, "valign": "top"})
    for line in notes:
        ws.merge_range(r, 0, r, ncols - 1, line, note)
        ws.set_row(r, 14 * (1 + text_width(line) // 100))
        r += 1
    ws.activate()


def summary_sentence(sections: BulletinSections) -> str:
    n_overdue = int(sections.open["overdue"].astype(bool).sum()) if len(sections.open) else 0
    if sections.empty:
        return "本期范围内无隐患记录（零报告）。"
    return (f"本月新发现隐患 {len(sections.new)} 条；未整改隐患 {len(sections.open)} 条，其中逾期 {n_overdue} 条；"
            f"本月已整改 {len(sections.done)} 条。")


def content_hash(sections: BulletinSections, recipient: Recipient, period: Period, as_of: dt.date) -> str:
    """What the recipient's bulletin says, as a digest (workbook bytes carry timestamps, so not those)."""
    h = hashlib.sha256(json.dumps([period.key, as_of.isoformat(), recipient.key, list(recipient.addresses)],
                                  ensure_ascii=False).encode())
    for df, extra in ((sections.new, ()), (sections.open, ("days_overdue",)), (sections.done, ())):
        h.update(json.dumps(_list_rows(df, extra), ensure_ascii=False, default=str).encode())
    return h.hexdigest()


# ---- the mail ----------------------------------------------------------------------------------------
def bulletin_subject(recipient: Recipient, period: Period, settings: Settings) -> str:
    return f"{SUBJECT_PREFIX}{period.label}电力安全隐患通报（{scope_label(recipient, settings.prefecture)}）"


def attachment_name(recipient: Recipient, period: Period, settings: Settings) -> str:
    return safe_file_name(f"{period.label}电力安全隐患通报（{scope_label(recipient, settings.prefecture)}）") + ".xlsx"


def bulletin_body(sections: BulletinSections, recipient: Recipient, period: Period, as_of: dt.date,
                  settings: Settings, attachment: str, notes: Sequence[str] = ()) -> str:
    lines = [f"{recipient.org_name}：", "",
             f"现将{settings.prefecture}{period.label}电力安全隐患通报发送给贵单位。通报范围：{scope_description(recipient, settings)}；"
             f"数据截至 {as_of:%Y年%m月%d日}。", *(f"数据说明：{note}" for note in notes), "", summary_sentence(sections)]
    major = sections.overdue_major
    if len(major):
        lines += ["", f"请特别关注：逾期未整改的重大隐患 {len(major)} 条——"]
        for i, rec in enumerate(major.sort_values("days_overdue", ascending=False).head(10).to_dict("records"), 1):
            desc = str(rec["description"] or "")
            desc = desc if len(desc) <= 60 else desc[:60] + "…"
            lines.append(f"  {i}. {rec['county']} {rec['customer_name']}（{rec['hazard_id']}）：{desc}；"
                         f"整改期限 {_value(rec['deadline'])}，已逾期 {int(rec['days_overdue'])} 天。")
        if len(major) > 10:
            lines.append(f"  ……另有 {len(major) - 10} 条，详见附件。")
    ask = {PARTY_CUSTOMER: "请贵单位按整改建议和期限完成整改，整改完成后及时告知供电企业。",
           PARTY_GOV: "请贵单位督促相关用电客户按期整改，对逾期重大隐患予以督办。",
           PARTY_UTILITY: "请做好隐患跟踪服务，并在下月台账中如实更新整改状态。"}.get(recipient.party, "")
    lines += ["", f"详见附件《{attachment}》（已设置好打印格式：通报说明为 A4 纸，隐患清单为 A3 横向，可直接打印）。", ask, "",
              *mail_signature(settings),
              f"本邮件由用电安全“1+1+1”工作网隐患台账系统自动发送；如有疑问，请回复 {settings.mail_from}。"]
    return "\n".join(lines)


# ---- one run ------------------------------------------------------------------------------------------
@dataclass
class BulletinRun:
    """What every recipient's bulletin of a run is rendered from, computed once per run."""

    settings: Settings
    store: Store
    period: Period
    as_of: dt.date
    register: pd.DataFrame
    writers: WorkbookWriters | None = None  # recipients' workbooks written on every core (big runs)
    photo_index: dict | None = None  # (county, hazard_id) -> photo hashes, read on first use
    thumbs: dict[str, bytes] = field(default_factory=dict)  # photo hash -> thumbnail
    lock: threading.Lock = field(default_factory=threading.Lock)
    customer_report: dict | None = None  # the customer-file checks (publish.customer_checks), None: no files yet
    data_notes: dict[str, str] = field(default_factory=dict)  # county -> where its figures come from (data_notes)

    @property
    def folder(self) -> Path:
        return self.settings.outbox / BULLETIN_DIR / self.period.key


def prepare_bulletin(settings: Settings, store: Store, period: Period, as_of: dt.date,
                     writers: WorkbookWriters | None = None) -> BulletinRun:
    """The register as of the report date (and the customer-file checks), for one bulletin run."""
    from hazardnet.publish.customer_checks import stored_customer_report

    return BulletinRun(settings, store, period, as_of, current_register(store, settings, as_of), writers,
                       customer_report=stored_customer_report(store, settings, as_of),
                       data_notes=data_notes(store, settings, period, as_of))


def data_notes(store: Store, settings: Settings, period: Period, as_of: dt.date) -> dict[str, str]:
    """For each county whose figures are not from a register of this period, one sentence saying why and where
    they come from: its latest file came back rejected, it has not submitted this month, or never did. The
    authorities and supply companies read it (a county's figures that silently stay last month's mislead)."""
    subs = store.submissions_frame()
    if len(subs):
        subs = subs[pd.to_datetime(subs["as_of"]).dt.date <= as_of]
    notes = {}
    for county in settings.counties:
        mine = subs[subs["county"] == county] if len(subs) else subs
        accepted = mine[mine["outcome"] == "accepted"] if len(mine) else mine
        last = accepted.iloc[-1] if len(accepted) else None
        after = mine[(mine["outcome"] == "rejected") & (mine["id"] > (last["id"] if last is not None else -1))] \
            if len(mine) else mine
        source = (f"本通报中{county}的数据来自{pd.Timestamp(last['as_of']):%Y年%m月%d日}报送的《{last['file_name']}》"
                  if last is not None else f"本通报中暂无{county}的数据")
        if len(after):
            bad = after.iloc[-1]
            problems = sum(1 for f in json.loads(bad["findings"] or "[]") if f.get("level", "error") == "error")
            notes[county] = f"{county}报送的《{bad['file_name']}》未通过校验、已退回（{problems}处问题），{source}。"
        elif last is None:
            notes[county] = f"{county}尚未报送隐患台账，{source}。"
        elif pd.Timestamp(last["as_of"]).date() < period.first:
            notes[county] = f"{county}本月尚未报送隐患台账，{source}。"
    return notes


def recipient_notes(run: BulletinRun, recipient: Recipient) -> list[str]:
    """The data notes an authority or a supply company reads: those of the counties in its scope (a customer's
    bulletin carries none: its own hazards are what it needs)."""
    if recipient.party == PARTY_CUSTOMER:
        return []
    counties = [recipient.county] if recipient.county else list(run.settings.counties)
    return [run.data_notes[c] for c in counties if c in run.data_notes]


def notice_text(sections: BulletinSections, recipient: Recipient, period: Period, settings: Settings) -> str:
    """The SMS notice of a bulletin (signature included), within 70 characters for any county name."""
    n_open = len(sections.open)
    n_overdue = int(sections.open["overdue"].astype(bool).sum()) if n_open else 0
    whose = "贵单位" if recipient.party == PARTY_CUSTOMER else (recipient.county or settings.prefecture)
    return sms_text(settings, f"{period.label}电力安全隐患通报已发至贵单位邮箱，{whose}未整改{n_open}项"
                              f"（逾期{n_overdue}项），请查收。")


def notice_stem(recipient: Recipient, period: Period) -> str:
    """The file name of the notice when SMS is written to outbox/sms."""
    return f"{period.key}_通报短信_{recipient.org_name}"


def public_delivery(d: dict) -> dict:
    """The documented JSON shape of one delivery."""
    return {k: d.get(k) for k in PUBLIC_KEYS}


def _workbook_path(run: BulletinRun, recipient: Recipient) -> Path:
    name = f"{recipient.county_label}_{recipient.party}_{recipient.customer_id + '_' if recipient.customer_id else ''}{recipient.org_name}"
    return run.folder / f"{safe_file_name(name)}.xlsx"


def recipient_sections(run: BulletinRun, recipient: Recipient) -> BulletinSections:
    """What `recipient` sees of the run's register, split into the bulletin's sections."""
    return bulletin_sections(rules.scoped(run.register, recipient), run.period)


def bulletin_letter(run: BulletinRun, recipient: Recipient, sections: BulletinSections) -> Letter:
    """Write the recipient's workbook (thumbnails of its open hazards' photos included) and say it in a mail."""
    name = attachment_name(recipient, run.period, run.settings)
    write = run.writers.write if run.writers is not None else _call
    thumbnails = bulletin_thumbnails(run, zip(sections.open["county"], sections.open["hazard_id"])) \
        if len(sections.open) else {}
    notes = recipient_notes(run, recipient)
    path = write(write_bulletin_workbook, _workbook_path(run, recipient), sections, recipient=recipient,
                 period=run.period, as_of=run.as_of, settings=run.settings, thumbnails=thumbnails,
                 customer_report=run.customer_report, notes=notes)
    return Letter(bulletin_subject(recipient, run.period, run.settings),
                  bulletin_body(sections, recipient, run.period, run.as_of, run.settings, name, notes),
                  files=[(name, path)], file_stem=f"{run.period.key}_{path.stem}")


def _call(function, *args, **kwargs):
    return function(*args, **kwargs)


def bulletin_result(period: Period, as_of: dt.date, directory: DirectoryResult, deliveries: list[dict]) -> dict:
    return {"period": period.key, "as_of": as_of.isoformat(), "deliveries": deliveries,
            "directory": {"source": directory.source, "file": directory.file_name, "report": directory.report,
                          "left_out": list(directory.left_out), "findings": [f.as_json() for f in directory.findings]}}

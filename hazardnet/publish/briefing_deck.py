"""The quarterly briefing deck (隐患通报会 PPT): one per county and one for the prefecture (python-pptx).

What the meeting needs, in order (see docs/domain.md, 每季度): a title slide; the overview with native charts that stay
editable in PowerPoint and WPS (chart objects with their data inside the deck, not pictures); one slide per
hazard found in the quarter with its description, possible consequence, advice and photos (the prefecture
deck: the major hazards found in the quarter and every overdue one); the 逾期督办 list for the government with
each hazard's deadline history; and a closing 整改承诺 table to fill in at the meeting.

Nothing may run off a slide: every text box and table cell is fitted by `fit_text` (a smaller font down to
a floor, then shortened with "…"). Chinese text is set with an East Asian font PowerPoint and WPS both have
(微软雅黑 for slides, 宋体 in tables) as the run's `a:ea` typeface, the Latin one beside it.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from lxml import etree
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from hazardnet.publish.quarterly import DONE_IN_QUARTER, QuarterlySummary, cell_value, quarter_status, supervision_request
from hazardnet.rules import stage
from hazardnet.runtime import write_atomically
from hazardnet.xlsx.text_width import ELLIPSIS, char_units, ems, shorten
from schemas.vocab import CATEGORIES, MAJOR_SEVERITY

# ---- look ------------------------------------------------------------------------------------
SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
FONT = "微软雅黑"  # slides: PowerPoint (Windows/Mac with Office) and WPS both ship it
TABLE_FONT = "宋体"
BLUE = RGBColor(0x1F, 0x4E, 0x79)
RED = RGBColor(0xC0, 0x00, 0x00)
GREY = RGBColor(0x59, 0x59, 0x59)
WHITE = RGBColor(0xFF, 0xFF, 0xFF)
STATUS_COLOURS = {"未整改": RGBColor(0xC0, 0x00, 0x00), "整改中": RGBColor(0xFF, 0xC0, 0x00),
                  DONE_IN_QUARTER: RGBColor(0x70, 0xAD, 0x47)}
LINE = 1.35  # line height ÷ font size of 微软雅黑/宋体 at single spacing (generous)
MARGIN = Inches(0.08)
OVERDUE_ROWS_PER_SLIDE = 9
COMMITMENT_ROWS_PER_SLIDE = 8
MAX_PHOTOS = 4
MAX_CHART_CUSTOMERS = 15
STACKED = (XL_CHART_TYPE.BAR_STACKED, XL_CHART_TYPE.COLUMN_STACKED)

# `photos` of `write_briefing_deck`: for (county, hazard_id) the photos of that hazard as JPEG/PNG bytes
Photos = Mapping[tuple[str, str], Sequence[bytes]] | Callable[[str, str], Sequence[bytes]] | None


# ---- fitting text ----------------------------------------------------------------------------
NARROW_EM = 0.6  # a Latin character, in ems: a little over half (CJK ones are one em)


def char_ems(ch: str) -> float:
    """Width of a character in ems, by the shared text-width model (hazardnet.xlsx.text_width)."""
    return ems(char_units(ch), NARROW_EM)


def lines_needed(text: str, size_pt: float, width_pt: float) -> int:
    """Lines `text` takes in a box `width_pt` wide at `size_pt`, wrapping anywhere (as CJK text does)."""
    per_line = max(width_pt / size_pt, 1.0)
    total = 0
    for para in text.split("\n"):
        lines, used = 1, 0.0
        for ch in para:
            w = char_ems(ch)
            if used + w > per_line:
                lines, used = lines + 1, w
            else:
                used += w
        total += lines
    return total


def fits(text: str, size_pt: float, width_pt: float, height_pt: float) -> bool:
    """Whether `text` at `size_pt` fits a box of that inner size."""
    return lines_needed(text, size_pt, width_pt) * size_pt * LINE <= height_pt


def fit_text(text: str, width_pt: float, height_pt: float, *, size: float, min_size: float) -> tuple[str, float]:
    """(text, font size) that fit the box: the largest size from `size` down to `min_size` (steps of 1 pt)
    at which the whole text fits, else the text shortened with "…" at `min_size`."""
    text = str(text or "")
    # leave room for latin words wrapping whole, which the character count does not see
    width_pt *= 0.92
    s = size
    while s >= min_size:
        if fits(text, s, width_pt, height_pt):
            return text, s
        s -= 1
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if fits(text[:mid].rstrip() + ELLIPSIS, min_size, width_pt, height_pt):
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS, min_size


# ---- low-level shapes ------------------------------------------------------------------------
def set_font(font, name: str = FONT) -> None:
    """Set the Latin and the East Asian typeface of a python-pptx Font (the `a:ea` python-pptx has no API for)."""
    font.name = name
    rpr = font._element if font._element.tag != qn("a:defRPr") else font._element
    latin = rpr.find(qn("a:latin"))
    ea = rpr.find(qn("a:ea"))
    if ea is None:
        ea = etree.SubElement(rpr, qn("a:ea"))
        latin.addnext(ea)
    ea.set("typeface", name)


def _pt(length) -> float:
    return Emu(length).pt


def add_text(slide, left, top, width, height, text: str, *, size: float, min_size: float | None = None,
             bold: bool = False, colour: RGBColor | None = None, align=PP_ALIGN.LEFT, anchor=MSO_ANCHOR.TOP,
             name: str | None = None, font: str = FONT, fill: RGBColor | None = None):
    """A text box whose text is fitted to it (see `fit_text`). Returns the shape."""
    box = slide.shapes.add_textbox(left, top, width, height)
    if name:
        box.name = name
    if fill is not None:
        box.fill.solid()
        box.fill.fore_color.rgb = fill
    _fill_frame(box.text_frame, text, width, height, size=size, min_size=min_size or size, bold=bold,
                colour=colour, align=align, anchor=anchor, font=font)
    return box


def _fill_frame(tf, text, width, height, *, size, min_size, bold=False, colour=None, align=PP_ALIGN.LEFT,
                anchor=MSO_ANCHOR.TOP, font=FONT) -> None:
    tf.word_wrap = True
    tf.auto_size = MSO_AUTO_SIZE.NONE
    tf.margin_left = tf.margin_right = MARGIN
    tf.margin_top = tf.margin_bottom = Inches(0.04)
    tf.vertical_anchor = anchor
    inner_w = _pt(width) - 2 * _pt(MARGIN)
    inner_h = _pt(height) - 2 * _pt(Inches(0.04))
    text, s = fit_text(text, inner_w, inner_h, size=size, min_size=min_size)
    for i, line in enumerate(text.split("\n")):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.alignment = align
        p.line_spacing = 1.0
        run = p.add_run()
        run.text = line
        run.font.size = Pt(s)
        run.font.bold = bold
        set_font(run.font, font)
        if colour is not None:
            run.font.color.rgb = colour


def _title(slide, text: str, footer: str) -> None:
    bar = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, SLIDE_W, Inches(0.95))
    bar.name = "标题栏"
    bar.fill.solid()
    bar.fill.fore_color.rgb = BLUE
    bar.line.fill.background()
    add_text(slide, Inches(0.4), Inches(0.12), Inches(12.5), Inches(0.75), text, size=26, min_size=16, bold=True,
             colour=WHITE, anchor=MSO_ANCHOR.MIDDLE, name="标题")
    add_text(slide, Inches(0.4), Inches(7.05), Inches(12.5), Inches(0.35), footer, size=10, colour=GREY,
             align=PP_ALIGN.RIGHT, name="页脚")


def _table(slide, left, top, width, headers: list[str], widths: list[float], rows: list[list], *,
           row_h=Inches(0.5), size=12, min_size=9, name: str = "表格"):
    """A native table whose every cell text is fitted to its cell (rows never grow)."""
    total = sum(widths)
    col_w = [int(width * w / total) for w in widths]
    shape = slide.shapes.add_table(len(rows) + 1, len(headers), left, top, sum(col_w), row_h * (len(rows) + 1))
    shape.name = name
    table = shape.table
    for c, w in enumerate(col_w):
        table.columns[c].width = w
    for r in range(len(rows) + 1):
        table.rows[r].height = row_h
    for r, values in enumerate([headers, *rows]):
        for c, v in enumerate(values):
            cell = table.cell(r, c)
            cell.margin_left = cell.margin_right = MARGIN
            cell.margin_top = cell.margin_bottom = Inches(0.03)
            cell.vertical_anchor = MSO_ANCHOR.MIDDLE
            tf = cell.text_frame
            tf.word_wrap = True
            text = "" if v is None else (f"{v:%Y-%m-%d}" if isinstance(v, dt.date) else str(v))
            inner_w, inner_h = _pt(col_w[c]) - 2 * _pt(MARGIN), _pt(row_h) - 2 * _pt(Inches(0.03))
            fitted, s = fit_text(text, inner_w, inner_h, size=size, min_size=min_size)
            p = tf.paragraphs[0]
            p.alignment = PP_ALIGN.CENTER if r == 0 or c > 0 else PP_ALIGN.LEFT
            run = p.add_run()
            run.text = fitted
            run.font.size = Pt(s)
            run.font.bold = r == 0
            set_font(run.font, TABLE_FONT)
    return shape


def _chart(slide, kind, left, top, width, height, categories: list[str], series: list[tuple[str, list[int]]],
           title: str, colours: Mapping[str, RGBColor] | None = None, name: str = "图表"):
    """A native chart (data embedded, editable in PowerPoint and WPS)."""
    data = CategoryChartData()
    data.categories = categories
    for label, values in series:
        data.add_series(label, values)
    frame = slide.shapes.add_chart(kind, left, top, width, height, data)
    frame.name = name
    chart = frame.chart
    chart.has_title = True
    chart.chart_title.text_frame.text = title
    for p in chart.chart_title.text_frame.paragraphs:
        for run in p.runs:
            run.font.size = Pt(16)
            run.font.bold = True
            set_font(run.font)
    chart.font.size = Pt(11)
    set_font(chart.font)
    chart.has_legend = len(series) > 1
    if chart.has_legend:
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        chart.legend.include_in_layout = False
    plot = chart.plots[0]
    plot.has_data_labels = True
    plot.data_labels.font.size = Pt(10)
    plot.data_labels.show_value = True
    plot.data_labels.number_format = '0;-0;;'  # a zero segment carries no label
    plot.data_labels.number_format_is_linked = False
    top = max([sum(v) for v in zip(*[vals for _, vals in series])] or [0]) if kind in STACKED else \
        max([max(vals or [0]) for _, vals in series] or [0])
    axis = chart.value_axis
    axis.major_unit = max(1, math.ceil(top / 6))  # whole hazards only
    axis.tick_labels.number_format = "0"
    axis.tick_labels.number_format_is_linked = False
    if kind in (XL_CHART_TYPE.BAR_STACKED, XL_CHART_TYPE.BAR_CLUSTERED):
        chart.category_axis.reverse_order = True  # the first category on top, as in the tables
    if colours:
        for s in plot.series:
            if s.name in colours:
                s.format.fill.solid()
                s.format.fill.fore_color.rgb = colours[s.name]
    return frame


# ---- the pieces of the figures the deck shows ---------------------------------------------------
def status_at_end(row) -> str:
    """Status of a hazard of the quarter at the quarter's end: 已整改（本季度）, or for one still open
    then its status_at_end, 未整改 or 整改中 (see `quarterly.quarter_flags`)."""
    if row["remediated_in_quarter"]:
        return DONE_IN_QUARTER
    if not row["open_at_end"]:
        return ""
    return "未整改" if row["status_at_end"] == "未整改" else "整改中"


def status_table(s: QuarterlySummary, by: str) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """(categories, series) of the status chart: hazards of the quarter per customer (`by`="customer") or
    per county, split by status at quarter end. Customers beyond MAX_CHART_CUSTOMERS are summed as 其他客户."""
    q = s.flags[s.flags["in_quarter"]] if len(s.flags) else s.flags
    statuses = list(STATUS_COLOURS)
    if by == "county":
        keys = list(s.counties)
        key_of = q["county"] if len(q) else pd.Series([], dtype=object)
        labels = keys
    else:
        counts = q.groupby("customer_id").size().sort_values(ascending=False, kind="stable") if len(q) else []
        keys = list(counts.index) if len(q) else []
        names = dict(zip(q["customer_id"], q["customer_name"])) if len(q) else {}
        key_of = q["customer_id"] if len(q) else pd.Series([], dtype=object)
        if len(keys) > MAX_CHART_CUSTOMERS:
            rest = set(keys[MAX_CHART_CUSTOMERS - 1:])
            key_of = key_of.map(lambda k: "其他客户" if k in rest else k)
            keys = keys[:MAX_CHART_CUSTOMERS - 1] + ["其他客户"]
        labels = [shorten(cell_value(names.get(k)) or k, 12) if k != "其他客户" else k for k in keys]
    st = q.apply(status_at_end, axis=1) if len(q) else pd.Series([], dtype=object)
    series = []
    for status in statuses:
        series.append((status, [int(((key_of == k) & (st == status)).sum()) if len(q) else 0 for k in keys]))
    return labels or ["（无）"], series if keys else [(x, [0]) for x in statuses]


def category_severity(s: QuarterlySummary) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """Hazards of the quarter per category (rows) and severity (series)."""
    q = s.flags[s.flags["in_quarter"]] if len(s.flags) else s.flags
    cats = [c for c in CATEGORIES] + sorted({c for c in (q["category"] if len(q) else []) if c not in CATEGORIES})
    series = [(sev, [int(((q["category"] == c) & (q["severity"] == sev)).sum()) if len(q) else 0 for c in cats])
              for sev in s.severities]
    return cats, series


def hazard_slides_of(s: QuarterlySummary, scope: str) -> pd.DataFrame:
    """The hazards that get a slide: every one found in the quarter (county deck); the major ones found in
    the quarter and every one overdue at its end (prefecture deck). In 通报清单 order."""
    df = s.briefing()
    if not len(df):
        return df
    if scope == "prefecture":
        keep = (df["found_in_quarter"] & (df["severity"] == MAJOR_SEVERITY)) | df["overdue_at_end"]
    else:
        keep = df["found_in_quarter"]
    return df[keep.astype(bool)].reset_index(drop=True)


# ---- photos --------------------------------------------------------------------------------
def _photos_of(photos: Photos, county: str, hazard_id: str) -> list[bytes]:
    if photos is None:
        return []
    found = photos(county, hazard_id) if callable(photos) else photos.get((county, hazard_id), ())
    return [p for p in (found or ()) if p][:MAX_PHOTOS]


def fit_box(img_w: int, img_h: int, left: int, top: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, width, height) of an img_w × img_h picture scaled to fit the box, aspect kept, centred."""
    scale = min(width / img_w, height / img_h)
    w, h = int(img_w * scale), int(img_h * scale)
    return left + (width - w) // 2, top + (height - h) // 2, w, h


def _place_photos(slide, images: list[bytes], left, top, width, height) -> int:
    """Lay the photos out in a grid inside the box, each scaled to its cell with its aspect ratio kept."""
    from PIL import Image

    n = len(images)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    gap = Inches(0.08)
    cw, ch = (width - gap * (cols - 1)) // cols, (height - gap * (rows - 1)) // rows
    placed = 0
    for i, data in enumerate(images):
        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
        except Exception:  # a photo that is not a picture is left out, the slide still shows the hazard
            continue
        r, c = divmod(i, cols)
        x, y, pw, ph = fit_box(w, h, left + c * (cw + gap), top + r * (ch + gap), cw, ch)
        pic = slide.shapes.add_picture(io.BytesIO(data), x, y, pw, ph)
        pic.name = f"隐患照片{i + 1}"
        placed += 1
    return placed


# ---- the slides ------------------------------------------------------------------------------
@dataclass
class Deck:
    """What was written: the path, the slide count and the hazards that got a slide."""

    path: Path
    slides: int
    hazard_ids: list[tuple[str, str]]


def deck_name(scope_name: str, quarter) -> str:
    return f"{scope_name}{quarter.title}用电安全隐患通报会.pptx"


def _fmt(d) -> str:
    d = cell_value(d)
    return f"{d:%Y-%m-%d}" if isinstance(d, dt.date) else ("" if d is None else str(d))


def _title_slide(prs, s: QuarterlySummary, scope: str, as_of: dt.date, company: str) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    bg = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, Inches(2.1), SLIDE_W, Inches(2.4))
    bg.name = "标题底色"
    bg.fill.solid()
    bg.fill.fore_color.rgb = BLUE
    bg.line.fill.background()
    add_text(slide, Inches(0.8), Inches(2.3), Inches(11.7), Inches(1.1), f"{s.scope_name}{s.quarter.title}",
             size=36, min_size=24, bold=True, colour=WHITE, align=PP_ALIGN.CENTER, anchor=MSO_ANCHOR.MIDDLE,
             name="标题")
    add_text(slide, Inches(0.8), Inches(3.35), Inches(11.7), Inches(0.9), "用电安全隐患通报会", size=32,
             min_size=24, bold=True, colour=WHITE, align=PP_ALIGN.CENTER, anchor=MSO_ANCHOR.MIDDLE, name="副标题")
    unit = company if scope == "prefecture" else f"{s.scope_name}供电公司（{company}）"
    add_text(slide, Inches(0.8), Inches(4.9), Inches(11.7), Inches(1.3),
             f"统计期间：{s.quarter.start:%Y年%m月%d日}至{s.quarter.end:%Y年%m月%d日}\n"
             f"数据截至：{as_of:%Y年%m月%d日}\n编制单位：{unit}",
             size=18, min_size=12, colour=GREY, align=PP_ALIGN.CENTER, name="数据截至")


def _overview_slides(prs, s: QuarterlySummary, scope: str, footer: str) -> None:
    t = s.total
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    _title(slide, f"{s.scope_name}{s.quarter.title}隐患治理总体情况", footer)
    rate = "—" if t.get("remediation_rate") is None else f"{t['remediation_rate']:.1%}"
    lines = [f"季初未整改 {t['open_at_start']} 项", f"本季度新发现 {t['found']} 项", f"本季度报告已整改 {t['remediated']} 项",
             f"季末未整改 {t['open_at_end']} 项", f"其中季末逾期 {t['overdue_at_end']} 项",
             f"涉及客户 {t['customers']} 户", f"整改率 {rate}"]
    add_text(slide, Inches(0.4), Inches(1.2), Inches(3.9), Inches(5.6), "\n".join(lines), size=20, min_size=12,
             name="总体数字")
    cats, series = status_table(s, "county" if scope == "prefecture" else "customer")
    kind = XL_CHART_TYPE.COLUMN_STACKED if scope == "prefecture" else XL_CHART_TYPE.BAR_STACKED
    _chart(slide, kind, Inches(4.4), Inches(1.1), Inches(8.6), Inches(5.9), cats, series,
           "季末整改状态（按县(市)）" if scope == "prefecture" else "季末整改状态（按客户）", STATUS_COLOURS,
           name="图表：季末整改状态")

    slide = prs.slides.add_slide(prs.slide_layouts[6])
    _title(slide, "本季度分月新发现与报告已整改、隐患类别与等级", footer)
    months = s.by_month()
    _chart(slide, XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(0.3), Inches(1.2), Inches(6.1), Inches(5.7),
           [m["month"] for m in months],
           [("本季度新发现", [m["found"] for m in months]), ("本季度报告已整改", [m["remediated"] for m in months])],
           "分月新发现与报告已整改", {"本季度新发现": RGBColor(0x44, 0x72, 0xC4), "本季度报告已整改": RGBColor(0x70, 0xAD, 0x47)},
           name="图表：分月新发现与报告已整改")
    cats, series = category_severity(s)
    _chart(slide, XL_CHART_TYPE.BAR_STACKED, Inches(6.7), Inches(1.2), Inches(6.3), Inches(5.7), cats, series,
           "本季度涉及隐患（按类别、等级）",
           {"一般": RGBColor(0x5B, 0x9B, 0xD5), "较大": RGBColor(0xFF, 0xC0, 0x00), MAJOR_SEVERITY: RED},
           name="图表：类别与等级")


def _hazard_slide(prs, rec: dict, n: int, total: int, footer: str, photos: Photos, scope: str) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    county = rec["county"]
    head = f"隐患 {n}/{total}　{rec['hazard_id']}"
    if scope == "prefecture":
        head = f"{county}　{head}"
    _title(slide, head, footer)
    sev = cell_value(rec["severity"]) or ""
    badge = add_text(slide, Inches(11.2), Inches(1.1), Inches(1.8), Inches(0.5), f"{sev}隐患", size=16,
                     min_size=10, bold=True, colour=WHITE, align=PP_ALIGN.CENTER, anchor=MSO_ANCHOR.MIDDLE,
                     name="隐患等级", fill=RED if sev == MAJOR_SEVERITY else RGBColor(0x7F, 0x7F, 0x7F))
    del badge
    add_text(slide, Inches(0.4), Inches(1.1), Inches(10.6), Inches(0.5),  # 户号 first: a long name is cut, not it
             f"户号 {rec['customer_id']}　{cell_value(rec['customer_name']) or ''}", size=18, min_size=12,
             bold=True, colour=BLUE, name="客户")
    y = Inches(1.7)
    x, w = Inches(0.4), Inches(7.5)
    boxes = [("隐患描述", cell_value(rec["description"]) or "（台账未填写）", 16),
             ("可能后果", cell_value(rec["consequence"]) or "（台账未填写）", 15),
             ("整改建议", cell_value(rec["suggestion"]) or "（台账未填写）", 15)]
    for (label, text, size), h in zip(boxes, _shares([t for _, t, _ in boxes], Inches(4.35), Inches(0.7))):
        add_text(slide, x, y, Inches(1.2), Inches(0.4), label, size=13, bold=True, colour=WHITE,
                 fill=BLUE, align=PP_ALIGN.CENTER, anchor=MSO_ANCHOR.MIDDLE, name=f"{label}标签")
        add_text(slide, x + Inches(1.25), y, w - Inches(1.25), h, text, size=size, min_size=9, name=label)
        y += h + Inches(0.1)
    deadline = _fmt(rec["deadline"]) or "未明确整改期限"
    status = cell_value(rec["status"]) or ""
    if rec.get("remediated_in_quarter"):
        status = f"{status}（{_fmt(rec['done_on'])}完成）"
    facts = (f"隐患类别：{cell_value(rec['category']) or ''}　发现日期：{_fmt(rec['found_date'])}\n"
             f"整改期限：{deadline}　整改状态：{status}　阶段：{stage(_facts(rec))}")
    if rec.get("overdue_at_end"):
        facts += f"　季末逾期 {int(rec['days_overdue'])} 天" if cell_value(rec.get("days_overdue")) is not None \
            else "　季末逾期"
    add_text(slide, x, y, w, Inches(7.0) - y, facts, size=14, min_size=9,
             colour=RED if rec.get("overdue_at_end") else None, name="整改期限与状态")
    # the full texts in the speaker notes: what the presenter reads out, item by item (逐条说明)
    slide.notes_slide.notes_text_frame.text = "\n".join(
        f"{label}：{cell_value(rec[key]) or '（台账未填写）'}"
        for label, key in (("隐患编号", "hazard_id"), ("客户", "customer_name"), ("隐患描述", "description"),
                           ("可能后果", "consequence"), ("整改建议", "suggestion")))
    # the picture area: photos scaled to fit, aspect kept; an outline with a note when there are none
    px, py, pw, ph = Inches(8.1), Inches(1.7), Inches(4.9), Inches(5.2)
    frame = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, px, py, pw, ph)
    frame.name = "照片区"
    frame.fill.background()
    frame.line.color.rgb = RGBColor(0xBF, 0xBF, 0xBF)
    images = _photos_of(photos, county, str(rec["hazard_id"]))
    if not images or not _place_photos(slide, images, px + Inches(0.05), py + Inches(0.05), pw - Inches(0.1),
                                       ph - Inches(0.1)):
        add_text(slide, px, py + ph // 2 - Inches(0.3), pw, Inches(0.6), "（台账未附现场照片）", size=14,
                 colour=GREY, align=PP_ALIGN.CENTER, name="照片说明")


def _shares(texts: list[str], total: int, floor: int) -> list[int]:
    """Heights for text boxes stacked in `total`: each at least `floor`, the rest shared by text length
    (a 400-character description gets the room a one-line advice does not need)."""
    weights = [max(len(t), 30) for t in texts]
    spare = total - floor * len(texts)
    return [int(floor + spare * wt / sum(weights)) for wt in weights]


def _pages(rows: list, per: int) -> list[list]:
    return [rows[i:i + per] for i in range(0, len(rows), per)] or [[]]


def _table_slides(prs, rows: list, per_slide: int, footer: str, headers: list, widths: list, *, name: str,
                  title: str, empty: str, row_h) -> list:
    """A table over as many slides as its rows need, titled `title` ("{part}" becomes "（i/n）" when there are
    several), or one slide saying `empty`. Returns the slides that got a table."""
    pages, tables = _pages(rows, per_slide), []
    for i, page in enumerate(pages, start=1):
        slide = prs.slides.add_slide(prs.slide_layouts[6])
        _title(slide, title.format(part=f"（{i}/{len(pages)}）" if len(pages) > 1 else ""), footer)
        if not page:
            add_text(slide, Inches(0.8), Inches(3.0), Inches(11.7), Inches(1.0), empty, size=24,
                     align=PP_ALIGN.CENTER, name="说明")
            continue
        _table(slide, Inches(0.3), Inches(1.15), Inches(12.7), headers, widths, page, row_h=row_h, name=name)
        tables.append(slide)
    return tables


def _rung_text(rec: dict) -> str:
    """县级督办（2026-09-19）: the hazard's rung on the ladder and the day it reached it (blank: none recorded)."""
    rung = cell_value(rec.get("rung"))
    return f"{rung}（{_fmt(rec.get('rung_reached'))}）" if rung else ""


def _overdue_slides(prs, s: QuarterlySummary, scope: str, footer: str) -> None:
    df = s.overdue()
    headers = ["客户名称", "隐患编号", "隐患等级", "首次整改期限", "当前整改期限", "期限变更次数", "逾期天数", "整改状态",
               "督办层级（到达日期）"]
    widths = [2.0, 1.7, 0.8, 1.2, 1.2, 1.0, 0.8, 1.4, 1.6]
    if scope == "prefecture":
        headers, widths = ["县(市)", *headers], [1.0, *widths]
    rows = []
    for rec in df.to_dict("records") if len(df) else []:
        row = [cell_value(rec["customer_name"]), rec["hazard_id"], rec["severity"],
               _fmt(rec.get("first_deadline")) or _fmt(rec["deadline"]), _fmt(rec["deadline"]),
               int(cell_value(rec.get("deadline_changes")) or 0),
               int(rec["days_overdue"]) if cell_value(rec["days_overdue"]) is not None else "",
               quarter_status(rec), _rung_text(rec)]
        rows.append([rec["county"], *row] if scope == "prefecture" else row)
    for slide in _table_slides(prs, rows, OVERDUE_ROWS_PER_SLIDE, footer, headers, widths, name="逾期督办",
                               title=f"逾期督办{{part}}：截至{s.quarter.end:%Y年%m月%d日}逾期未整改隐患 {len(rows)} 项",
                               empty="本季度末无逾期未整改隐患。", row_h=Inches(0.55)):
        add_text(slide, Inches(0.3), Inches(6.7), Inches(12.7), Inches(0.35),
                 f"{supervision_request(df)}期限变更次数为台账各次报送中整改期限的变更次数。", size=11, min_size=8,
                 colour=GREY, name="督办说明")


def _facts(rec: dict) -> dict:
    """A flags row as rules.stage reads it (every null as None)."""
    return {k: cell_value(v) for k, v in rec.items()}


def _awaiting_reinspection_slides(prs, s: QuarterlySummary, footer: str) -> None:
    """The prefecture deck: the hazards of the 总览 figure 季末待复查 (closure_figures.awaiting_at_end: 已整改 by the
    quarter's end, not closed nor reopened by then, as known on the report date), in the configured county order,
    longest waiting first: the same count as the workbook beside it."""
    qe = s.quarter.end
    df = s.flags[s.flags["awaiting_at_end"].astype(bool)].copy() if len(s.flags) else s.flags.copy()
    recs = []
    if len(df):
        corder = {c: i for i, c in enumerate(s.counties)}
        df["_c"] = df["county"].map(corder).fillna(len(corder))
        df["_d"] = df["completed_date"].map(lambda d: cell_value(d) or qe)
        recs = df.sort_values(["_c", "_d", "customer_id", "hazard_id"], kind="stable").to_dict("records")
    rows = [[r["county"], cell_value(r["customer_name"]), r["hazard_id"], r["severity"], _fmt(r["completed_date"]),
             (qe - r["_d"]).days] for r in recs]
    for slide in _table_slides(prs, rows, OVERDUE_ROWS_PER_SLIDE, footer,
                               ["县(市)", "客户名称", "隐患编号", "隐患等级", "完成日期", "季末待复查天数"],
                               [1.2, 4.0, 2.2, 1.2, 1.8, 1.4], name="待复查",
                               title=f"季末待复查{{part}}：截至{qe:%Y年%m月%d日}已整改尚未复查销号的隐患 {len(rows)} 项",
                               empty=f"截至{qe:%Y年%m月%d日}没有已整改尚未复查的隐患。", row_h=Inches(0.55)):
        add_text(slide, Inches(0.3), Inches(6.7), Inches(12.7), Inches(0.35),
                 f"口径同汇总工作簿总览“季末待复查”：季末已整改、季末前无复查结论（复查记录按数据截至{s.as_of:%Y年%m月%d日}"
                 f"各县报送的台账）；待复查天数计至季末。", size=11, colour=GREY, name="待复查说明")


def _commitment_slides(prs, s: QuarterlySummary, scope: str, footer: str, as_of: dt.date) -> None:
    df = s.commitments()
    headers = ["客户名称", "隐患编号", "隐患描述", "当前整改期限", "承诺完成日期", "责任人（签字）"]
    widths = [2.6, 1.9, 3.8, 1.4, 1.5, 1.5]
    if scope == "prefecture":
        headers, widths = ["县(市)", *headers], [1.0, *widths]
    rows = []
    for rec in df.to_dict("records") if len(df) else []:
        row = [cell_value(rec["customer_name"]), rec["hazard_id"], cell_value(rec["description"]),
               _fmt(rec["deadline"]) or "未明确", "", ""]
        rows.append([rec["county"], *row] if scope == "prefecture" else row)
    _table_slides(prs, rows, COMMITMENT_ROWS_PER_SLIDE, footer, headers, widths, name="整改承诺",
                  title=f"整改承诺{{part}}：截至{as_of:%Y年%m月%d日}尚未整改的隐患 {len(rows)} 项",
                  empty="本季度涉及的隐患均已整改。", row_h=Inches(0.6))


def write_briefing_deck(path: Path, s: QuarterlySummary, *, as_of: dt.date, company: str,
                        photos: Photos = None, emergency=None) -> Deck:
    """Write the briefing deck of one summary (its scope "county" or "prefecture") atomically.

    `photos` gives each hazard's photos: a mapping ``{(county, hazard_id): [bytes, ...]}`` or a callable
    ``photos(county, hazard_id) -> list[bytes]``, each item the bytes of a JPEG or PNG picture. They are
    placed in the hazard slide's picture area (at most four, in a grid, each scaled to fit with its aspect
    ratio kept); a hazard without photos keeps the empty area with a note. Default: no photos.
    `emergency` (publish.emergency_slides.QuarterEmergency): the customer-file problems slide per county and the
    应急演练 slide, after the commitments.
    """
    scope = s.scope
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    footer = f"{s.scope_name}{s.quarter.title}用电安全隐患通报会　数据截至{as_of:%Y年%m月%d日}"
    _title_slide(prs, s, scope, as_of, company)
    _overview_slides(prs, s, scope, footer)
    hazards = hazard_slides_of(s, scope)
    recs = hazards.to_dict("records") if len(hazards) else []
    for n, rec in enumerate(recs, start=1):
        _hazard_slide(prs, rec, n, len(recs), footer, photos, scope)
    _overdue_slides(prs, s, scope, footer)
    if scope == "prefecture":
        _awaiting_reinspection_slides(prs, s, footer)
    _commitment_slides(prs, s, scope, footer, as_of)
    if emergency is not None:
        from hazardnet.publish.emergency_slides import add_emergency_slides

        add_emergency_slides(prs, emergency, s.counties, footer, _table_slides)
    path = write_atomically(path, prs.save)
    return Deck(path, len(prs.slides), [(r["county"], str(r["hazard_id"])) for r in recs])

"""Paper copies (issue 17): every printed workbook's wrapped rows are tall enough, and the PDFs LibreOffice
makes of them name the recipient, carry the counts and stay within their pages.

The row-height checks read the real workbooks back with openpyxl and judge each row with a lower bound of
their own (what a CJK character takes in LibreOffice and Excel, measured), not the engine's estimate. The PDF
tests convert real outputs with LibreOffice headless and read them back with pdftotext/pdfinfo; they skip,
saying why, where LibreOffice or poppler-utils is not installed (scripts/ensure_libreoffice.sh installs both).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.utils import get_column_letter

from hazardnet.xlsx.row_height import MAX_POINTS, TableRowHeights, text_lines
from hazardnet.xlsx.text_width import text_units
from hazardnet.xlsx.style import (A3, A4, WORKBOOK_OPTIONS, Formats, atomic_workbook, fit_scale, keep_on_page,
                                  paper_for, write_table)

AS_OF = dt.date(2026, 11, 15)
HAS_SOFFICE = bool(shutil.which("soffice") or shutil.which("libreoffice"))
HAS_POPPLER = bool(shutil.which("pdftotext") and shutil.which("pdfinfo"))
needs_libreoffice = pytest.mark.skipif(
    not (HAS_SOFFICE and HAS_POPPLER),
    reason="LibreOffice (soffice) or poppler-utils (pdftotext) not installed; run scripts/ensure_libreoffice.sh")

LONG = "进线柜综合保护装置定值未按最新整定单调整，发生故障时可能越级跳闸造成全厂停电，影响保安负荷供电"


# ---- an independent judge of row heights ------------------------------------------------------------
def min_lines(text: str, width: float) -> int:
    """The fewest lines any of Excel, WPS or LibreOffice shows `text` in, `width` characters wide: a CJK
    character takes at least 1.5 column units there (LibreOffice's Noto CJK at 10 pt: 1.52), ASCII 0.8."""
    lines = 0
    for p in text.split("\n"):
        units = sum(1.5 if ord(ch) > 0x2E80 else 0.8 for ch in p)
        lines += max(1, math.ceil(units / max(width, 1.0)))
    return lines


def column_widths(ws) -> dict[int, float]:
    widths = {}
    for dim in ws.column_dimensions.values():
        if dim.width and dim.min and dim.max:
            for c in range(dim.min, dim.max + 1):
                widths[c] = dim.width
    return widths


def short_rows(path: Path) -> list[str]:
    """Rows whose wrapped text needs several lines but whose height cannot show them (sheet!row: why)."""
    wb = openpyxl.load_workbook(path)
    bad = []
    for ws in wb.worksheets:
        widths = column_widths(ws)
        merged = {}
        inside = set()
        for rng in ws.merged_cells.ranges:
            merged[(rng.min_row, rng.min_col)] = rng
            inside.update((r, c) for r in range(rng.min_row, rng.max_row + 1)
                          for c in range(rng.min_col, rng.max_col + 1))
        for row in ws.iter_rows():
            for cell in row:
                if not isinstance(cell.value, str) or not cell.alignment.wrap_text:
                    continue
                r, c = cell.row, cell.column
                rng = merged.get((r, c))
                if rng is None and (r, c) in inside:
                    continue
                last_col = rng.max_col if rng else c
                rows = range(r, (rng.max_row if rng else r) + 1)
                width = sum(widths.get(k, 8.43) for k in range(c, last_col + 1))
                lines = min_lines(cell.value, width)
                if lines < 2:
                    continue
                size = cell.font.sz or 11
                height = sum(ws.row_dimensions[k].height or 15 for k in rows)
                if height < lines * 1.2 * size:
                    bad.append(f"{ws.title}!{r}: {lines} 行文字，行高 {height}")
    return bad


def tallest_row(path: Path) -> float:
    wb = openpyxl.load_workbook(path)
    return max((d.height or 0 for ws in wb.worksheets for d in ws.row_dimensions.values()), default=0)


# ---- the estimate ----------------------------------------------------------------------------------------
def test_estimate_counts_cjk_double_line_breaks_and_width():
    assert text_units("abc") == 3 and text_units("隐患") == 4 and text_units("，") == 2
    assert text_lines("隐" * 10, 30) == 1
    assert text_lines("隐" * 10, 10) == 3  # 20 units × 1.1 slack in 9 usable characters
    assert text_lines("a" * 10, 10) == 2
    assert text_lines("一\n二\n三", 30) == 3  # each line break starts a line
    assert text_lines("一\n二\n三", 30, wrap=False) == 3  # even where the cell does not wrap
    assert text_lines("隐" * 100, 30, wrap=False) == 1
    assert text_lines("隐" * 10, 10, font_size=14) > text_lines("隐" * 10, 10)
    heights = TableRowHeights([10, 30], 2, wrap=[0])
    assert heights.row(["短", "短"]) is None
    assert heights.row(["隐" * 10, "短"]) >= 3 * 15
    assert heights.row(["短", "隐" * 40]) is None  # column 1 does not wrap
    assert heights.row(["短", "一\n二"]) >= 2 * 15  # but its line breaks count
    assert heights.row(["短", "隐" * 40], alert=True) >= 3 * 15  # an alert row wraps every text cell
    assert heights.row(["隐" * 100000, "x"]) == MAX_POINTS  # never taller than a printed page


def test_heights_read_back_from_table_merged_and_fast_writers(tmp_path):
    """write_table (in memory and constant memory), write_table_fast and free-form cells (a merged range,
    a row a writer made taller) read back with openpyxl: long rows tall enough, short rows untouched."""
    from hazardnet.xlsx.fast_table import write_table_fast

    rows = [["GEM-001", LONG, "一般"], ["GEM-002", "短", "重大"], ["GEM-003", "第一行\n第二行\n第三行\n第四行", "较大"]]
    paths = {}
    for name, writer, constant in (("table", write_table, False), ("table_cm", write_table, True),
                                   ("fast", write_table_fast, True)):
        path = paths[name] = tmp_path / f"{name}.xlsx"
        with atomic_workbook(path, constant_memory=constant) as wb:
            fmts = Formats(wb)
            ws = wb.add_worksheet("清单")
            writer(wb, ws, fmts, ["隐患编号", "隐患描述", "隐患等级"], rows, widths=[12, 20, 8], wrap_cols=[1])
            if not constant:
                free = wb.add_worksheet("说明")
                free.set_column(0, 3, 10)
                free.merge_range(0, 0, 0, 3, LONG * 2, fmts.wrap)  # 40 characters wide
                free.write_string(1, 0, LONG, fmts.wrap)  # 10 characters wide
                free.set_row(2, 200)
                free.write_string(2, 0, "短", fmts.wrap)
                free.write_string(3, 0, LONG, fmts.text)  # does not wrap: one line
    for name, path in paths.items():
        assert short_rows(path) == [], name
        ws = openpyxl.load_workbook(path)["清单"]
        assert ws.row_dimensions[2].height >= min_lines(LONG, 20) * 12
        assert ws.row_dimensions[3].height is None  # one line: the default height
        assert ws.row_dimensions[4].height >= 4 * 12
    free = openpyxl.load_workbook(paths["table"])["说明"]
    assert free.row_dimensions[1].height >= min_lines(LONG * 2, 40) * 12
    assert free.row_dimensions[2].height >= min_lines(LONG, 10) * 12
    assert free.row_dimensions[2].height > free.row_dimensions[1].height  # merged: wrapped at 40 characters
    assert free.row_dimensions[3].height == pytest.approx(200, abs=1)  # a writer's taller row keeps its height
    assert free.row_dimensions[4].height is None
    # the fast writer writes the same sheet as write_table in constant memory (heights included)
    import zipfile

    sheets = [zipfile.ZipFile(paths[n]).read("xl/worksheets/sheet1.xml") for n in ("table_cm", "fast")]
    assert sheets[0] == sheets[1]
    assert b'customHeight="1"' in sheets[1]


def test_wide_tables_go_on_a3_and_headings_stay_with_their_tables(tmp_path):
    """paper_for: A4 while a table prints there at 80 % or more (10-pt text at 8 pt), else A3; keep_on_page
    breaks before a heading and its table that would start at a page's foot, never before one that fits, nor
    before one taller than a page; the breaks are in the file."""
    assert paper_for([10] * 10) == A4 and fit_scale([10] * 10) == 1.0
    assert paper_for([10] * 14) == A3 and fit_scale([10] * 14, A3) >= 0.8 > fit_scale([10] * 14, A4)
    path = tmp_path / "pages.xlsx"
    with atomic_workbook(path) as wb:
        ws = wb.add_worksheet("总览")
        # A4 landscape at 100 %: 500 points of rows a page, 33 rows of 15
        blocks = [(0, 9), (10, 29), (30, 39), (40, 129)]  # the second ends on page 1, the third would not
        breaks = keep_on_page(ws, blocks, widths=[10] * 8, paper=A4)
    assert breaks == [30]  # (0, 9) and (10, 29) fit page 1; (40, 129) is taller than a page: it flows
    assert [b.id for b in openpyxl.load_workbook(path)["总览"].row_breaks.brk] == [30]


def test_fitting_leaves_a_workbook_without_long_text_alone(tmp_path):
    path = tmp_path / "plain.xlsx"
    with atomic_workbook(path) as wb:
        ws = wb.add_worksheet()
        ws.write_string(0, 0, "短文字")
        ws.write_number(1, 0, 12345678901234)
    ws = openpyxl.load_workbook(path).active
    assert all(d.height is None for d in ws.row_dimensions.values())


# ---- every printed workbook of a real run ----------------------------------------------------------------
@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """A month of the demo's registers ingested (one county's flawed: a rejection report), the bulletin
    written for every recipient (.eml), the quarter's summaries and a county template."""
    from hazardnet.cli.demo import write_demo_inbox
    from hazardnet.delivery.mail import EmlFileTransport
    from hazardnet.jobs.ingest import ingest
    from hazardnet.publish.bulletin import Period
    from hazardnet.publish.quarterly import Quarter
    from tests.jobs import bulletin_job, quarter_job
    from hazardnet.publish.template import write_register_template
    from hazardnet.settings import load_settings
    from hazardnet.store import Store

    home = tmp_path_factory.mktemp("paper") / "home"
    write_demo_inbox(home, AS_OF, since=AS_OF - dt.timedelta(days=365), with_flaw=True)
    settings = load_settings(home, settle_seconds=0)
    result = ingest(settings, AS_OF)
    store = Store(settings.database_url)
    bulletin_job(settings, store, Period(2026, 11), AS_OF, EmlFileTransport(settings.outbox / "mail"))
    quarter = quarter_job(store, settings, Quarter.containing(AS_OF), as_of=AS_OF)
    books = quarter.books
    template = write_register_template(settings.outbox / "模板.xlsx", "格尔木市", settings)
    reports = [Path(f.report) for f in result.files if f.report]
    yield {"settings": settings, "store": store, "consolidated": settings.consolidated_path,
           "bulletins": sorted((settings.outbox / "通报" / "2026-11").glob("*.xlsx")), "books": books,
           "summaries": quarter.summaries, "quarterly": [Path(b.path) for b in books], "template": template,
           "reports": reports}
    store.dispose()


def test_every_printed_workbook_has_rows_tall_enough(outputs):
    assert outputs["reports"], "the flawed county's register should have come back with a report"
    assert len(outputs["bulletins"]) > 10
    books = [outputs["consolidated"], *outputs["bulletins"], *outputs["quarterly"], outputs["template"],
             *outputs["reports"]]
    tall = 0
    for path in books:
        assert short_rows(path) == [], path.name
        assert tallest_row(path) <= MAX_POINTS, path.name
        ws = openpyxl.load_workbook(path).worksheets[0]
        tall += sum(1 for d in ws.row_dimensions.values() if (d.height or 0) > 30)
    assert tall > 50  # the demo's texts do need several lines: the check above had rows to judge


# ---- PDFs -------------------------------------------------------------------------------------------------
def pdf_pages(path: Path) -> list[str]:
    """The text of each page (pdftotext, layout kept)."""
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return [subprocess.run(["pdftotext", "-layout", "-f", str(i), "-l", str(i), str(path), "-"],
                           capture_output=True, text=True, check=True).stdout for i in range(1, n + 1)]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page_layout(path: Path) -> list[tuple[str, float]]:
    """Each page's paper ("A4P", "A3L", …) and the size of its body text in points: the median over its words of
    Chinese characters only of a character's width (pdftotext -bbox), a CJK character being 1 em wide. (A word's
    box is taller than the text's size: 1.3 em in Noto CJK.)"""
    html = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    cjk = re.compile(r"^[\u4e00-\u9fff]{2,}$")
    pages = []
    for w, h, body in re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S):
        ems = [(float(x2) - float(x1)) / len(t) for x1, x2, t in
               re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>', body)
               if cjk.match(t)]
        paper = {(595, 842): "A4", (842, 1191): "A3"}[tuple(sorted((round(float(w)), round(float(h)))))]
        pages.append((paper + ("L" if float(w) > float(h) else "P"), statistics.median(ems)))
    return pages


HEADING = re.compile(r"^\s*([一二三四五六七八九十]+、|口径说明：)")


def last_body_line(page: str) -> str:
    """The last line of a page's text above its footer (第 N 页)."""
    lines = [ln for ln in page.splitlines() if ln.strip()]
    return next((ln for ln in reversed(lines) if "页" not in ln), "")


@needs_libreoffice
def test_bulletin_paper_copy_for_every_authority(outputs):
    """Each government authority's PDF: 通报说明 on A4, the lists on A3 landscape in the paper layout, text of
    8 pt or more, its name on every page, page numbers, the month's counts as computed here from the register,
    every open hazard's id, within a sane number of pages."""
    from hazardnet.delivery.directory import load_directory
    from hazardnet.publish.bulletin import Period, prepare_bulletin
    from hazardnet.publish.paper import bulletin_paper_copies
    from schemas.vocab import PARTY_GOV

    settings, store = outputs["settings"], outputs["store"]
    directory = load_directory(settings, store, AS_OF)
    run = prepare_bulletin(settings, store, Period(2026, 11), AS_OF)
    result = bulletin_paper_copies(run, directory.recipients)
    authorities = [r for r in directory.recipients if r.party == PARTY_GOV]
    assert len(authorities) == len(settings.counties) + 1  # each county's and the prefecture's
    assert result.failed == [] and result.unavailable is None
    assert len(result.written) == len(authorities)
    register = run.register
    for r in authorities:
        pdf = settings.outbox / "通报" / "2026-11" / "纸质版" / f"{r.county_label}_{r.org_name}.pdf"
        assert pdf.is_file(), pdf
        pages = pdf_pages(pdf)
        mine = register if r.county is None else register[register["county"] == r.county]
        new = int(mine["found_date"].map(lambda d: d is not None and d.year == 2026 and d.month == 11).sum())
        open_ = mine[mine["status"] != "已整改"]
        layout = page_layout(pdf)
        assert layout[0][0] == "A4P" and {p for p, _ in layout[1:]} == {"A3L"}  # 通报说明 A4, the lists A3
        assert min(size for _, size in layout) >= 8.0, layout  # 10-pt text at 3.6 pt before (22 columns on A4)
        assert all(squeeze(r.org_name) in squeeze(p) for p in pages), "recipient named on every page"
        assert all(f"第{i}页" in squeeze(p) for i, p in enumerate(pages, 1)), "page numbers"
        text = squeeze("".join(pages))
        if len(mine):
            assert f"本月新发现隐患{new}条；未整改隐患{len(open_)}条" in text
        else:  # the flawed county's register was rejected: a nil report, still on paper
            assert "零报告" in text
        assert all(squeeze(h) in text for h in open_["hazard_id"]), "every open hazard printed"
        assert 4 <= len(pages) <= 4 + math.ceil(len(mine) / 2), len(pages)
        headers = squeeze(pages[-1])
        assert "户号" not in headers and "告知日期" not in headers and "照片" not in text  # the paper layout
    assert tallest_row(next(iter(outputs["bulletins"]))) <= MAX_POINTS  # no row taller than a page


@needs_libreoffice
def test_quarterly_handouts_as_pdf(outputs):
    from hazardnet.publish.paper import quarterly_paper_copies

    """Every handout on A3 landscape with text of 8 pt or more (逾期督办 in the paper layout), no section heading
    of 总览 left alone at a page's foot (the 六、 heading was, on A4)."""
    settings = outputs["settings"]
    result = quarterly_paper_copies(settings, outputs["summaries"], outputs["books"])
    assert result.failed == [] and result.unavailable is None
    assert len(result.written) == len(settings.counties) + 1
    for book in outputs["books"]:
        pdf = Path(book.path).parent / "纸质版" / (Path(book.path).stem + ".pdf")
        pages = pdf_pages(pdf)
        layout = page_layout(pdf)
        assert {p for p, _ in layout} == {"A3L"}, (book.name, layout)
        assert min(size for _, size in layout) >= 8.0, (book.name, layout)
        assert all(squeeze(book.name) in squeeze(p) for p in pages)
        assert 4 <= len(pages) <= 8 + book.hazards, (book.name, len(pages))  # 总览 may take a few pages
        orphans = [i for i, p in enumerate(pages, 1) if HEADING.match(last_body_line(p))]
        assert orphans == [], (book.name, [last_body_line(pages[i - 1]) for i in orphans])
        overdue = squeeze("".join(p for p in pages if "逾期督办清单" in p))
        assert "隐患编号" in overdue and "户号" not in overdue  # the paper layout


@needs_libreoffice
def test_conversions_report_failures_by_name_and_profiles_do_not_collide(outputs, tmp_path):
    """A broken job is named and the next one still converts; two converters (two private profiles)
    converting at the same time both succeed; a conversion past its timeout is killed and named."""
    from hazardnet.publish.paper import PaperConverter, convert_all, find_soffice

    settings = outputs["settings"]
    good = outputs["bulletins"][0]
    result = convert_all(settings, [("不存在的工作簿", tmp_path / "missing.xlsx", tmp_path / "a.pdf"),
                                    ("正常工作簿", good, tmp_path / "b.pdf")])
    assert [f["name"] for f in result.failed] == ["不存在的工作簿"]
    assert [w["name"] for w in result.written] == ["正常工作簿"] and (tmp_path / "b.pdf").stat().st_size > 0

    errors = []

    def convert(i: int) -> None:
        try:
            with PaperConverter(find_soffice(settings)) as conv:
                conv.convert(good, tmp_path / f"parallel{i}.pdf")
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=convert, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and all((tmp_path / f"parallel{i}.pdf").stat().st_size > 0 for i in range(2))

    slow = settings.model_copy(update={"paper_timeout_s": 0.01})
    result = convert_all(slow, [("超时的工作簿", good, tmp_path / "c.pdf")])
    assert [f["name"] for f in result.failed] == ["超时的工作簿"] and "超时" in result.failed[0]["error"]
    assert not (tmp_path / "c.pdf").exists()


def test_without_libreoffice_one_line_what_to_install(outputs, tmp_path):
    from hazardnet.publish.paper import INSTALL_HINT, convert_all

    missing = outputs["settings"].model_copy(update={"soffice": str(tmp_path / "no-soffice")})
    result = convert_all(missing, [("某单位", outputs["bulletins"][0], tmp_path / "x.pdf")])
    assert result.written == [] and result.unavailable and INSTALL_HINT in result.unavailable
    assert "\n" not in result.unavailable


# ---- the commands ------------------------------------------------------------------------------------
def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    from tests.conftest import harness_env

    return subprocess.run([sys.executable, "-m", "hazardnet.cli", *args], capture_output=True, text=True,
                          env={**harness_env(), "COLUMNS": "200", **(env or {})}, timeout=1200)


@pytest.fixture
def cli_home(outputs, tmp_path):
    """A copy of the ingested home (store, directory), so the commands run against real data."""
    home = tmp_path / "home"
    src = outputs["settings"].home
    shutil.copytree(src, home, ignore=shutil.ignore_patterns("outbox"))
    return home


@needs_libreoffice
def test_bulletin_pdf_command(prefect_harness, cli_home):
    proc = cli("bulletin", "--month", "2026-11", "--as-of", AS_OF.isoformat(), "--home", str(cli_home), "--pdf")
    assert proc.returncode == 0, proc.stderr
    folder = cli_home / "outbox" / "通报" / "2026-11" / "纸质版"
    pdfs = sorted(p.name for p in folder.glob("*.pdf"))
    assert len(pdfs) == 7 and "全州_海西州能源局.pdf" in pdfs, pdfs
    assert "纸质版：" in proc.stdout
    # sent again: nothing is mailed twice, the paper copies are made again
    for p in folder.glob("*.pdf"):
        p.unlink()
    proc = cli("bulletin", "--month", "2026-11", "--as-of", AS_OF.isoformat(), "--home", str(cli_home), "--pdf")
    assert proc.returncode == 0, proc.stderr
    assert len(list(folder.glob("*.pdf"))) == 7


def test_bulletin_pdf_without_libreoffice_exits_2_after_sending(prefect_harness, cli_home):
    # --resend: the copied store's ledger has this month's bulletin delivered already
    proc = cli("bulletin", "--month", "2026-11", "--as-of", AS_OF.isoformat(), "--home", str(cli_home), "--pdf",
               "--resend", env={"HAZARDNET_SOFFICE": "/nonexistent/soffice"})
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("错误：")]
    assert len(errors) == 1 and "apt-get install libreoffice-calc-nogui fonts-noto-cjk" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    # the rest of the run went on: every bulletin written and mailed (.eml), no paper copies
    assert len(list((cli_home / "outbox" / "mail").glob("*.eml"))) > 10
    assert not list((cli_home / "outbox" / "通报" / "2026-11" / "纸质版").glob("*.pdf"))


@needs_libreoffice
def test_quarterly_pdf_command(prefect_harness, cli_home):
    proc = cli("quarterly", "--quarter", "2026Q4", "--as-of", AS_OF.isoformat(), "--home", str(cli_home), "--pdf")
    assert proc.returncode == 0, proc.stderr
    pdfs = list((cli_home / "outbox" / "quarterly" / "2026Q4" / "纸质版").glob("*.pdf"))
    assert len(pdfs) == 7, pdfs

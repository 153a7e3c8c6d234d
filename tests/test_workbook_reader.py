"""The workbook reader on real files: every hostile file ends in one clear reason, never a crash.

The hostile corpus is written by tests/data/make_hostile.py; each file is named for what it proves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import shutil
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from hazardnet.intake.guards import _check_before_parsing
from hazardnet.intake.reader import (
    SheetGrid,
    UnreadableWorkbook,
    WorkbookGrid,
    WorkbookReaderPool,
    read_workbook,
    sniff_kind,
)
from hazardnet.settings import Settings

DATA = Path(__file__).parent / "data"
HOSTILE = DATA / "hostile"
LEGACY_XLS = DATA / "good" / "legacy.xls"

pytestmark = pytest.mark.timeout(30)  # a hang in the pool must fail the test, not the whole run

# file -> (what sniff_kind says, a distinctive part of the reason the clerk reads)
EXPECTED = {
    "zip_bomb.xlsx": ("xlsx", "压缩炸弹"),
    "huge_dimension.xlsx": ("xlsx", "A1:XFD1048576"),
    "far_cell_abort.xlsx": ("xlsx", "读取进程异常终止"),
    "billion_laughs.xlsx": ("xlsx", "实体膨胀"),
    "external_entity.xlsx": ("xlsx", "外部实体"),
    "encrypted.xlsx": ("encrypted", "已加密（设置了打开密码）"),
    "csv_renamed.xlsx": ("csv", "CSV 文本文件"),
    "pdf_renamed.xlsx": ("pdf", "PDF 文件"),
    "png_renamed.xlsx": ("image", "图片文件"),
    "html_renamed.xls": ("unknown", r"网页（HTML）"),
    "empty.xlsx": ("empty", r"空的（0 字节）"),
    "truncated.xlsx": ("xlsx", "文件不完整"),
    "not_a_zip_garbage.xlsx": ("unknown", "无法识别"),
}
# Rejected by the checks in this process, before any child sees them.
GUARDED = set(EXPECTED) - {"far_cell_abort.xlsx"}


def settings(**overrides) -> Settings:
    base = dict(max_file_mb=100, max_uncompressed_mb=1024, max_compression_ratio=200, max_cells=20_000_000,
                parse_memory_mb=2048, parse_timeout_s=60.0, workers=2)
    return Settings(**{**base, **overrides})


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_corpus_is_complete_and_small():
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(EXPECTED)
    assert sum(p.stat().st_size for p in HOSTILE.iterdir()) < 2 << 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_is_rejected_with_its_reason(name):
    path = HOSTILE / name
    digest = sha(path)
    kind, reason = EXPECTED[name]
    assert sniff_kind(path) == kind
    with pytest.raises(UnreadableWorkbook, match=reason) as caught:
        read_workbook(path, settings())
    assert caught.value.reason == str(caught.value)
    assert "\n" not in caught.value.reason and caught.value.reason.endswith(("。", "）"))
    assert sha(path) == digest  # the original is never touched
    if name in GUARDED:  # refused by the cheap checks in this process, before any parser sees it
        with pytest.raises(UnreadableWorkbook, match=reason):
            _check_before_parsing(path, settings())
    # and the reader still works afterwards
    assert read_workbook(LEGACY_XLS, settings()).sheets[0].rows[2][0] == "00123"


def test_zip_bomb_is_refused_without_reading_it():
    with pytest.raises(UnreadableWorkbook, match="压缩比异常"):
        read_workbook(HOSTILE / "zip_bomb.xlsx", settings())
    with pytest.raises(UnreadableWorkbook, match="压缩比异常"):  # by the zip directory alone, before parsing
        _check_before_parsing(HOSTILE / "zip_bomb.xlsx", settings())


def test_declared_uncompressed_size_over_the_limit_is_refused():
    with pytest.raises(UnreadableWorkbook, match="解压后过大.*超过 50 MB"):
        read_workbook(HOSTILE / "zip_bomb.xlsx", settings(max_uncompressed_mb=50, max_compression_ratio=10**6))


def test_file_over_the_size_limit_is_refused():
    with pytest.raises(UnreadableWorkbook, match="文件过大"):
        read_workbook(LEGACY_XLS, settings(max_file_mb=0))


def test_dimension_is_checked_against_max_cells(tmp_path):
    path = tmp_path / "small.xlsx"
    wb = xlsxwriter.Workbook(path)
    wb.add_worksheet().write("D5", "x")  # dimension A1:D5... xlsxwriter writes D5:D5
    wb.close()
    assert read_workbook(path, settings(max_cells=1)).sheets[0].rows[4][3] == "x"
    wb = openpyxl.Workbook()
    wb.active["A1"], wb.active["D5"] = "a", "x"  # openpyxl writes <dimension ref="A1:D5"/>: 20 cells
    wb.save(path)
    with pytest.raises(UnreadableWorkbook, match="A1:D5 超过 19 个单元格"):
        read_workbook(path, settings(max_cells=19))
    assert read_workbook(path, settings(max_cells=20)).sheets[0].rows[4][3] == "x"


def test_a_file_that_runs_too_long_is_killed():
    # The zip bomb with the zip checks relaxed: calamine would need seconds and ~400 MB for it.
    relaxed = settings(max_compression_ratio=10**6, parse_timeout_s=0.3, workers=1)
    with WorkbookReaderPool(relaxed) as pool:
        with pytest.raises(UnreadableWorkbook, match="超过 0.3 秒仍未读完"):  # the watchdog's reason
            pool.submit(HOSTILE / "zip_bomb.xlsx").result()
        assert pool.submit(LEGACY_XLS).result().sheets[0].name == "隐患台账"


def test_a_file_that_needs_more_memory_than_the_cap_is_rejected():
    relaxed = settings(max_compression_ratio=10**6, parse_memory_mb=128, workers=1)
    with WorkbookReaderPool(relaxed) as pool:
        with pytest.raises(UnreadableWorkbook, match="文件无法解析"):
            pool.submit(HOSTILE / "zip_bomb.xlsx").result()
        assert pool.submit(LEGACY_XLS).result().sheets[0].name == "隐患台账"


def test_missing_file_is_unreadable_not_an_oserror(tmp_path):
    with pytest.raises(UnreadableWorkbook, match="文件无法打开"):
        read_workbook(tmp_path / "nope.xlsx", settings())
    assert sniff_kind(tmp_path / "nope.xlsx") == "unknown"


# ---- good files ---------------------------------------------------------------------------------
def write_register(path: Path) -> None:
    """A workbook with everything a county register throws at a reader."""
    wb = xlsxwriter.Workbook(path)
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("隐患台账")
    ws.merge_range("B2:D2", "格尔木市供电公司2026年10月客户安全隐患台账")
    ws.write_row("B3", ["户号", "甲", "乙", "合计"])
    ws.write_string("B4", "00123")
    ws.write_number("C4", 1)
    ws.write_number("D4", 2)
    ws.write_formula("E4", "=C4+D4", None, 3)
    ws.write_datetime("F7", dt.datetime(2026, 3, 5), date_fmt)
    ws.write_datetime("G7", dt.datetime(2026, 3, 5, 10, 30), wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}))
    ws.write_boolean("H7", True)
    ws.write_blank("Z100", None, date_fmt)  # a formatted empty cell far away must not widen the grid
    notes = wb.add_worksheet("填写说明")
    notes.write("A1", "每月 20 日前报送")
    notes.hide()
    secret = wb.add_worksheet("代码表")
    secret.write("A1", "一般")
    secret.very_hidden()
    wb.add_worksheet("空表")
    wb.close()


def test_valid_xlsx_gives_values_at_their_excel_positions(tmp_path):
    path = tmp_path / "register.xlsx"
    write_register(path)
    digest = sha(path)
    book = read_workbook(path, settings())
    assert isinstance(book, WorkbookGrid)
    assert [(s.name, s.hidden) for s in book.sheets] == [
        ("隐患台账", False), ("填写说明", True), ("代码表", True), ("空表", False)]
    sheet = book.sheets[0]
    assert isinstance(sheet, SheetGrid)
    rows = sheet.rows
    assert len(rows) == 7 and {len(r) for r in rows} == {8}  # A1..H7: the empty top-left area is kept
    assert rows[0] == [None] * 8 and [r[0] for r in rows] == [None] * 7
    assert rows[1][1] == "格尔木市供电公司2026年10月客户安全隐患台账"
    assert rows[1][2] is None and rows[1][3] is None  # merged: only the top-left cell holds the value
    assert (1, 1, 1, 3) in sheet.merged
    assert rows[3][1] == "00123"  # text keeps its leading zeros
    assert rows[3][2:5] == [1, 2, 3]  # E4 is a formula: its cached value
    assert rows[6][5] == dt.date(2026, 3, 5)  # F7
    assert rows[6][6] == dt.datetime(2026, 3, 5, 10, 30)
    assert rows[6][7] is True
    assert book.sheets[1].rows == [["每月 20 日前报送"]]
    assert book.sheets[3].rows == [] and book.sheets[3].merged == []
    assert sha(path) == digest


def test_openpyxl_written_workbook(tmp_path):
    path = tmp_path / "openpyxl.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    ws["F7"] = "发现隐患"
    ws["A3"] = "标题"
    ws.merge_cells("A3:C4")
    ws["B9"] = dt.date(2026, 10, 1)
    ws["B9"].number_format = "yyyy/m/d"
    wb.save(path)
    [sheet] = read_workbook(path, settings()).sheets
    assert sheet.rows[6][5] == "发现隐患"
    assert sheet.rows[2][0] == "标题" and sheet.merged == [(2, 0, 3, 2)]
    assert sheet.rows[8][1] in (dt.date(2026, 10, 1), dt.datetime(2026, 10, 1))
    assert len(sheet.rows) == 9 and len(sheet.rows[0]) == 6


def test_legacy_xls_reads_whatever_its_name(tmp_path):
    expected = [["格尔木市供电公司客户安全隐患台账", None, None, None],
                ["户号", "客户名称", "发现日期", "整改资金(万元)"],
                ["00123", "青海盐湖钾肥有限公司", dt.date(2026, 3, 5), 12.5]]
    assert sniff_kind(LEGACY_XLS) == "xls"
    for name in ("legacy.xls", "renamed.xlsx", "staging-copy.part"):  # sniffed by content, not name
        path = tmp_path / name
        shutil.copyfile(LEGACY_XLS, path)
        book = read_workbook(path, settings())
        register, notes = book.sheets
        assert register.name == "隐患台账" and register.rows == expected
        assert register.merged == [(0, 0, 0, 3)] and not register.hidden
        assert notes.hidden and notes.rows == [["本表每月 20 日前报送"]]


def minimal_ods() -> bytes:
    content = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               '<office:body><office:spreadsheet><table:table table:name="台账">'
               '<table:table-row><table:table-cell/><table:table-cell office:value-type="string">'
               '<text:p>户号</text:p></table:table-cell></table:table-row>'
               '<table:table-row><table:table-cell/><table:table-cell office:value-type="float" office:value="7">'
               '<text:p>7</text:p></table:table-cell></table:table-row>'
               '</table:table></office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        zf.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def test_ods(tmp_path):
    path = tmp_path / "register.ods"
    path.write_bytes(minimal_ods())
    assert sniff_kind(path) == "ods"
    [sheet] = read_workbook(path, settings()).sheets
    assert sheet.name == "台账" and sheet.rows == [[None, "户号"], [None, 7]] and sheet.merged == []


def test_sniff_kind_of_good_files(tmp_path):
    path = tmp_path / "r.xlsx"
    write_register(path)
    assert sniff_kind(path) == "xlsx"
    assert sniff_kind(LEGACY_XLS) == "xls"


# ---- the pool -----------------------------------------------------------------------------------
def test_pool_parses_a_batch_and_a_bad_file_harms_no_other(tmp_path):
    good = []
    for i in range(6):
        path = tmp_path / f"county{i}.xlsx"
        write_register(path)
        good.append(path)
    batch = good[:3] + [HOSTILE / "far_cell_abort.xlsx", HOSTILE / "csv_renamed.xlsx"] + good[3:] + [LEGACY_XLS]
    with WorkbookReaderPool(settings(workers=2)) as pool:
        futures = {path: pool.submit(path) for path in batch}
        for path in good:
            assert futures[path].result().sheets[0].rows[3][1] == "00123"
        assert futures[LEGACY_XLS].result().sheets[0].rows[2][0] == "00123"
        with pytest.raises(UnreadableWorkbook, match="读取进程异常终止"):
            futures[HOSTILE / "far_cell_abort.xlsx"].result()
        with pytest.raises(UnreadableWorkbook, match="CSV"):
            futures[HOSTILE / "csv_renamed.xlsx"].result()
        # still serving after the crash
        assert pool.submit(good[0]).result().sheets[0].name == "隐患台账"
    with pytest.raises(RuntimeError):
        pool.submit(good[0])


def test_a_slow_file_does_not_hold_up_the_others(tmp_path):
    good = []
    for i in range(4):
        path = tmp_path / f"county{i}.xlsx"
        write_register(path)
        good.append(path)
    done: dict[str, float] = {}
    relaxed = settings(max_compression_ratio=10**6, parse_timeout_s=1.0, workers=2)
    with WorkbookReaderPool(relaxed) as pool:
        pool.submit(LEGACY_XLS).result()  # workers up
        started = time.perf_counter()
        slow = pool.submit(HOSTILE / "zip_bomb.xlsx")
        slow.add_done_callback(lambda f: done.setdefault("slow", time.perf_counter() - started))
        quick = [pool.submit(p) for p in good]
        for f in quick:
            assert f.result().sheets[0].rows[3][1] == "00123"
        done["quick"] = time.perf_counter() - started
        with pytest.raises(UnreadableWorkbook, match="超过 1 秒仍未读完"):
            slow.result()
    assert done["quick"] < done["slow"]  # the four good files did not wait for the stuck one


def test_no_other_exception_for_damaged_workbooks(tmp_path):
    """Bytes flipped at random in a valid workbook: a grid or UnreadableWorkbook, nothing else."""
    source = tmp_path / "register.xlsx"
    write_register(source)
    original = source.read_bytes()
    rng = random.Random(7)
    outcomes = set()
    with WorkbookReaderPool(settings(workers=2)) as pool:
        futures = []
        for i in range(25):
            data = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            path = tmp_path / f"damaged{i}.xlsx"
            path.write_bytes(bytes(data))
            futures.append(pool.submit(path))
        for f in futures:
            try:
                outcomes.add(type(f.result()).__name__)
            except UnreadableWorkbook as exc:
                outcomes.add(exc.reason)
    assert outcomes  # whatever they were, each was a grid or one of our sentences
    assert all(o == "WorkbookGrid" or o.endswith(("。", "）")) for o in outcomes)


def _collector_state(book: WorkbookGrid) -> tuple[bool, tuple[int, int]]:
    import gc

    return False, (gc.get_freeze_count(), gc.get_threshold()[0])


def test_parser_workers_leave_the_preloaded_modules_to_rest():
    """A parser worker starts with what the forkserver preloaded (pandas, pandera …) frozen out of the
    garbage collector's reach and collects young objects less often (runtime.leave_imports_to_rest)."""
    from hazardnet.runtime import GC_YOUNG_THRESHOLD

    with WorkbookReaderPool(settings(workers=1)) as pool:
        frozen, young = pool.submit(LEGACY_XLS, then=(_collector_state, ())).result().value
    assert frozen > 50_000 and young == GC_YOUNG_THRESHOLD  # tens of thousands of objects: the imports


def _strategies_state(book: WorkbookGrid) -> tuple[bool, tuple[bool, bool]]:
    import sys

    from pandera.strategies import base_strategies

    return False, (sys.modules.get("hypothesis") is not None, base_strategies.HAS_HYPOTHESIS)


def test_parsers_check_with_pandera_but_without_its_hypothesis_strategies():
    """pandera imports hypothesis for its data-synthesis strategies whenever it is installed (it is: a test tool in
    requirements.lock); the parsers' server keeps it out (intake/no_strategies.py): ≈6 MB per parser less. The
    parser still checks registers with pandera; this process keeps hypothesis."""
    import hypothesis  # noqa: F401 - importable here: the block is the parsers' server's alone

    with WorkbookReaderPool(settings(workers=1)) as pool:
        assert pool.submit(LEGACY_XLS, then=(_strategies_state, ())).result().value == (False, False)


def test_the_parser_server_started_early_is_the_one_the_parsers_fork_from(tmp_path):
    """`hazardnet ingest` starts the parsers' forkserver before it imports Prefect; the pool then forks its
    workers from that server instead of starting (and waiting for) one of its own."""
    from multiprocessing import forkserver

    from hazardnet.intake.reader import start_parser_server

    start_parser_server()
    server = forkserver._forkserver._forkserver_pid
    assert server is not None
    start_parser_server()  # idempotent
    assert forkserver._forkserver._forkserver_pid == server
    path = tmp_path / "register.xlsx"
    write_register(path)
    with WorkbookReaderPool(settings()) as pool:
        assert isinstance(pool.submit(path).result(), WorkbookGrid)
        worker = next(w for w in pool._workers if w is not None).pid.result()
        with open(f"/proc/{worker}/stat") as fh:
            parent = int(fh.read().rsplit(")", 1)[1].split()[1])
    assert parent == server


def test_a_worker_that_parsed_a_big_file_gives_its_memory_back_at_once(tmp_path, monkeypatch):
    """A parser worker keeps its process from file to file; one that has just parsed a big file (over
    `_RECYCLE_AFTER_BYTES`) is stopped right away, so the heap it grew does not sit beside the rest of the run."""
    import hazardnet.intake.reader as reader

    path = tmp_path / "register.xlsx"
    write_register(path)

    def worker_pid(pool):
        return next(w for w in pool._workers if w is not None).pid.result()

    def gone(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            return True

    with WorkbookReaderPool(settings(workers=1)) as pool:
        pool.submit(path).result()
        first = worker_pid(pool)
        pool.submit(path).result()
        assert worker_pid(pool) == first  # a small file: the same worker goes on
        monkeypatch.setattr(reader, "_RECYCLE_AFTER_BYTES", path.stat().st_size - 1)  # this file now counts as big
        pool.submit(path).result()
        assert all(w is None for w in pool._workers)
        for _ in range(200):
            if gone(first):
                break
            time.sleep(0.05)
        assert gone(first), "the worker that parsed the big file still runs"
        monkeypatch.undo()
        pool.submit(path).result()
        assert worker_pid(pool) != first  # the next file gets a fresh worker

"""Big workbook parts deflated on several threads: the same files inside, a valid zip, cells read back."""

from __future__ import annotations

import datetime as dt
import random
import struct
import zipfile
import zlib

import openpyxl
import pytest

from hazardnet.publish.consolidated import CONSOLIDATED_HEADERS, write_sheet_workbook
from hazardnet.xlsx import parallel_zip

SYNC_FLUSH = b"\x00\x00\xff\xff"  # the empty stored block a sync flush ends with


def raw_member(path, name) -> bytes:
    """The compressed bytes of one zip member, as stored."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        head = fh.read(30)
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        return fh.read(info.compress_size)


def register_rows(n: int) -> list[list]:
    rng = random.Random(7)
    words = ["配电室", "电缆沟", "变压器", "接地", "消防", "应急电源", "高压开关柜", "标识缺失", "积水", "鼠患"]
    rows = []
    for i in range(n):
        text = "".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        row = [f"格尔木市-{i:06d}", "格尔木市", f"客户{i % 400}", f"户号{i:08d}", text,
               dt.date(2026, 1 + i % 12, 1 + i % 28), "一般", "整改中", None, i * 1.5]
        rows.append((row + [f"{text}{j}" for j in range(len(CONSOLIDATED_HEADERS) - len(row))])[
            :len(CONSOLIDATED_HEADERS)])
    return rows


@pytest.fixture
def plain_zip(monkeypatch):
    """Write workbooks with zipfile's own single-threaded deflate, as xlsxwriter does by default."""
    def use_plain():
        monkeypatch.setattr(parallel_zip, "PARALLEL_FROM", float("inf"))
    return use_plain


@pytest.mark.skipif(parallel_zip.THREADS < 2, reason="one core: the parallel path is not taken")
def test_big_sheet_deflated_in_pieces_same_parts_and_cells(tmp_path, plain_zip):
    rows = register_rows(12_000)
    overdue = [i % 7 == 0 for i in range(len(rows))]
    fast = write_sheet_workbook(tmp_path / "fast.xlsx", rows, overdue, title="汇总")
    with zipfile.ZipFile(fast) as z:
        assert z.testzip() is None
        sheet = z.getinfo("xl/worksheets/sheet1.xml")
    assert sheet.file_size > parallel_zip.PARALLEL_FROM  # big enough to take the parallel path
    pieces = raw_member(fast, "xl/worksheets/sheet1.xml").count(SYNC_FLUSH)
    assert pieces >= sheet.file_size // parallel_zip.PIECE - 1  # one sync flush per piece: written in pieces
    small = raw_member(fast, "xl/styles.xml")

    plain_zip()
    plain = write_sheet_workbook(tmp_path / "plain.xlsx", rows, overdue, title="汇总")
    assert raw_member(plain, "xl/styles.xml") == small  # small parts: zipfile's own deflate, byte for byte
    with zipfile.ZipFile(fast) as a, zipfile.ZipFile(plain) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            if name != "docProps/core.xml":  # holds the time of writing
                assert a.read(name) == b.read(name), name
    # the big sheet at BIG_PART_LEVEL (cheaper than zlib's default 6): within 2 % of one zlib stream at that
    # level, bigger than the default level's, and not a quarter bigger
    with zipfile.ZipFile(fast) as a, zipfile.ZipFile(plain) as b:
        xml, fast_size = a.read("xl/worksheets/sheet1.xml"), a.getinfo("xl/worksheets/sheet1.xml").compress_size
        plain_size = b.getinfo("xl/worksheets/sheet1.xml").compress_size
    at_level = len(zlib.compress(xml, parallel_zip.BIG_PART_LEVEL))
    assert abs(fast_size - at_level) < 0.02 * at_level
    assert plain_size < fast_size < 1.25 * plain_size

    ws = openpyxl.load_workbook(fast, read_only=True)["隐患台账"]
    got = list(ws.iter_rows(values_only=True))
    assert list(got[0]) == CONSOLIDATED_HEADERS
    assert len(got) == 1 + len(rows)
    for i in (0, 1, 4_999, 11_999):
        assert got[1 + i][0] == rows[i][0] and got[1 + i][4] == rows[i][4]


def test_parallel_zipfile_round_trips_any_content(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel_zip, "PARALLEL_FROM", 1)
    monkeypatch.setattr(parallel_zip, "THREADS", 3)
    rng = random.Random(3)
    cases = {"empty": b"", "one": b"x", "window": bytes(rng.getrandbits(8) for _ in range(70_000)) * 3,
             "text": ("隐患" * 600_000).encode()}
    for name, data in cases.items():
        src = tmp_path / name
        src.write_bytes(data)
        with parallel_zip.ParallelZipFile(tmp_path / "t.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.write(src, name)
        with zipfile.ZipFile(tmp_path / "t.zip") as z:
            assert z.testzip() is None and z.read(name) == data, name

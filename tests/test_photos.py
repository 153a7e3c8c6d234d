"""Pictures read from registers (hazardnet.intake.photos): the three ways clerks insert them, and hostile ones.

Every register here is a real .xlsx zip (tests/photo_registers.py); pictures are compared by the sha256 of
the bytes that were put in, and their renditions are opened again with Pillow.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from hazardnet.intake.photos import (RENDITION_PX, PhotoLimits, W_NOT_IN_ROW, attach_pictures, read_pictures,
                                     xls_scan)

from . import photo_registers as pr

LIMITS = PhotoLimits()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def placed(scan) -> dict[str, tuple[str, str]]:
    """cell -> (kind, sha256 of the original picture)."""
    return {p.cell: (p.kind, p.sha256) for p in scan.pictures}


def test_floating_pictures_are_found_at_the_cell_their_anchor_starts_in(tmp_path):
    a, b, c = pr.photo(1), pr.photo(2), pr.photo(3, fmt="PNG")
    path = pr.floating_register(tmp_path / "f.xlsx", 5, {0: a, 2: [b, c]})
    scan = read_pictures(str(path), LIMITS)
    assert scan.findings == []
    col = "P"  # the 隐患照片 column; hazard i is on Excel row i + 2
    assert placed(scan) == {f"{col}2": ("floating", sha(a)), f"{col}4": ("floating", sha(b)),
                            "Q4": ("floating", sha(c))}
    assert {p.sheet for p in scan.pictures} == {"隐患台账"}


def test_wps_cell_pictures_are_found_through_dispimg(tmp_path):
    a, b = pr.photo(5), pr.photo(6)
    path = pr.wps_register(tmp_path / "w.xlsx", 5, {1: a, 3: b}, dangling=[4])
    scan = read_pictures(str(path), LIMITS)
    assert placed(scan) == {"P3": ("wps", sha(a)), "P5": ("wps", sha(b))}
    [missing] = scan.findings
    assert (missing.cell, missing.level, missing.field) == ("P6", "warning", "隐患照片")
    assert "找不到" in missing.message


def test_excel_in_cell_pictures_are_found_through_rich_values(tmp_path):
    a, b = pr.photo(7), pr.photo(8, fmt="PNG")
    path = pr.excel_register(tmp_path / "e.xlsx", 5, {0: a, 4: b})
    scan = read_pictures(str(path), LIMITS)
    assert scan.findings == []
    assert placed(scan) == {"P2": ("excel", sha(a)), "P6": ("excel", sha(b))}


def test_openpyxl_one_cell_anchors_are_found_too(tmp_path):
    a, b = pr.photo(9), pr.photo(10, fmt="PNG")
    scan = read_pictures(str(pr.openpyxl_register(tmp_path / "o.xlsx", 4, {1: a, 3: b})), LIMITS)
    assert scan.findings == []
    assert {p.cell: p.sha256 for p in scan.pictures} == {"P3": sha(a), "P5": sha(b)}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP"])
def test_renditions_are_jpeg_at_most_1024_px_with_the_aspect_kept(tmp_path, fmt):
    original = pr.photo(11, (3000, 2000), fmt)
    path = pr.floating_register(tmp_path / "big.xlsx", 1, {0: original})
    [pic] = read_pictures(str(path), LIMITS).pictures
    assert (pic.width, pic.height, pic.source_format) == (3000, 2000, fmt)
    with Image.open(io.BytesIO(pic.jpeg)) as img:
        assert img.format == "JPEG"
        assert img.size == (RENDITION_PX, round(RENDITION_PX * 2000 / 3000))


def test_hostile_pictures_are_warnings_at_their_cells_and_good_ones_still_read(tmp_path):
    good = pr.photo(12)
    path = pr.hostile_register(tmp_path / "h.xlsx", 6, {
        0: pr.png_bomb(), 1: pr.truncated_jpeg(), 2: b"GIF89a" + b"\0" * 20, 3: b"<svg xmlns='x'/>", 5: good})
    scan = read_pictures(str(path), LIMITS)
    assert placed(scan) == {"P7": ("floating", sha(good))}
    by_cell = {f.cell: f.message for f in scan.findings}
    assert set(by_cell) == {"P2", "P3", "P4", "P5"}
    assert "400,000,000 像素" in by_cell["P2"]
    assert "损坏或不完整" in by_cell["P3"] and "损坏或不完整" in by_cell["P4"]
    assert "SVG" in by_cell["P5"] and "不受支持" in by_cell["P5"]
    assert all(f.level == "warning" for f in scan.findings)


def test_the_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path):
    path = pr.floating_register(tmp_path / "p.xlsx", 1, {0: pr.photo(13, (400, 300), "PNG")})
    scan = read_pictures(str(path), PhotoLimits(max_pixels=100_000))
    assert scan.pictures == []
    [warning] = scan.findings
    assert warning.cell == "P2" and "120,000 像素" in warning.message


def test_pictures_over_the_count_cap_are_dropped_with_one_warning(tmp_path):
    pictures = {i: pr.photo(100 + i, (24, 18), "PNG") for i in range(500)}
    path = pr.floating_register(tmp_path / "many.xlsx", 500, pictures)
    all_read = read_pictures(str(path), LIMITS)
    assert len(all_read.pictures) == 500 and all_read.findings == []
    capped = read_pictures(str(path), PhotoLimits(max_photos=120))
    assert [p.sha256 for p in capped.pictures] == [sha(pictures[i]) for i in range(120)]
    [warning] = capped.findings
    assert "500 张" in warning.message and "120 张" in warning.message and "第 121 张" in warning.message


def test_a_picture_over_the_byte_cap_is_skipped(tmp_path):
    big = pr.photo(14, (2400, 1800), "BMP")  # ~13 MB uncompressed bitmap
    small = pr.photo(15)
    path = pr.floating_register(tmp_path / "b.xlsx", 2, {0: big, 1: small})
    scan = read_pictures(str(path), PhotoLimits(max_photo_mb=5))
    assert placed(scan) == {"P3": ("floating", sha(small))}
    [warning] = scan.findings
    assert warning.cell == "P2" and "超过 5 MB" in warning.message


def test_a_file_that_is_no_zip_gives_one_warning_and_no_pictures(tmp_path):
    path = tmp_path / "not.xlsx"
    path.write_bytes(b"PK\x03\x04 broken")
    scan = read_pictures(str(path), LIMITS)
    assert scan.pictures == [] and len(scan.findings) == 1 and scan.findings[0].level == "warning"


def test_pictures_attach_to_the_hazard_of_their_row_and_others_are_warned(tmp_path):
    a, b, outside = pr.photo(21), pr.photo(22), pr.photo(23)
    path = pr.floating_register(tmp_path / "o.xlsx", 3, {0: a, 2: [b, b]}, extra=[(20, 2, outside)])
    scan = read_pictures(str(path), LIMITS)
    linked, findings = attach_pictures(scan, "隐患台账", [1, 2, 3], ["H1", "H2", "H3"])
    assert [(h, p.sha256) for h, p in linked] == [("H1", sha(a)), ("H3", sha(b))]  # b twice in a row: once
    [warning] = findings
    assert (warning.cell, warning.level) == ("C21", "warning")
    assert warning.message == W_NOT_IN_ROW.format(row=21)
    assert attach_pictures(scan, "另一张表", [1], ["H1"])[0] == []


def test_xls_gets_a_single_warning():
    scan = xls_scan()
    assert scan.pictures == [] and len(scan.findings) == 1 and ".xls" in scan.findings[0].message


def test_demo_registers_carry_a_photo_for_each_major_hazard(tmp_path):
    import datetime as dt

    from hazardnet.cli.sample_data import sample_hazards, sample_photo, write_register

    day = dt.date(2026, 11, 15)
    hazards = [h for h in sample_hazards(day, ["德令哈市"]) if h.county == "德令哈市"]
    path = write_register(tmp_path / "demo.xlsx", "德令哈市", hazards, as_of=day, photos=True)
    scan = read_pictures(str(path), LIMITS)
    # canonical style: title row, header row, then hazard i on sheet row i + 2
    expected = {i + 2: sha(sample_photo(h.hazard_id)) for i, h in enumerate(hazards) if h.severity in ("较大", "重大")}
    assert expected and {p.row: p.sha256 for p in scan.pictures} == expected and scan.findings == []

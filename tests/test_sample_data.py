"""Sample data: determinism, realism constraints, and the register / directory workbooks it writes."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import re
from collections import Counter
from pathlib import Path

import openpyxl
import pandas as pd
import pandera.errors
import pytest

from hazardnet.cli.sample_data import (
    REGISTER_STYLES,
    VARIANT_HEADERS,
    SampleHazard,
    county_code,
    register_title,
    sample_customers,
    sample_hazards,
    write_directory,
    write_register,
    write_sample_inbox,
)
from schemas.directory_headers import DIRECTORY_HEADERS
from schemas.headers import FIELDS, match_header
from schemas.register import register_schema
from schemas.vocab import (
    CATEGORIES,
    CUSTOMER_GRADES,
    DEFAULT_COUNTIES,
    DEFAULT_SEVERITIES,
    INDUSTRIES,
    PARTY_CUSTOMER,
    PARTY_GOV,
    PARTY_TYPES,
    PARTY_UTILITY,
    STATUS_SYNONYMS,
    STATUSES,
    WHOLE_PREFECTURE,
    YES_NO,
)

AS_OF = dt.date(2026, 10, 15)
COUNTIES = list(DEFAULT_COUNTIES)
FIELD_NAMES = [f.name for f in FIELDS]


@pytest.fixture(scope="module")
def customers():
    return sample_customers(COUNTIES)


@pytest.fixture(scope="module")
def hazards():
    return sample_hazards(AS_OF, COUNTIES)


# ---------------------------------------------------------------- data --------------------------------


def test_sample_hazard_fields_are_register_fields():
    assert [f.name for f in dataclasses.fields(SampleHazard)] == FIELD_NAMES


def test_deterministic(customers, hazards):
    assert sample_customers(COUNTIES) == customers
    assert sample_hazards(AS_OF, COUNTIES) == hazards
    assert sample_hazards(AS_OF, COUNTIES, seed=2026) == hazards
    assert sample_hazards(AS_OF, COUNTIES, seed=7) != hazards


def test_customers(customers):
    assert 25 <= len(customers) <= 35
    assert {c["county"] for c in customers} == set(COUNTIES)
    for c in customers:
        assert set(c) == {"customer_id", "customer_name", "customer_grade", "industry", "county"}
        assert isinstance(c["customer_id"], str) and re.fullmatch(r"\d{10}", c["customer_id"])
        assert c["customer_grade"] in CUSTOMER_GRADES
        assert c["industry"] in INDUSTRIES
    ids = [c["customer_id"] for c in customers]
    assert len(set(ids)) == len(ids)
    assert len({c["customer_name"] for c in customers}) == len(customers)
    assert any(i.startswith("0") for i in ids) and any(not i.startswith("0") for i in ids)
    names = " ".join(c["customer_name"] for c in customers)
    for word in ("察尔汗", "碱", "木里", "花土沟", "光伏", "医院"):
        assert word in names
    assert {c["industry"] for c in customers} >= {"煤矿", "危险化学品", "石油化工", "医疗", "供水", "新能源"}


def test_customers_for_unknown_county():
    extra = sample_customers(["格尔木市", "示例新区"])
    assert {c["county"] for c in extra} == {"格尔木市", "示例新区"}
    assert all(re.fullmatch(r"\d{10}", c["customer_id"]) for c in extra)
    hz = sample_hazards(AS_OF, ["格尔木市", "示例新区"])
    assert {h.county for h in hz} == {"格尔木市", "示例新区"}
    assert county_code("示例新区") == county_code("示例新区") != county_code("格尔木市")


def test_hazard_counts_and_mix(hazards):
    assert 120 <= len(hazards) <= 180
    by_county = Counter(h.county for h in hazards)
    assert set(by_county) == set(COUNTIES) and min(by_county.values()) >= 5
    sev = Counter(h.severity for h in hazards)
    assert set(sev) <= set(DEFAULT_SEVERITIES)
    assert sev["一般"] > len(hazards) / 2
    assert sev["较大"] >= 10
    assert 1 <= sev["重大"] <= len(hazards) * 0.12
    status = Counter(h.status for h in hazards)
    assert set(status) == set(STATUSES)
    assert {h.category for h in hazards} <= set(CATEGORIES) and len({h.category for h in hazards}) >= 5
    assert {h.gov_supervised for h in hazards} == set(YES_NO)
    assert any(h.is_overdue(AS_OF) and h.severity == "重大" for h in hazards)
    assert any(h.deadline is None for h in hazards)
    assert any(h.deadline is not None and h.deadline > AS_OF for h in hazards if h.status != "已整改")
    assert len({h.description for h in hazards}) > 60
    assert len({h.owner for h in hazards}) > 20


def test_hazard_record_rules(hazards, customers):
    by_id = {c["customer_id"]: c for c in customers}
    ids = [h.hazard_id for h in hazards]
    assert len(set(ids)) == len(ids)
    for h in hazards:
        code = county_code(h.county)
        assert re.fullmatch(rf"{code}-{h.found_date.year}-\d{{3}}", h.hazard_id), h.hazard_id
        cust = by_id[h.customer_id]
        assert (cust["customer_name"], cust["county"], cust["customer_grade"], cust["industry"]) == (
            h.customer_name, h.county, h.customer_grade, h.industry)
        assert isinstance(h.found_date, dt.date) and h.found_date <= AS_OF
        assert h.found_date >= AS_OF - dt.timedelta(days=310)
        assert h.description and h.consequence and h.suggestion and h.contingency and h.owner
        if h.status == "已整改":
            assert h.completed_date is not None and h.found_date <= h.completed_date <= AS_OF
        else:
            assert h.completed_date is None
        if h.notice_date is not None:
            assert h.found_date <= h.notice_date <= AS_OF
        if h.deadline is not None:
            assert h.deadline >= h.found_date
        assert h.funds is None or (isinstance(h.funds, float) and h.funds >= 0)
        assert h.gov_supervised in YES_NO
        if h.severity == "重大":
            assert h.gov_supervised == "是"


def test_ids_stable_across_months():
    since = dt.date(2026, 1, 1)
    october = sample_hazards(dt.date(2026, 10, 15), COUNTIES, since=since)
    november = sample_hazards(dt.date(2026, 11, 15), COUNTIES, since=since)
    later = {h.hazard_id: h for h in november}
    assert len(november) > len(october)
    moved = 0
    for h in october:
        n = later[h.hazard_id]
        assert (n.customer_id, n.found_date, n.description, n.severity, n.deadline) == (
            h.customer_id, h.found_date, h.description, h.severity, h.deadline)
        if h.status == "已整改":
            assert n.status == "已整改" and n.completed_date == h.completed_date
        moved += n.status != h.status
    assert moved > 0


def test_sample_data_passes_register_schema(hazards):
    """Every county's sample rows satisfy the register contract (future deadlines included)."""
    for county in COUNTIES:
        df = pd.DataFrame([h.as_dict() for h in hazards if h.county == county], columns=FIELD_NAMES)
        try:
            register_schema(AS_OF, county).validate(df, lazy=True)
        except pandera.errors.SchemaErrors as exc:  # pragma: no cover - shows every failing cell
            pytest.fail(exc.failure_cases.to_string())


# ---------------------------------------------------------------- registers ---------------------------

def _parse_date(v):
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", str(v).strip())
    assert m, f"unparseable date {v!r}"
    return dt.date(*map(int, m.groups()))


def _find_header_row(ws) -> tuple[int, dict[int, str]]:
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=10, values_only=True), start=1):
        mapping = {c: match_header(v) for c, v in enumerate(row) if match_header(v)}
        if len(mapping) >= 8:
            return r, mapping
    raise AssertionError("no header row found")


def _read_rows(ws) -> tuple[int, dict[int, str], list[dict]]:
    """A tiny reference parser: data rows up to the first blank/合计 row, values normalised."""
    header_row, mapping = _find_header_row(ws)
    rows = []
    for row in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if all(v is None for v in row) or any(isinstance(v, str) and v.strip() == "合计" for v in row):
            break
        rec = {}
        for c, name in mapping.items():
            v = row[c]
            kind = next(f.kind for f in FIELDS if f.name == name)
            if kind == "date":
                v = _parse_date(v)
            elif name == "customer_id" and isinstance(v, (int, float)):
                v = str(int(v))
            elif name == "status":
                v = STATUS_SYNONYMS[v.strip()]
            elif isinstance(v, str):
                v = v.strip()
            rec[name] = v
        rows.append(rec)
    return header_row, mapping, rows


def _expected(hazards, county, names):
    out = []
    for h in hazards:
        if h.county == county:
            out.append({n: getattr(h, n) for n in names})
    return out


def test_canonical_register(tmp_path: Path, hazards):
    county = "格尔木市"
    path = write_register(tmp_path / "gem.xlsx", county, hazards, as_of=AS_OF)
    assert path.is_file() and not list(tmp_path.glob(".tmp-*"))
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    assert ws["A1"].value == "格尔木市供电公司2026年10月客户安全隐患台账" == register_title(county, AS_OF)
    assert "A1" in {str(rng).split(":")[0] for rng in ws.merged_cells.ranges}
    assert [c.value for c in ws[2]] == ["序号", *(f.header for f in FIELDS)]
    assert ws.freeze_panes == "A3"
    assert ws.print_title_rows == "$2:$2"
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0  # one page wide
    mine = [h for h in hazards if h.county == county]
    assert ws.max_row == 2 + len(mine)
    assert [ws.cell(3 + i, 1).value for i in range(len(mine))] == list(range(1, len(mine) + 1))
    # typed cells: 户号 text with leading zeros, real dates, numeric funds
    col = {f.name: i + 2 for i, f in enumerate(FIELDS)}
    for i, h in enumerate(mine):
        r = 3 + i
        assert ws.cell(r, col["customer_id"]).value == h.customer_id
        assert ws.cell(r, col["customer_id"]).data_type == "s"
        assert ws.cell(r, col["customer_id"]).number_format == "@"
        found = ws.cell(r, col["found_date"]).value
        assert isinstance(found, dt.datetime) and found.date() == h.found_date
        funds = ws.cell(r, col["funds"]).value
        assert funds == h.funds
    assert any(ws.cell(3 + i, col["customer_id"]).value.startswith("0") for i in range(len(mine)))
    _, _, rows = _read_rows(ws)
    assert rows == _expected(hazards, county, FIELD_NAMES)


def test_variant_register(tmp_path: Path, hazards):
    county = "乌兰县"
    path = write_register(tmp_path / "wl.xlsx", county, hazards, as_of=AS_OF, style="variant")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "填写说明"
    ws = wb.worksheets[1]
    assert ws["A1"].value == register_title(county, AS_OF)
    header_row, mapping, rows = _read_rows(ws)
    assert header_row == 3
    assert sorted(mapping.values()) == sorted(FIELD_NAMES)  # every field recognised, none twice
    headers = [ws.cell(header_row, c).value for c in range(1, ws.max_column + 1)]
    assert headers[0] == "序号"
    assert "戶號" in headers and "隱患編號" in headers
    assert "整改资金（万元）" in headers and "隐患\n描述" in headers and " 责任人 " in headers
    for name, text in VARIANT_HEADERS.items():
        assert match_header(text) == name
    assert rows == _expected(hazards, county, FIELD_NAMES)

    values = [v for row in ws.iter_rows(min_row=header_row + 1, values_only=True) for v in row]
    texts = [v for v in values if isinstance(v, str)]
    # mixed date spellings, numeric 户号, status synonyms, 合计 and footer
    assert any(re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", t) for t in texts)
    assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", t) for t in texts)
    assert any(re.fullmatch(r"\d{4}\.\d{1,2}\.\d{1,2}", t) for t in texts)
    assert any(isinstance(v, dt.datetime) for v in values)
    id_col = next(c for c, n in mapping.items() if n == "customer_id") + 1
    id_cells = [ws.cell(header_row + 1 + i, id_col).value for i in range(len(rows))]
    assert any(isinstance(v, int) for v in id_cells)
    assert all(isinstance(v, str) for v in id_cells if isinstance(v, str) and v.startswith("0"))
    assert all(not str(v).startswith("0") for v in id_cells if isinstance(v, int))
    assert set(texts) & {"已完成", "正在整改", "待整改", "整改完成", "已销号"}
    assert "合计" in texts
    assert any(t.startswith("填报人：") and "审核人：" in t for t in texts)
    # bordered blank rows between the data and the 合计 row, and after the footer
    first_blank = header_row + 1 + len(rows)
    assert all(ws.cell(first_blank, c).value is None for c in range(1, ws.max_column + 1))
    assert ws.cell(first_blank, 2).border.left.style is not None
    assert ws.max_row > first_blank + 6


def test_no_hazard_id_register(tmp_path: Path, hazards):
    county = "天峻县"
    path = write_register(tmp_path / "tj.xlsx", county, hazards, as_of=AS_OF, style="no_hazard_id")
    ws = openpyxl.load_workbook(path).worksheets[0]
    headers = [c.value for c in ws[2]]
    assert "隐患编号" not in headers
    assert headers == ["序号", *(f.header for f in FIELDS if f.name != "hazard_id")]
    _, mapping, rows = _read_rows(ws)
    assert "hazard_id" not in mapping.values()
    names = [n for n in FIELD_NAMES if n != "hazard_id"]
    assert rows == _expected(hazards, county, names)


def test_register_filters_county_and_rejects_unknown_style(tmp_path: Path, hazards):
    path = write_register(tmp_path / "mix.xlsx", "都兰县", hazards, as_of=AS_OF, only_county=False)
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws.max_row == 2 + len(hazards)
    with pytest.raises(ValueError):
        write_register(tmp_path / "x.xlsx", "都兰县", hazards, as_of=AS_OF, style="fancy")


# ---------------------------------------------------------------- directory ---------------------------

def test_directory(tmp_path: Path, customers):
    path = write_directory(tmp_path / "通讯录.xlsx", COUNTIES, customers)
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert tuple(c.value for c in ws[1]) == DIRECTORY_HEADERS
    rows = [dict(zip(DIRECTORY_HEADERS, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert len(rows) == 2 + 2 * len(COUNTIES) + len(customers)
    assert {r["单位类型"] for r in rows} == set(PARTY_TYPES)
    prefecture = [r for r in rows if r["县(市)"] == WHOLE_PREFECTURE]
    assert {r["单位名称"] for r in prefecture} == {"海西州能源局", "国网海西供电公司营销部"}
    for county in COUNTIES:
        gov = [r for r in rows if r["单位类型"] == PARTY_GOV and r["县(市)"] == county]
        util = [r for r in rows if r["单位类型"] == PARTY_UTILITY and r["县(市)"] == county]
        assert len(gov) == 1 and len(util) == 1
        assert "能源局" in gov[0]["单位名称"] or "局" in gov[0]["单位名称"]
        assert util[0]["单位名称"].startswith("国网") and util[0]["单位名称"].endswith("供电公司")
    gem = next(r for r in rows if r["单位类型"] == PARTY_GOV and r["县(市)"] == "格尔木市")
    assert gem["单位名称"] == "格尔木市发展和改革委员会（能源局）"
    assert gem["电子邮箱"] == "anquan@gem-energy.example.cn"
    assert next(r for r in rows if r["单位类型"] == PARTY_UTILITY and r["县(市)"] == "格尔木市")[
        "单位名称"] == "国网格尔木供电公司"
    cust_rows = [r for r in rows if r["单位类型"] == PARTY_CUSTOMER]
    assert sorted(r["户号"] for r in cust_rows) == sorted(c["customer_id"] for c in customers)
    assert all(isinstance(r["户号"], str) for r in cust_rows)
    assert all(r["户号"] is None for r in rows if r["单位类型"] != PARTY_CUSTOMER)
    emails = [r["电子邮箱"] for r in rows]
    assert sum("；" in e for e in emails) == 1
    for e in emails:
        for addr in e.split("；"):
            assert re.fullmatch(r"[a-z0-9.-]+@[a-z0-9.-]+\.example\.cn", addr), addr
    assert all(re.fullmatch(r"1\d{10}", r["手机号码"]) for r in rows)
    assert all(r["联系人"] for r in rows)


def test_directory_headers_module_is_pure_data():
    import schemas.directory_headers as mod

    tree = ast.parse(Path(mod.__file__).read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert isinstance(mod.DIRECTORY_HEADERS, tuple) and len(mod.DIRECTORY_HEADERS) == 7


def test_write_sample_inbox(tmp_path: Path):
    paths = write_sample_inbox(tmp_path / "inbox", AS_OF, COUNTIES)
    assert len(paths) == len(COUNTIES) + 1
    assert (tmp_path / "config" / "通讯录.xlsx").is_file() and not (tmp_path / "inbox" / "通讯录.xlsx").exists()
    for county in COUNTIES:
        files = list((tmp_path / "inbox" / county).glob("*.xlsx"))
        assert len(files) == 1 and county in files[0].name


@pytest.mark.parametrize("style", REGISTER_STYLES)
def test_every_style_round_trips(tmp_path: Path, hazards, style):
    county = "茫崖市"
    path = write_register(tmp_path / f"{style}.xlsx", county, hazards, as_of=AS_OF, style=style)
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[-1]
    _, mapping, rows = _read_rows(ws)
    names = [n for n in FIELD_NAMES if n in mapping.values()]
    assert rows == _expected(hazards, county, names)


def test_one_schema_for_every_county_checks_each_against_its_own_folder(hazards):
    """The parsers build one schema for all counties (`register_schema(as_of, None)`) and say which county they
    check with `expecting_county`: each county's rows pass as its own and fail as any other's, whatever order
    the counties come in."""
    from schemas.register import expecting_county

    schema = register_schema(AS_OF, None)
    frames = {c: pd.DataFrame([h.as_dict() for h in hazards if h.county == c], columns=FIELD_NAMES)
              for c in COUNTIES[:3]}
    for county, df in [*frames.items(), *reversed(frames.items())]:
        with expecting_county(county):
            schema.validate(df, lazy=True)
        other = next(c for c in COUNTIES if c != county)
        with expecting_county(other), pytest.raises(pandera.errors.SchemaErrors) as caught:
            schema.validate(df, lazy=True)
        failed = caught.value.failure_cases
        assert set(failed["check"]) == {"county_matches_folder"}
        assert len(failed) == len(df)

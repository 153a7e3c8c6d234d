"""The customer file (一户一档) and the joint-drills workbook (联合应急演练): their columns, the header variants
accepted on input, and the pandera contracts of one normalized row.

pandas and pandera are imported by `record_schema` only (in the parser processes that check a file): the store
and the ingesting process take the columns from here without them.

One customer file per county lists its important customers (one row each): supply sources and lines, the
self-provided emergency power source (自备应急电源), the 协作书 and the test dates the checks of
`schemas.customer_checks` judge. One drills workbook per county lists the joint emergency drills held. The
intake recognises either by its header (`hazardnet.intake.records`), reads it like a register (titles above
the header, footers, merged cells, dates in four formats) and judges it here, lazily, one finding per cell.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from schemas.headers import Field, normalize_label
from schemas.vocab import CUSTOMER_GRADES, PARTY_CUSTOMER, PARTY_GOV, PARTY_TYPES, PARTY_UTILITY

KIND_CUSTOMERS = "customers"
KIND_DRILLS = "drills"
KIND_ZH = {KIND_CUSTOMERS: "客户档案", KIND_DRILLS: "联合应急演练记录"}

BACKUP_TYPES: tuple[str, ...] = ("柴油发电机", "UPS", "EPS", "无")
BACKUP_NONE = "无"
HAVE_NOT: tuple[str, ...] = ("有", "无")

CUSTOMER_FIELDS: tuple[Field, ...] = (
    Field("customer_id", "户号", ("客户编号", "用户编号", "客户户号", "用户户号", "customer id", "customer no"), True, width=14),
    Field("customer_name", "客户名称", ("用户名称", "客户名", "单位名称", "customer name"), True, width=24),
    Field("customer_grade", "重要用户等级", ("客户等级", "用户等级", "重要客户等级", "重要等级", "重要电力用户等级", "用户重要等级", "grade"), True, "vocab", 10),
    Field("industry", "行业类别", ("行业", "所属行业", "industry"), width=10),
    Field("supply_sources", "供电电源数量", ("电源数量", "供电电源数", "电源数", "供电电源(路)", "供电电源个数", "电源个数",
                                          "供电回路数", "电源回路数", "电源路数", "supply sources"), kind="number", width=10),
    Field("supply_lines", "供电线路", ("供电线路名称", "电源线路", "电源线路名称", "进线线路", "进线名称", "线路名称", "供电线路(多条用、分隔)",
                                 "supply lines", "lines"), width=28),
    Field("substation", "所属变电站", ("变电站", "电源变电站", "供电变电站", "上级变电站", "所属变电站名称", "变电站名称", "电源点",
                                     "substation"), width=18),
    Field("backup_type", "自备应急电源类型", ("自备电源类型", "应急电源类型", "自备应急电源", "自备应急电源配置", "自备电源", "backup type"),
          kind="vocab", width=12),
    Field("backup_kw", "自备应急电源容量(kW)", ("自备电源容量", "自备应急电源容量", "应急电源容量", "自备电源容量(kw)",
                                             "自备应急电源容量(千瓦)", "backup capacity"), kind="number", width=12),
    Field("security_load_kw", "保安负荷(kW)", ("保安负荷", "保安负荷容量", "保安负荷(千瓦)", "security load"), kind="number", width=10),
    Field("backup_test_date", "自备电源最近试验日期", ("自备电源试验日期", "自备应急电源最近试验日期", "应急电源试验日期",
                                                  "自备电源最近一次试验日期", "最近一次自备电源试验日期", "自备应急电源试验日期",
                                                  "应急电源最近试验日期", "自备电源试验时间", "backup test date"), kind="date", width=14),
    Field("non_electric", "非电性质保安措施", ("非电保安措施", "非电性质保安措施(有/无)", "非电性质的保安措施", "non-electric measures"),
          kind="vocab", width=10),
    Field("agreement_date", "协作书签订日期", ("协作书日期", "签订协作书日期", "协作书签订时间", "协作书签署日期", "协作书",
                                             "agreement date"),
          kind="date", width=14),
    Field("preventive_test_date", "最近预防性试验日期", ("预防性试验日期", "最近一次预防性试验日期", "预试日期", "最近预试日期",
                                                    "预防性试验时间", "最近预防性试验时间", "preventive test date"), kind="date", width=14),
    Field("contact", "安全联系人", ("联系人", "安全负责人", "电气负责人", "安全联系人姓名", "contact"), width=10),
    Field("phone", "联系电话", ("电话", "手机", "手机号码", "联系方式", "联系人电话", "phone"), width=14),
)

DRILL_FIELDS: tuple[Field, ...] = (
    Field("drill_date", "演练日期", ("演练时间", "日期", "演练开展日期", "drill date"), True, "date", 12),
    Field("customer_id", "户号", ("客户编号", "用户编号", "客户户号", "customer id"), True, width=14),
    Field("drill_name", "演练名称", ("演练项目", "演练内容", "演练主题", "演练科目", "drill name"), True, width=28),
    Field("participants", "参加单位", ("参演单位", "参与单位", "参加单位类型", "参加方", "参演各方", "participants"), True, width=30),
    Field("issues", "发现问题", ("演练发现问题", "存在问题", "发现的问题", "issues found"), width=30),
    Field("requirements", "整改要求", ("整改建议", "整改措施", "整改意见", "requirements"), width=30),
)

FIELDS_OF = {KIND_CUSTOMERS: CUSTOMER_FIELDS, KIND_DRILLS: DRILL_FIELDS}

# The columns that tell each workbook apart from a hazard register (which shares 户号, 客户名称, 重要用户等级 and
# 行业类别 with the customer file): a sheet is a customer file or a drills workbook when its header names at least
# MIN_DISTINCT of these.
DISTINCT = {
    KIND_CUSTOMERS: frozenset({"supply_sources", "supply_lines", "substation", "backup_type", "backup_kw",
                               "security_load_kw", "backup_test_date", "non_electric", "agreement_date",
                               "preventive_test_date"}),
    KIND_DRILLS: frozenset({"drill_date", "drill_name", "participants"}),
}
MIN_DISTINCT = {KIND_CUSTOMERS: 3, KIND_DRILLS: 2}


def _index(fields: tuple[Field, ...]) -> dict[str, str]:
    index: dict[str, str] = {}
    for f in fields:
        for label in (f.header, *f.aliases):
            key = normalize_label(label)
            index.setdefault(key, f.name)
            index.setdefault(re.sub(r"\(.*?\)", "", key), f.name)
    return index


HEADER_INDEXES = {kind: _index(fields) for kind, fields in FIELDS_OF.items()}


def match_record_header(kind: str, text: object) -> str | None:
    """The field of `kind` (customers | drills) a header cell denotes, or None."""
    return record_field_of(kind, normalize_label(text))


def record_field_of(kind: str, key: str) -> str | None:
    """The field of `kind` a header key (normalize_label of the cell) denotes, or None."""
    if not key:
        return None
    index = HEADER_INDEXES[kind]
    return index.get(key) or index.get(_BRACKETED.sub("", key))


_BRACKETED = re.compile(r"\(.*?\)")
# No header cell of either kind is longer than this (its longest label, with room for line breaks, spaces and
# a unit in brackets): a longer cell is a description or a note, not worth folding while looking for a header.
LONGEST_HEADER_CELL = 4 * max(len(label) for fields in FIELDS_OF.values() for f in fields
                              for label in (f.header, *f.aliases))


# Spellings of the three parties in 参加单位 ("县能源局、某某公司、格尔木供电公司" as well as the party names).
_PARTY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PARTY_UTILITY, ("供电企业", "供电公司", "供电局", "电力公司", "供电")),
    (PARTY_GOV, ("政府主管部门", "政府", "主管部门", "能源局", "经信局", "工信局", "发改委", "发改局", "应急管理局")),
    (PARTY_CUSTOMER, ("用电客户", "客户", "用户")),
)


def parties_of(text: object) -> tuple[str, ...]:
    """Which of 政府主管部门 / 用电客户 / 供电企业 a 参加单位 cell names (in that order); each part separated by
    、，,；; or a space is read as one unit."""
    if text is None:
        return ()
    found: set[str] = set()
    for part in re.split(r"[、，,；;/\s]+", str(text)):
        for party, words in _PARTY_WORDS:
            if any(w in part for w in words):
                found.add(party)
                break
    return tuple(p for p in PARTY_TYPES if p in found)


def split_lines(text: object) -> list[str]:
    """The line names of a 供电线路 cell (separated by 、 ; ， and their ASCII/full-width forms), each trimmed."""
    if text is None:
        return []
    return [s.strip() for s in re.split(r"[、;；,，\n]+", str(text)) if s and s.strip()]


def line_key(name: object) -> str:
    """A line or substation name compared without spaces or width differences ("330kV 某某线" = "330KV某某线")."""
    return normalize_label(name)


# ---- pandera contracts -----------------------------------------------------------------------
CHECK_MESSAGES: dict[str, str] = {
    "not_nullable": "必填项为空",
    "is_date": "无法识别的日期“{value}”，请填写如 2026-03-05 的日期",
    "not_future": "日期“{value}”晚于报送基准日，不能是将来的日期",
    "is_number": "不是数字：“{value}”",
    "non_negative": "不能为负数：“{value}”",
    "whole_number": "供电电源数量应为整数：“{value}”",
    "vocab_customer_grade": "重要用户等级“{value}”不在可选范围内（特级、一级、二级、临时性、一般）",
    "vocab_backup_type": "自备应急电源类型“{value}”不在可选范围内（柴油发电机、UPS、EPS、无）",
    "vocab_non_electric": "非电性质保安措施只能填“有”或“无”，而不是“{value}”",
    "unique_customer_id": "户号“{value}”在本表中重复出现（一户一行）",
    "names_a_party": "参加单位“{value}”没有写明政府主管部门、用电客户、供电企业中的任何一方",
}


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def _each(rule):
    def check(s):
        import pandas as pd

        return pd.Series([rule(v) for v in s.tolist()], index=s.index, dtype=bool)
    return check


def _is_date(v: object) -> bool:
    return _blank(v) or isinstance(v, dt.date)


def _is_number(v: object) -> bool:
    return _blank(v) or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


def _non_negative(v: object) -> bool:
    return not isinstance(v, (int, float)) or isinstance(v, bool) or v >= 0


def _whole(v: object) -> bool:
    return not isinstance(v, float) or v.is_integer()


def _in(values: tuple[str, ...]):
    allowed = set(values)
    return lambda v: _blank(v) or v in allowed


def _column(f: Field, pa, as_of: dt.date):
    checks = []
    if f.kind == "date":  # every date of these files records something done (a test, a signature, a drill)
        checks.append(pa.Check(_each(_is_date), name="is_date"))
        checks.append(pa.Check(_each(lambda v: not isinstance(v, dt.date) or v <= as_of), name="not_future"))
    if f.kind == "number":
        checks.append(pa.Check(_each(_is_number), name="is_number"))
        checks.append(pa.Check(_each(_non_negative), name="non_negative"))
    if f.name == "supply_sources":
        checks.append(pa.Check(_each(_whole), name="whole_number"))
    if f.name == "customer_grade":
        checks.append(pa.Check(_each(_in(CUSTOMER_GRADES)), name="vocab_customer_grade"))
    if f.name == "backup_type":  # one type, or several real ones joined by 、 (柴油发电机、UPS)
        checks.append(pa.Check(_each(lambda v: _blank(v) or v in BACKUP_TYPES or (
            isinstance(v, str) and all(p in BACKUP_TYPES and p != BACKUP_NONE for p in v.split("、")))),
            name="vocab_backup_type"))
    if f.name == "non_electric":
        checks.append(pa.Check(_each(_in(HAVE_NOT)), name="vocab_non_electric"))
    if f.name == "participants":
        checks.append(pa.Check(_each(lambda v: _blank(v) or bool(parties_of(v))), name="names_a_party"))
    if f.name == "customer_id" and f in CUSTOMER_FIELDS:
        checks.append(pa.Check(lambda s: ~(s.notna() & s.duplicated(keep="first")), name="unique_customer_id"))
    return pa.Column(object, checks=checks, nullable=not f.required, required=True)


def record_schema(kind: str, as_of: dt.date):
    """The contract of one normalized customer-file or drills row (columns: the field names of `kind`) on report
    date `as_of`: a pandera DataFrameSchema."""
    import pandera.pandas as pa

    return pa.DataFrameSchema({f.name: _column(f, pa, as_of) for f in FIELDS_OF[kind]}, strict=False, coerce=False)

"""The pandera contract of one normalized row of the recipient directory (通讯录).

The engine reads the directory sheet into a frame whose columns are `DIRECTORY_FIELD_NAMES` (text
trimmed, 户号 as text, the e-mail cell split into a tuple of addresses). This schema decides what is
wrong, lazily, so whoever keeps the directory sees every problem in one run. Every check carries a
name; `DIRECTORY_CHECK_MESSAGES` turns it into the Chinese sentence shown at the failing cell.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

import pandas as pd
import pandera.pandas as pa

from schemas.directory_headers import DIRECTORY_FIELD_NAMES, DIRECTORY_HEADERS
from schemas.vocab import PARTY_CUSTOMER, PARTY_GOV, PARTY_TYPES, PARTY_UTILITY, WHOLE_PREFECTURE

# field name -> canonical header, and the header variants accepted on input (compared after
# schemas.headers.normalize_label, so full-width brackets, spaces and traditional characters match).
DIRECTORY_HEADER_OF: dict[str, str] = dict(zip(DIRECTORY_FIELD_NAMES, DIRECTORY_HEADERS))
DIRECTORY_ALIASES: dict[str, tuple[str, ...]] = {
    "party_type": ("单位类型", "类型", "主体类型", "参与方", "参与方类型", "单位类别", "party type", "party"),
    "county": ("县(市)", "县市", "所属县市", "县(市)公司", "所属县(市)", "区域", "county"),
    "customer_id": ("户号", "客户编号", "用户编号", "客户户号", "用户户号", "customer id", "account no"),
    "org_name": ("单位名称", "单位", "名称", "客户名称", "用户名称", "organisation", "organization"),
    "contact": ("联系人", "姓名", "联系人姓名", "contact"),
    "email": ("电子邮箱", "邮箱", "电子邮件", "邮件地址", "email", "e-mail", "mail"),
    "mobile": ("手机号码", "手机", "手机号", "联系电话", "电话", "mobile", "phone"),
}

# Spellings of the party type seen in hand-kept directories.
PARTY_SYNONYMS: dict[str, str] = {
    PARTY_GOV: PARTY_GOV, "政府": PARTY_GOV, "主管部门": PARTY_GOV, "政府部门": PARTY_GOV, "能源局": PARTY_GOV,
    PARTY_CUSTOMER: PARTY_CUSTOMER, "客户": PARTY_CUSTOMER, "用户": PARTY_CUSTOMER, "电力客户": PARTY_CUSTOMER,
    "用电用户": PARTY_CUSTOMER,
    PARTY_UTILITY: PARTY_UTILITY, "供电公司": PARTY_UTILITY, "供电单位": PARTY_UTILITY, "电网企业": PARTY_UTILITY,
}

# Addresses in one cell are separated by ; ； 、 , ， or whitespace.
EMAIL_SEPARATORS = re.compile(r"[;；、,，\s]+")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+$")
PHONE_SEPARATORS = re.compile(r"[;；、,，/]+")
# A mainland mobile number: 11 digits starting 13–19. Written forms seen in directories: +86 139-0000-0010,
# 0086 13900000010, 139 0000 0010, (+86)13900000010, full-width digits (folded by NFKC before this).
MAINLAND_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_NOISE = re.compile(r"[\s\-–—.()（）\u00a0]")

DIRECTORY_CHECK_MESSAGES: dict[str, str] = {
    "not_nullable": "必填项为空",
    "vocab_party_type": "单位类型“{value}”不在可选范围内（政府主管部门、用电客户、供电企业）",
    "known_county": "县(市)“{value}”不是已配置的县(市)（{counties}）；州级单位请填“全州”或留空",
    "bad_email": "电子邮箱“{value}”格式不正确（多个邮箱请用“;”或“、”分隔）",
    "bad_mobile": "手机号码“{value}”不是中国大陆手机号（11 位，1 开头），该单位不会收到短信",
    "customer_id_required": "单位类型为“用电客户”，但未填写户号",
    "customer_needs_county": "用电客户必须填写所属县(市)，不能为空或“全州”",
    "unknown_customer": "户号“{value}”不在{county}已接收的隐患台账中，请核对户号",
}

# checks whose failure is only a warning: the row is still served (a bad mobile just means no SMS)
DIRECTORY_WARNING_CHECKS: frozenset[str] = frozenset({"bad_mobile"})

# frame-level checks: check name -> the field whose cell the finding points at
DIRECTORY_FRAME_CHECK_FIELDS: dict[str, str] = {
    "customer_id_required": "customer_id",
    "customer_needs_county": "county",
    "unknown_customer": "customer_id",
}


def blank(v: object) -> bool:
    """True for None, NaN and whitespace-only text."""
    if v is None or v is pd.NaT:
        return True
    if isinstance(v, float) and v != v:
        return True
    if isinstance(v, (tuple, list)):
        return len(v) == 0
    return isinstance(v, str) and not v.strip()


def split_emails(text: object) -> tuple[str, ...]:
    """The addresses of one e-mail cell, in order, duplicates removed."""
    if blank(text):
        return ()
    seen: dict[str, str] = {}
    for part in EMAIL_SEPARATORS.split(str(text)):
        part = part.strip().strip("<>").strip()
        if part and part.lower() not in seen:
            seen[part.lower()] = part
    return tuple(seen.values())


def valid_email(address: str) -> bool:
    return bool(EMAIL_RE.match(address)) and len(address) <= 254


def _valid_emails(v: object) -> bool:
    if blank(v):
        return True
    return all(valid_email(a) for a in (v if isinstance(v, tuple) else split_emails(v)))


def mainland_mobile(text: object) -> str | None:
    """The 11-digit form of one written mainland mobile number (+86, 0086, spaces, dashes, dots and
    brackets allowed), or None when `text` is not one. Full-width digits must be folded (NFKC) first."""
    if blank(text):
        return None
    digits = _PHONE_NOISE.sub("", str(text))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    return digits if MAINLAND_MOBILE_RE.match(digits) else None


def split_mobiles(text: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the normalized mainland mobiles of one cell, the parts that are not one), in order, without repeats."""
    if blank(text):
        return (), ()
    good: dict[str, None] = {}
    bad: list[str] = []
    for part in PHONE_SEPARATORS.split(str(text)):
        part = part.strip()
        if not part:
            continue
        number = mainland_mobile(part)
        if number is None:
            bad.append(part)
        else:
            good.setdefault(number)
    return tuple(good), tuple(bad)


def _valid_mobile(v: object) -> bool:
    return not split_mobiles(v)[1]


def is_whole_prefecture(county: object, prefecture: str | None = None) -> bool:
    """Blank, 全州 or the prefecture's own name all mean the whole prefecture."""
    return blank(county) or county == WHOLE_PREFECTURE or (prefecture is not None and county == prefecture)


def directory_schema(
    counties: Collection[str],
    known_customers: Mapping[str, Collection[str]] | None = None,
    prefecture: str | None = None,
) -> pa.DataFrameSchema:
    """Build the schema a directory must satisfy.

    `known_customers` maps a county to the 户号 of its accepted register; a customer row naming a
    户号 not in that set fails "unknown_customer". Counties absent from the mapping (no register
    accepted yet) are not checked, since there is nothing to check against.
    """
    counties = frozenset(counties)
    known = {c: frozenset(ids) for c, ids in (known_customers or {}).items()}

    def county_ok(v: object) -> bool:
        return is_whole_prefecture(v, prefecture) or v in counties

    def customer_id_present(df: pd.DataFrame) -> pd.Series:
        return ~((df["party_type"] == PARTY_CUSTOMER) & df["customer_id"].map(blank))

    def customer_has_county(df: pd.DataFrame) -> pd.Series:
        return ~((df["party_type"] == PARTY_CUSTOMER) & df["county"].map(lambda v: is_whole_prefecture(v, prefecture)))

    def customer_known(df: pd.DataFrame) -> pd.Series:
        def ok(row) -> bool:
            if row["party_type"] != PARTY_CUSTOMER or blank(row["customer_id"]) or row["county"] not in known:
                return True
            return row["customer_id"] in known[row["county"]]
        return df.apply(ok, axis=1).astype(bool) if len(df) else pd.Series([], dtype=bool)

    party_types = frozenset(PARTY_TYPES)
    columns = {
        "party_type": pa.Column(None, nullable=False, checks=[
            pa.Check(lambda v: blank(v) or v in party_types, element_wise=True, name="vocab_party_type",
                     error="vocab_party_type")]),
        "county": pa.Column(None, nullable=True, checks=[
            pa.Check(county_ok, element_wise=True, name="known_county", error="known_county")]),
        "customer_id": pa.Column(None, nullable=True),
        "org_name": pa.Column(None, nullable=False),
        "contact": pa.Column(None, nullable=True),
        "email": pa.Column(None, nullable=False, checks=[
            pa.Check(_valid_emails, element_wise=True, name="bad_email", error="bad_email")]),
        "mobile": pa.Column(None, nullable=True, checks=[
            pa.Check(_valid_mobile, element_wise=True, name="bad_mobile", error="bad_mobile")]),
    }
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(customer_id_present, name="customer_id_required", error="customer_id_required"),
            pa.Check(customer_has_county, name="customer_needs_county", error="customer_needs_county"),
            pa.Check(customer_known, name="unknown_customer", error="unknown_customer"),
        ],
        strict=False,
        coerce=False,
        name="通讯录",
    )


__all__ = [
    "DIRECTORY_ALIASES", "DIRECTORY_CHECK_MESSAGES", "DIRECTORY_FRAME_CHECK_FIELDS", "DIRECTORY_HEADER_OF",
    "DIRECTORY_WARNING_CHECKS", "PARTY_SYNONYMS", "blank", "directory_schema", "is_whole_prefecture",
    "mainland_mobile", "split_emails", "split_mobiles", "valid_email",
    "PARTY_GOV", "PARTY_CUSTOMER", "PARTY_UTILITY",
]

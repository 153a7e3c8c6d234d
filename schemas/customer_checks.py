"""The customer-file checks as data: one row per problem code (schemas/customer_checks.csv, packaged; the
setting HAZARDNET_CUSTOMER_CHECKS names a replacement table of the same columns).

Columns: code (the problem's name, shown to people), rule (which check of `hazardnet.publish.customer_checks`
it parameterises), grades (the 重要用户等级 it applies to, separated by 、), months (age limit of a date),
minimum (a count: supply sources, parties of a joint drill), message (a template: {value}, {load}, {months},
{minimum}), source (where the default comes from: GB/T 29328-2018, the agreement, issue 26's rules).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from schemas.vocab import CUSTOMER_GRADES

DEFAULT_TABLE = Path(__file__).with_name("customer_checks.csv")
RULES = ("supply_sources", "backup_present", "backup_capacity", "backup_test", "preventive_test", "agreement",
         "drill")
COLUMNS = ("code", "rule", "grades", "months", "minimum", "message", "source")


@dataclass(frozen=True)
class CustomerCheck:
    """One check: a problem `code` raised for customers of `grades` when `rule` fails."""

    code: str
    rule: str
    grades: tuple[str, ...]
    months: int | None
    minimum: int | None
    message: str
    source: str


class ChecksTableError(ValueError):
    """The checks table cannot be used; the message says which row and column, in Chinese."""


def _int(value: str, where: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        raise ChecksTableError(f"{where}应为整数，而不是“{value}”") from None
    if n < 0:
        raise ChecksTableError(f"{where}不能为负数：“{value}”")
    return n


def load_checks(path: Path | str | None = None) -> tuple[CustomerCheck, ...]:
    """The checks of the table at `path` (the packaged defaults when None)."""
    path = Path(path) if path else DEFAULT_TABLE
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ChecksTableError(f"无法读取客户档案检查规则表 {path}：{exc.strerror or exc}") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ChecksTableError(f"客户档案检查规则表 {path.name} 缺少列：{'、'.join(missing)}")
    checks = []
    for n, row in enumerate(reader, start=2):
        where = f"检查规则表 {path.name} 第{n}行"
        rule = (row["rule"] or "").strip()
        if rule not in RULES:
            raise ChecksTableError(f"{where}的 rule“{rule}”不是可用的检查（{'、'.join(RULES)}）")
        grades = tuple(g.strip() for g in (row["grades"] or "").replace(",", "、").split("、") if g.strip())
        unknown = [g for g in grades if g not in CUSTOMER_GRADES]
        if unknown or not grades:
            raise ChecksTableError(f"{where}的 grades“{row['grades']}”应为{'、'.join(CUSTOMER_GRADES)}中的等级")
        code = (row["code"] or "").strip()
        if not code:
            raise ChecksTableError(f"{where}的 code 为空")
        checks.append(CustomerCheck(code, rule, grades, _int(row["months"], f"{where}的 months"),
                                    _int(row["minimum"], f"{where}的 minimum"), (row["message"] or code).strip(),
                                    (row["source"] or "").strip()))
    return tuple(checks)

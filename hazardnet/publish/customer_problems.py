"""The customer-file problems (客户档案问题) as a workbook sheet for one recipient's bulletin: a customer sees only its
own problems, a county authority or supply company its county's, a prefecture-level unit every county's. One call
from a bulletin writer (`write_problems_sheet(wb, fmts, report, recipient, ...)` with the customer-checks report)."""

from __future__ import annotations

from collections.abc import Mapping

from hazardnet.delivery.directory import Recipient
from hazardnet.xlsx.style import Formats, write_table
from schemas.vocab import PARTY_CUSTOMER

SHEET = "客户档案问题"
HEADERS = ["县(市)", "户号", "客户名称", "问题", "说明"]
WIDTHS = [10, 14, 26, 16, 52]


def scoped_problems(report: Mapping, recipient: Recipient) -> list[list[str]]:
    """The rows of the problems sheet `recipient` may see: (county, 户号, name, code, message)."""
    def visible(c: Mapping) -> bool:
        if recipient.party == PARTY_CUSTOMER:
            return bool(recipient.customer_id) and c["county"] == recipient.county \
                and c["customer_id"] == recipient.customer_id
        return recipient.county is None or c["county"] == recipient.county

    return [[c["county"], c["customer_id"], c["customer_name"], p["code"], p["message"]]
            for c in report.get("customers", ()) if visible(c) for p in c["problems"]]


def write_problems_sheet(wb, fmts: Formats, report: Mapping, recipient: Recipient, *,
                         page_header: str | None = None) -> int:
    """Add the 客户档案问题 sheet (a header row and the recipient's rows); the number of rows written."""
    ws = wb.add_worksheet(SHEET)
    return write_table(wb, ws, fmts, HEADERS, scoped_problems(report, recipient), widths=WIDTHS, wrap_cols=[4],
                       page_header=page_header)

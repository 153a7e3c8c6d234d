"""Grid risk warnings by line or substation (电网风险预警按线路/变电站): which customers a line or substation feeds,
from the counties' customer files (一户一档: 供电线路, 所属变电站), and why each recipient is reached.

A warning by line reaches exactly the customers whose file names that line or substation, the government
authorities and supply companies of their counties, and the prefecture-level units; a warning by county (--county)
still reaches every recipient of the county. Names are compared without spaces and width or case differences
("330kV 某某线" = "330KV某某线"), whole names only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.customer_file import line_key, split_lines
from schemas.vocab import PARTY_CUSTOMER, WHOLE_PREFECTURE


def fed_customers(files: Mapping[str, Sequence[Mapping]], lines: Sequence[str],
                  substations: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(county, customer_id, customer_name, why) of every customer whose file names one of `lines` (in 供电线路) or
    `substations` (所属变电站); `why` says which, e.g. "供电线路 330kV 某某线"."""
    want_lines = {line_key(x): x for x in lines if x and x.strip()}
    want_subs = {line_key(x): x for x in substations if x and x.strip()}
    out = []
    for county, rows in files.items():
        for row in rows:
            why = [f"供电线路 {want_lines[line_key(x)]}" for x in split_lines(row.get("supply_lines"))
                   if line_key(x) in want_lines]
            why += [f"所属变电站 {want_subs[line_key(x)]}" for x in split_lines(row.get("substation"))
                    if line_key(x) in want_subs]
            if why:
                out.append((county, str(row.get("customer_id") or ""), row.get("customer_name") or "",
                            "、".join(dict.fromkeys(why))))
    return out


def reached(recipient, whole_counties: Sequence[str], customers: Sequence[tuple[str, str, str, str]]) -> str | None:
    """Why `recipient` gets the warning, or None when it does not: a customer fed by the line/substation, an
    authority or supply company of such a customer's county, a prefecture-level unit, or any recipient of a county
    named whole (--county)."""
    if recipient.county is None:
        return "州级单位"
    if recipient.county in whole_counties:
        return f"所在县(市) {recipient.county} 整体预警"
    fed = [c for c in customers if c[0] == recipient.county]
    if not fed:
        return None
    if recipient.party == PARTY_CUSTOMER:
        mine = [c for c in fed if c[1] == recipient.customer_id]
        return f"本户{mine[0][3]}" if mine else None
    return f"本县(市)受影响客户：{'、'.join(dict.fromkeys(c[2] or c[1] for c in fed))}"


def reason_of_record(record: Mapping, whole_counties: Sequence[str],
                     customers: Sequence[tuple[str, str, str, str]]) -> str | None:
    """`reached` for a delivery record (recipient, party, county label, customer_id)."""
    class _R:
        county = None if record.get("county") in (None, WHOLE_PREFECTURE) else record.get("county")
        party = record.get("party")
        customer_id = record.get("customer_id")
    return reached(_R, whole_counties, customers)

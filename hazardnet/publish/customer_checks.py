"""The customer-file checks (一户一档): each customer's problems as of a report date, from its row of the county's
customer file, the county's joint drills and the check table (`schemas.customer_checks`), and the customers the
registers and the file do not share. Pure functions over plain rows: the job (hazardnet.jobs.customer_checks)
reads the store, the bulletin, deck and newsletter show what these return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from schemas.customer_checks import CustomerCheck
from schemas.customer_file import BACKUP_NONE, parties_of
from schemas.vocab import PARTY_TYPES


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months earlier (the month's last day when it has no such day)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    for d in range(day.day, 27, -1):
        try:
            return dt.date(y, m, d)
        except ValueError:
            continue
    return dt.date(y, m, min(day.day, 28))


def months_after(day: dt.date, months: int) -> dt.date:
    return months_before(day, -months)


def _date(v) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    return v if isinstance(v, dt.date) else None


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def has_backup(customer: Mapping) -> bool:
    """Whether the customer has a self-provided emergency power source (a type other than 无 or blank)."""
    t = customer.get("backup_type")
    return bool(t) and t != BACKUP_NONE


def joint_drills(drills: Iterable[Mapping], customer_id: str, parties: int = len(PARTY_TYPES)) -> list[dt.date]:
    """The dates of the customer's drills in which at least `parties` of the three parties took part, oldest first."""
    return sorted(d for d in (_date(r.get("drill_date")) for r in drills
                              if str(r.get("customer_id") or "") == customer_id
                              and len(parties_of(r.get("participants"))) >= parties) if d is not None)


def last_joint_drill(drills: Iterable[Mapping], customer_id: str, as_of: dt.date,
                     parties: int = len(PARTY_TYPES)) -> dt.date | None:
    """The customer's latest joint drill held on or before `as_of`."""
    held = [d for d in joint_drills(drills, customer_id, parties) if d <= as_of]
    return held[-1] if held else None


def _fmt(day: dt.date | None) -> str:
    return f"{day:%Y-%m-%d}" if day else "未填写"


def _kw(v: float | None) -> str:
    return "未填写" if v is None else (str(int(v)) if float(v).is_integer() else f"{v:g}")


def problem(check: CustomerCheck, customer: Mapping, drills: Sequence[Mapping], as_of: dt.date) -> str | None:
    """The message of `check`'s problem for this customer on `as_of`, or None when the check passes."""
    rule = check.rule
    if rule == "supply_sources":
        n = _number(customer.get("supply_sources"))
        minimum = check.minimum if check.minimum is not None else 2
        if n is None or n < minimum:
            value = "未填写" if n is None else f"{int(n)}路"
            return check.message.format(value=value, minimum=minimum, months=check.months, load="")
        return None
    if rule == "backup_present":
        if has_backup(customer):
            return None
        return check.message.format(value=customer.get("backup_type") or "空", minimum=check.minimum,
                                    months=check.months, load="")
    if rule == "backup_capacity":
        kw, load = _number(customer.get("backup_kw")), _number(customer.get("security_load_kw"))
        if has_backup(customer) and kw is not None and load is not None and kw < load:
            return check.message.format(value=_kw(kw), load=_kw(load), minimum=check.minimum, months=check.months)
        return None
    if rule in ("backup_test", "preventive_test"):
        if rule == "backup_test" and not has_backup(customer):
            return None
        last = _date(customer.get("backup_test_date" if rule == "backup_test" else "preventive_test_date"))
        months = check.months if check.months is not None else (12 if rule == "backup_test" else 36)
        if last is None or last < months_before(as_of, months):
            return check.message.format(value=_fmt(last), months=months, minimum=check.minimum, load="")
        return None
    if rule == "agreement":
        if _date(customer.get("agreement_date")) is None:
            return check.message.format(value="", months=check.months, minimum=check.minimum, load="")
        return None
    if rule == "drill":
        months = check.months if check.months is not None else 12
        parties = check.minimum if check.minimum is not None else len(PARTY_TYPES)
        last = last_joint_drill(drills, str(customer.get("customer_id") or ""), as_of, parties)
        if last is None or last < months_before(as_of, months):
            value = f"最近一次联合应急演练 {last:%Y-%m-%d}" if last else "没有联合应急演练记录"
            return check.message.format(value=value, months=months, minimum=parties, load="")
        return None
    raise ValueError(rule)


def customer_problems(customer: Mapping, drills: Sequence[Mapping], as_of: dt.date,
                      checks: Sequence[CustomerCheck]) -> list[dict]:
    """Every problem of one customer: [{"code", "message"}] in the order of the check table."""
    grade = customer.get("customer_grade")
    out = []
    for check in checks:
        if grade not in check.grades:
            continue
        message = problem(check, customer, drills, as_of)
        if message is not None:
            out.append({"code": check.code, "message": message})
    return out


def check_customers(files: Mapping[str, Sequence[Mapping]], drills: Mapping[str, Sequence[Mapping]],
                    register: Mapping[str, Mapping[str, str]], as_of: dt.date, checks: Sequence[CustomerCheck],
                    counties: Sequence[str]) -> dict:
    """The customer checks of every county (in the configured order): `files` county -> its customer-file
    rows, `drills` county -> its drill rows, `register` county -> {customer_id: customer_name} of the
    registers. Returns {"customers": [...], "not_in_file": [...], "not_in_registers": [...]}."""
    customers, not_in_file, not_in_registers = [], [], []
    for county in [*counties, *sorted(set(files) - set(counties))]:
        rows = files.get(county) or []
        county_drills = drills.get(county) or []
        in_file = {}
        for row in rows:
            cid = str(row.get("customer_id") or "")
            in_file[cid] = row.get("customer_name") or ""
            customers.append({"county": county, "customer_id": cid, "customer_name": row.get("customer_name") or "",
                              "problems": customer_problems(row, county_drills, as_of, checks)})
        known = register.get(county) or {}
        not_in_file += [{"county": county, "customer_id": cid, "customer_name": name}
                        for cid, name in sorted(known.items()) if cid not in in_file]
        not_in_registers += [{"county": county, "customer_id": cid, "customer_name": name}
                             for cid, name in sorted(in_file.items()) if cid not in known]
    return {"customers": customers, "not_in_file": not_in_file, "not_in_registers": not_in_registers}


def problems_of_county(report: Mapping, county: str) -> list[dict]:
    """The customers of one county that have problems (the county's bulletin sheet, its deck slide)."""
    return [c for c in report["customers"] if c["county"] == county and c["problems"]]


def problems_of_customer(report: Mapping, county: str, customer_id: str) -> list[dict]:
    """One customer's own problems, and nobody else's (the customer's own bulletin)."""
    return [p for c in report["customers"] if c["county"] == county and c["customer_id"] == customer_id
            for p in c["problems"]]


# ---- joint drills over a quarter and reminders --------------------------------------------
def drill_due(last: dt.date | None, months: int = 12) -> dt.date | None:
    """The day a customer's drill year runs out (its last joint drill + `months`)."""
    return months_after(last, months) if last else None


def drills_summary(files: Mapping[str, Sequence[Mapping]], drills: Mapping[str, Sequence[Mapping]],
                   quarter_start: dt.date, quarter_end: dt.date, months: int = 12,
                   parties: int = len(PARTY_TYPES)) -> dict[str, dict[str, list[dict]]]:
    """County -> {"held": drills held in the quarter, "due": important customers whose drill year runs out next
    quarter, "overdue": important customers without a joint drill in the `months` before the quarter's end}."""
    next_end = months_after(quarter_end + dt.timedelta(days=1), 3) - dt.timedelta(days=1)
    out = {}
    for county, rows in files.items():
        county_drills = drills.get(county) or []
        held = [{"customer_id": str(d.get("customer_id") or ""), "drill_date": _date(d.get("drill_date")),
                 "drill_name": d.get("drill_name") or "", "participants": "、".join(parties_of(d.get("participants")))}
                for d in county_drills if (x := _date(d.get("drill_date"))) and quarter_start <= x <= quarter_end]
        due, overdue = [], []
        for row in rows:
            if row.get("customer_grade") in (None, "一般"):
                continue
            cid = str(row.get("customer_id") or "")
            last = last_joint_drill(county_drills, cid, quarter_end, parties)
            entry = {"customer_id": cid, "customer_name": row.get("customer_name") or "", "last": last,
                     "due": drill_due(last, months)}
            if last is None or last < months_before(quarter_end, months):
                overdue.append(entry)
            elif entry["due"] <= next_end:
                due.append(entry)
        out[county] = {"held": sorted(held, key=lambda h: h["drill_date"]), "due": due, "overdue": overdue}
    return out


def drill_reminders_due(files: Mapping[str, Sequence[Mapping]], drills: Mapping[str, Sequence[Mapping]],
                        as_of: dt.date, days: int = 30, months: int = 12,
                        parties: int = len(PARTY_TYPES)) -> list[dict]:
    """The important customers whose drill year runs out within `days` after `as_of` (not yet run out):
    [{"county", "customer_id", "customer_name", "last", "due"}]."""
    out = []
    for county, rows in files.items():
        for row in rows:
            if row.get("customer_grade") in (None, "一般"):
                continue
            cid = str(row.get("customer_id") or "")
            last = last_joint_drill(drills.get(county) or [], cid, as_of, parties)
            due = drill_due(last, months)
            if due is not None and as_of <= due <= as_of + dt.timedelta(days=days):
                out.append({"county": county, "customer_id": cid, "customer_name": row.get("customer_name") or "",
                            "last": last, "due": due})
    return out


# ---- the report straight from the store (for the bulletin, deck and newsletter) ----------
def register_customers(store, as_of: dt.date, counties: Sequence[str]) -> dict[str, dict[str, str]]:
    """County -> {customer_id: customer_name} of every customer in the registers as of `as_of`."""
    out: dict[str, dict[str, str]] = {}
    for county, cid, name, _latest in store.current_rows(as_of, ["county", "customer_id", "customer_name"], counties):
        if cid:
            out.setdefault(county, {}).setdefault(str(cid), name or "")
    return out


def stored_customer_report(store, settings, as_of: dt.date) -> dict | None:
    """The customer-checks report as of `as_of` from the store, or None when no county has a customer file yet
    (outputs then show nothing of it)."""
    from schemas.customer_checks import load_checks
    from schemas.customer_file import KIND_CUSTOMERS, KIND_DRILLS

    files = store.records_as_of(KIND_CUSTOMERS, as_of, settings.counties)
    if not files:
        return None
    drills = store.records_as_of(KIND_DRILLS, as_of, settings.counties)
    return check_customers(files, drills, register_customers(store, as_of, settings.counties), as_of,
                           load_checks(settings.customer_checks), settings.counties)

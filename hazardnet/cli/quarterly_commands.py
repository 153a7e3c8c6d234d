"""`hazardnet quarterly` and `hazardnet warnings`: thin fronts over the quarterly and warning flows."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from hazardnet.cli.app import AsOfOpt, HomeOpt, JsonOpt, UserError, _as_of, _home, app, err, out
from hazardnet.cli.distribution_commands import PdfOpt, delivery_line, paper_exit, print_paper, status_text
from hazardnet.delivery.masking import redact

QuarterOpt = Annotated[Optional[str], typer.Option(
    "--quarter", help="季度，例如 2026Q3；默认上一个已结束的季度。")]
SendOpt = Annotated[bool, typer.Option(
    "--send", help="按分发规则发送三方：县(市)政府主管部门和供电企业收到本县的工作簿和通报会PPT，州级单位收到全州的，"
                   "客户只收到本单位隐患的工作簿、不发PPT（每份只发一次）。")]
ReportAsOfOpt = Annotated[Optional[str], typer.Option(
    "--as-of", help="数据截至日期 YYYY-MM-DD：按截至该日报送的台账统计该季度，默认今天（按配置的时区，默认北京时间）。")]


def _quarter(value: str | None) -> str | None:
    from hazardnet.publish.quarterly import Quarter

    if value is None:
        return None
    try:
        return Quarter.parse(value).label
    except ValueError as exc:
        raise UserError(str(exc)) from None


def print_quarterly(result: dict) -> None:
    """Human summary of a quarterly run: the per-county figures and where the workbooks are."""
    from rich.table import Table

    from hazardnet.publish.quarterly import FIGURES, RECONCILIATION

    table = Table(title=f"{result['quarter']} 隐患治理情况（季初未整改 + 本季度新发现 − 本季度报告已整改 = 季末未整改；"
                        f"数据截至 {result.get('as_of', '')}）")
    keys = ["open_at_start", "found", "remediated", "open_at_end", "overdue_at_end", "remediation_rate",
            "restated"]
    table.add_column("县(市)")
    for k in keys:
        table.add_column({**FIGURES, **RECONCILIATION}[k], justify="right")
    for rec in result["figures"]:
        cells = []
        for k in keys:
            v = rec.get(k)
            cells.append("—" if v is None else f"{v:.1%}" if k == "remediation_rate" else str(v))
        table.add_row(rec["county"], *cells)
    out.print(table)
    for book in result["workbooks"]:
        out.print(f"{book['name']}：{book['path']}")
        if book.get("deck"):
            out.print(f"{book['name']}通报会PPT：{book['deck']}")
    if result.get("newsletter"):
        out.print(f"工作开展情况：{result['newsletter']}")
    for d in result.get("deliveries", []):
        out.print(delivery_line(d), soft_wrap=True)
    print_paper(result.get("paper"))


@app.command()
def quarterly(quarter: QuarterOpt = None, as_of: ReportAsOfOpt = None, home: HomeOpt = None, send: SendOpt = False,
              pdf: PdfOpt = False, json_: JsonOpt = False) -> None:
    """生成季度隐患治理情况汇总工作簿和隐患通报会PPT（全州一份、每县一份）及《供电服务动态》工作开展情况，可选发送三方；
    加 --pdf 时把全州和各县(市)的汇总工作簿打印为纸质版 PDF（通报会材料，位于工作簿旁的 纸质版/）。"""
    import datetime as dt

    from flows.quarterly import quarterly_flow, resolve_quarter
    from hazardnet.publish.quarterly import report_date_problem
    from hazardnet.settings import load_settings, today

    label, day = _quarter(quarter), _as_of(as_of)
    settings = load_settings(_home(home))
    problem = report_date_problem(resolve_quarter(label, settings),
                                  dt.date.fromisoformat(day) if day is not None else today(settings))
    if problem:  # also a quarter not begun yet (2027Q2 typed for 2026Q2) as known today
        raise UserError(problem)
    from hazardnet.cli.progress import flow_console

    with flow_console(_home(home), "生成季度汇总", quiet=json_):
        result = quarterly_flow(home=_home(home), quarter=label, send=send, as_of=day, pdf=True if pdf else None)
    if json_:
        print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    else:
        print_quarterly(result)
    code = paper_exit(result.get("paper"))
    if code:
        sys.exit(code)


def print_warnings(result: dict, counties: list[str] | tuple[str, ...] = ()) -> None:
    """Human summary of a warnings run, the warnings in the configured county order (`counties`)."""
    order = {c: i for i, c in enumerate(counties)}
    out.print(f"基准日 {result['as_of']}：应预警隐患 {len(result['warnings'])} 项。")
    for w in sorted(result["warnings"], key=lambda w: order.get(w["county"], len(order))):  # stable: job's order within
        out.print(f"  {w['county']} {w['customer_name']} {w['hazard_id']}：{w['reason']}")
    for d in result.get("deliveries", []):
        out.print(delivery_line(d, mobiles=True), soft_wrap=True)
    rem = result.get("reinspection") or {}
    if rem.get("reinspection_due"):
        out.print(f"复查提醒：截至 {rem['as_of']} 已整改超过 {rem.get('reinspection_days')} 天仍无复查合格记录的隐患 "
                  f"{len(rem['reinspection_due'])} 项（各县(市)当前台账中的全部隐患，不限季度；季度汇总的“季末待复查”按季末计，"
                  f"口径不同）。")
    if rem.get("unnotified"):
        out.print(f"未书面告知：截至 {rem['as_of']} 发现超过 {rem.get('notice_days')} 天仍无告知日期的未整改隐患 "
                  f"{len(rem['unnotified'])} 项。")
    for r in [*rem.get("reinspection_due", []), *rem.get("unnotified", [])]:
        out.print(f"  {r['kind_name']} {r['county']} {r['hazard_id']} {r['customer_name']}：{r['reason']}")
    for d in rem.get("reminders", []):
        out.print(redact(f"{d.get('recipient')}（{'、'.join(d.get('addresses') or [])}）：{status_text(d.get('status'))}"
                         f"（{'、'.join(d.get('hazard_ids') or [])}）"), soft_wrap=True)
    for r in result.get("reminders", []):
        out.print(f"整改期限提醒：{r['county']} {r['customer_name']} {r['hazard_id']}（{r['days_left']} 天后到期）")
    for x in result.get("letters", []):
        out.print(f"《隐患督办建议函》{x['number']}（{x['rung_name']}，{len(x['hazard_ids'])} 项）：{x['path']}")


WARNING_PARTS = {"warnings": "风险预警", "reinspection": "复查提醒", "supervision": "督办"}


def run_part(flow, **parameters) -> tuple[dict | None, str | None]:
    """Run one flow of `hazardnet warnings`: (its result, None), or (what it still delivered, the one Chinese
    sentence saying why it failed) when it failed."""
    from flows.mailing import Undelivered

    outcome = flow(**parameters, return_state=True).result(raise_on_failure=False)
    if isinstance(outcome, Undelivered):
        return outcome.result, str(outcome)
    if isinstance(outcome, BaseException):
        from hazardnet.cli.problems import server_problem

        return None, server_problem(outcome) or (
            str(outcome) if isinstance(outcome, RuntimeError) else f"{type(outcome).__name__}: {outcome}")
    return outcome, None


@app.command()
def warnings(as_of: AsOfOpt = None, home: HomeOpt = None, json_: JsonOpt = False, pdf: PdfOpt = False) -> None:
    """风险预警与督办：逾期隐患预警，整改期限前 10 天、3 天提醒客户，县级督办、州级挂牌督办的《隐患督办建议函》，
    复查提醒与未书面告知清单，不重复发送。"""
    from flows.reminders import reminders_flow
    from flows.supervision import supervision_flow
    from flows.warnings import warnings_flow

    from hazardnet.cli.progress import flow_console

    from hazardnet.settings import load_settings, today

    home_dir, day = _home(home), _as_of(as_of)
    with flow_console(home_dir, "发送风险预警", quiet=json_):
        # three flows, each run whatever the others did: one part failing never keeps the others from running
        parts = {"warnings": run_part(warnings_flow, home=home_dir, as_of=day),
                 "reinspection": run_part(reminders_flow, home=home_dir, as_of=day),
                 "supervision": run_part(supervision_flow, home=home_dir, as_of=day, pdf=pdf)}
    (result, _), (reminders, _), (supervised, _) = parts.values()
    result = {"as_of": day or today(load_settings(home_dir)).isoformat(), "warnings": [], "deliveries": [], **(result or {})}
    reminders = {"reinspection_due": [], "unnotified": [], "reminders": [], "reinspection_reminders": [],
                 **(reminders or {})}
    supervised = {"reminders": [], "rungs": [], "letters": [], **(supervised or {})}
    failures = [{"part": key, "name": WARNING_PARTS[key], "error": error}
                for key, (_, error) in parts.items() if error]
    result["reinspection"] = reminders
    result["reinspection_reminders"] = reminders["reinspection_reminders"]
    result.update(reminders=supervised["reminders"], rungs=supervised["rungs"], letters=supervised["letters"],
                  supervision=supervised, failures=failures)
    if json_:
        print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    else:
        from hazardnet.settings import load_settings

        print_warnings(result, load_settings(_home(home)).counties)
        print_paper(supervised.get("paper"))
    for f in failures:
        err.print(f"错误：{f['name']}：{redact(f['error'])}", soft_wrap=True)
    code = paper_exit(supervised.get("paper"))
    if code or failures:
        sys.exit(code or 1)

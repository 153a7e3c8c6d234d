"""`hazardnet customer-checks`: the customer file (一户一档) and joint-drill checks (a thin front over
flows.customer_checks)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hazardnet.cli.app import AsOfOpt, HomeOpt, JsonOpt, UserError, _as_of, _home, app, out


def print_customer_checks(report: dict) -> None:
    """Every customer's problems, then the customers the registers and the files do not share."""
    from rich.table import Table

    from hazardnet.cli.distribution_commands import status_text

    filed = {c["county"] for c in report["customers"]}
    if report["customers"]:
        table = Table(title="客户档案检查（一户一档）")
        for col in ("县(市)", "户号", "客户名称", "问题", "说明"):
            table.add_column(col)
        for c in report["customers"]:
            if not c["problems"]:
                table.add_row(c["county"], c["customer_id"], c["customer_name"], "无", "")
            for p in c["problems"]:
                table.add_row(c["county"], c["customer_id"], c["customer_name"], p["code"], p["message"])
        out.print(table)
    else:  # not an empty table: say why there is nothing to check and what to do
        out.print("尚未收到任何县(市)的客户档案（一户一档），没有可检查的客户。请用 hazardnet template --customers "
                  "--county <县(市)> -o <文件> 生成模板，填好后放入 inbox/<县(市)>/，再运行 hazardnet ingest。",
                  soft_wrap=True)
    without = list(dict.fromkeys(m["county"] for m in report["not_in_file"] if m["county"] not in filed))
    if without and filed:
        out.print(f"尚未报送客户档案的县(市)：{'、'.join(without)}（其台账中的客户均未建档，不逐户列出）。", soft_wrap=True)
    for key, title in (("not_in_file", "台账中有、客户档案中没有的客户"), ("not_in_registers", "客户档案中有、台账中没有的客户")):
        listed = [m for m in report[key] if key != "not_in_file" or m["county"] in filed]
        if listed:
            out.print(f"{title}：" + "；".join(f"{m['county']} {m['customer_id']} {m['customer_name']}" for m in listed))
    for r in report.get("reminders") or []:
        out.print(f"演练到期提醒 {r.get('county')} {r.get('recipient')}：邮件 {status_text(r.get('status'))}，"
                  f"短信 {status_text(r.get('sms_status'), 'sms')}", soft_wrap=True)


@app.command("customer-checks")
def customer_checks(
    as_of: AsOfOpt = None,
    home: HomeOpt = None,
    json_: JsonOpt = False,
    remind: Annotated[bool, typer.Option(
        "--remind", help="同时向联合应急演练30天内到期的客户及其县(市)供电公司发送提醒（邮件和短信，各只发一次）。")] = False,
) -> None:
    """检查客户档案（一户一档）与联合应急演练：列出每个客户的问题，以及台账与客户档案不一致的客户。"""
    from flows.customer_checks import customer_checks_flow
    from schemas.customer_checks import ChecksTableError

    from hazardnet.cli.progress import flow_console

    day = _as_of(as_of)  # a date mistyped is refused before the console says where its log goes
    try:
        with flow_console(_home(home), "检查客户档案", quiet=json_):
            report = customer_checks_flow(home=_home(home), as_of=day, remind=remind)
    except ChecksTableError as exc:
        raise UserError(str(exc)) from None
    if json_:
        print(json.dumps({k: report[k] for k in ("customers", "not_in_file", "not_in_registers")}
                         | ({"reminders": report["reminders"]} if "reminders" in report else {}),
                         ensure_ascii=False, indent=1, default=str))
    else:
        print_customer_checks(report)

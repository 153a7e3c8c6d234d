"""`hazardnet notices` (written notices) and `hazardnet hazard` (one hazard's whole file): thin fronts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hazardnet.cli.app import AsOfOpt, HomeOpt, JsonOpt, UserError, _as_of, _home, _output_xlsx, app, err, out
from hazardnet.cli.distribution_commands import PdfOpt, delivery_line, paper_exit, print_paper


def print_notices(result: dict) -> None:
    """Human summary of a notices run."""
    out.print(f"基准日 {result['as_of']}：本次签发整改通知书 {len(result['notices'])} 份"
              f"（累计 {len(result['issued'])} 份）。")
    for n in result["notices"]:
        out.print(f"  {n['number']} {n['county']} {n['customer_name']}（户号 {n['customer_id']}）："
                  f"{'、'.join(n['hazard_ids'])} → {n['path']}", soft_wrap=True)
    for d in result.get("deliveries", []):
        out.print(f"{d.get('number')} → {delivery_line(d)}", soft_wrap=True)
    for n in result.get("unreachable", []):
        out.print(f"通讯录中没有客户 {n['county']} {n['customer_name']}（户号 {n['customer_id']}），通知书 {n['number']} 未发送。")
    if result.get("pdf") is not None:
        print_paper(result["pdf"])


@app.command()
def notices(as_of: AsOfOpt = None, home: HomeOpt = None,
            send: Annotated[bool, typer.Option("--send", help="把通知书发到该客户在通讯录中的邮箱（并短信告知），每份只发一次。")] = False,
            pdf: PdfOpt = False, json_: JsonOpt = False) -> None:
    """签发《用电安全隐患整改通知书》：每个有未书面告知隐患（无告知日期、未列入任何通知书）的客户一份，
    写入 outbox/通知书/<县(市)>/；同一隐患不会列入第二份通知书。"""
    from flows.notices import notices_flow
    from hazardnet.cli.progress import flow_console

    day = _as_of(as_of)  # a date mistyped is refused before the console says where its log goes
    with flow_console(_home(home), "签发整改通知书", quiet=json_):
        result = notices_flow(home=_home(home), as_of=day, send=send, pdf=pdf)
    if json_:
        print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    else:
        print_notices(result)
    code = paper_exit(result.get("pdf"))  # as `hazardnet bulletin --pdf`: 2 without LibreOffice, 1 for a failed copy
    if code:
        sys.exit(code)


@app.command()
def hazard(county: Annotated[str, typer.Option("--county", help="县(市)，例如 格尔木市。")],
           id_: Annotated[str, typer.Option("--id", help="隐患编号。")],
           as_of: AsOfOpt = None, home: HomeOpt = None,
           output: Annotated[Optional[Path], typer.Option("-o", "--output", help="同时写成工作簿（.xlsx）。")] = None,
           json_: JsonOpt = False) -> None:
    """一患一档：从库中列出一项隐患的全过程——各期台账版本、通知书与送达、期限变更、复查、预警与提醒、照片。"""
    import datetime as dt

    from hazardnet.jobs.hazard_file import hazard_file
    from hazardnet.publish.hazard_file import write_hazard_file
    from hazardnet.settings import load_settings, today
    from hazardnet.store import Store

    settings = load_settings(_home(home))
    if county not in settings.counties:  # a county's name mistyped is not a hazard missing from the store
        raise UserError(f"“{county}”不是已配置的县(市)：{'、'.join(settings.counties)}。")
    output = _output_xlsx(output)
    day = dt.date.fromisoformat(_as_of(as_of)) if as_of else today(settings)
    store = Store(settings.database_url)
    try:
        record = hazard_file(store, county, id_, day, settings.timezone)
    finally:
        store.dispose()
    if record is None:
        raise UserError(f"库中没有{county}的隐患“{id_}”（截至 {day}）。")
    if output is not None:
        write_hazard_file(output, record)
    if json_:
        print(json.dumps(record, ensure_ascii=False, indent=1, default=str))
        return
    out.print(f"{record['county']} {record['hazard_id']}：{record['customer_name']}（户号 {record['customer_id']}），"
              f"阶段 {record['stage']}（{record['days_in_stage']} 天）")
    for v in record["versions"]:
        check = " ".join(x for x in (v["reinspect_date"], v["reinspect_result"]) if x)
        check = (check + (f"（复查人 {v['reinspector']}）" if v["reinspector"] else "")) or "无"
        out.print(f"  {v['as_of']} 状态 {v['status']} 期限 {v['deadline'] or '未明确'} 责任人 {v['owner'] or '未填写'} "
                  f"复查：{check}")
    for n in record["notices"]:
        out.print(f"  通知书 {n['number']}（{n['issued_on']}）{'已送达 ' + n['served_on'] if n['served'] else '未登记送达'}")
    for x in record["letters"]:
        out.print(f"  督办建议函 {x['number']}（{x['rung_name']}，{x['issued_on']}）")
    for m in record["messages"]:
        out.print(f"  {m['sent_at'] or ''} {m['kind_name']}：{m['item']} → {m['recipient']}"
                  f"（{m['channel_name']}，{m['status_name']}）")
    if output is not None:
        err.print(f"已写入 {output}")

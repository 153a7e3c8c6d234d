"""`hazardnet demo`: a working folder with three months of realistic registers, run through the pipeline.

Months M-2, M-1 and M are submitted and ingested in turn (statuses move on, new hazards appear), so
the store holds history; in month M one county's register is flawed and comes back with its report.
Then the month's bulletin goes out (as .eml files unless SMTP is configured) and the summaries of the
last complete quarter are written and sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from pathlib import Path

from rich.console import Console

from hazardnet.cli.sample_data import sample_customers, sample_hazards, write_directory, write_register
from hazardnet.settings import load_settings, today

# Each county's clerk has habits of their own; the demo shows the reader coping with all of them.
STYLES = {"德令哈市": "canonical", "格尔木市": "variant", "茫崖市": "canonical", "乌兰县": "no_hazard_id",
          "都兰县": "variant", "天峻县": "canonical"}
FLAWED_COUNTY = "都兰县"
MONTHS = 3


def flawed(hazards: list, as_of: dt.date) -> list:
    """The same register with the mistakes clerks make: a future date, a missing completed date,
    a severity outside the list, a blank customer name."""
    bad = list(hazards)
    if len(bad) >= 4:
        bad[0] = dataclasses.replace(bad[0], found_date=as_of + dt.timedelta(days=20))
        bad[1] = dataclasses.replace(bad[1], status="已整改", completed_date=None)
        bad[2] = dataclasses.replace(bad[2], severity="严重")
        bad[3] = dataclasses.replace(bad[3], customer_name="")
    return bad


def months_back(day: dt.date, n: int) -> dt.date:
    """The same day of the month `n` months earlier (clamped to the 28th)."""
    y, m = divmod(day.year * 12 + day.month - 1 - n, 12)
    return dt.date(y, m + 1, min(day.day, 28))


def write_demo_inbox(home: Path, as_of: dt.date, *, since: dt.date, with_flaw: bool = True) -> list[Path]:
    """Write the county registers of report date `as_of` (one flawed if asked) and the recipient directory."""
    settings = load_settings(home)
    hazards = sample_hazards(as_of, settings.counties, since=since)
    written = []
    for county in settings.counties:
        mine = [h for h in hazards if h.county == county]
        if with_flaw and county == FLAWED_COUNTY:
            mine = flawed(mine, as_of)
        path = settings.inbox / county / f"{county}{as_of.year}年{as_of.month}月客户安全隐患台账.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_register(path, county, mine, as_of=as_of, style=STYLES.get(county, "canonical"), photos=True)
        written.append(path)
    write_directory(settings.directory_file, settings.counties, sample_customers(settings.counties))
    return written


def run_demo(home: Path, as_of: str | None, console: Console) -> dict:
    """Create the demo folder, run three months of intake, the bulletin and the quarterly summary."""
    from flows.bulletin import bulletin_flow
    from flows.ingest import ingest_flow
    from hazardnet.delivery.labels import MAIL_STATUS_ZH as STATUS_ZH
    from flows.quarterly import quarterly_flow
    from hazardnet.cli.intake_commands import print_ingest
    from hazardnet.cli.logs import prefect_logs_to_file
    from hazardnet.cli.progress import progress_bar
    from hazardnet.publish.quarterly import Quarter

    day = dt.date.fromisoformat(as_of) if as_of else today(load_settings(home))
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HAZARDNET_SETTLE_SECONDS", "0")  # the demo's files are complete when written
    since = months_back(day, 12)
    console.print(f"演示目录：{home}")
    prefect_logs_to_file(home)
    shown = progress_bar if console.is_terminal else (lambda *a, **k: contextlib.nullcontext())
    result: dict = {}
    for back in range(MONTHS - 1, -1, -1):
        month_day = months_back(day, back) if back else day
        files = write_demo_inbox(home, month_day, since=since, with_flaw=back == 0)
        console.print(f"\n[bold]{month_day:%Y年%m月}[/]：{len(files)} 个县(市)报送台账（基准日 {month_day}）")
        with shown(f"导入 {month_day:%Y年%m月}台账"):
            result = ingest_flow(home=str(home), as_of=month_day.isoformat())
        if back == 0:
            print_ingest(result)
        else:
            console.print("，".join(f"{f['county']} {f['rows']} 条" for f in result["files"]))
    summary: dict = {"ingest": result}
    month = f"{day:%Y-%m}"
    with shown("发送月度通报"):
        deliveries = bulletin_flow(home=str(home), month=month, as_of=day.isoformat())
    summary["bulletin"] = deliveries
    sent = deliveries.get("deliveries", [])
    by_status: dict[str, int] = {}
    for d in sent:
        by_status[d["status"]] = by_status.get(d["status"], 0) + 1
    console.print(f"\n{month} 月度通报：{len(sent)} 个收件单位（" +
                  "，".join(f"{STATUS_ZH.get(k, k)} {v}" for k, v in sorted(by_status.items())) + "）")
    mail_dir = home / "outbox" / "mail"
    console.print(f"邮件：{mail_dir if not os.environ.get('HAZARDNET_SMTP_HOST') else '已经 SMTP 发出'}")
    quarter = Quarter.containing(day).previous()
    with shown("生成季度汇总"):
        quarterly = quarterly_flow(home=str(home), quarter=quarter.label, send=True, as_of=day.isoformat())
    summary["quarterly"] = quarterly
    total = quarterly["figures"][-1]
    console.print(f"{quarter.label} 季度汇总（数据截至 {day}）：本季度新发现 {total['found']} 项，"
                  f"报告已整改 {total['remediated']} 项，季末未整改 {total['open_at_end']} 项")
    decks = sum(1 for b in quarterly["workbooks"] if b.get("deck"))
    console.print(f"{len(quarterly['workbooks'])} 个工作簿、{decks} 份通报会PPT和工作开展情况，位于 "
                  f"{home / 'outbox' / 'quarterly' / quarter.label}")
    console.print(f"汇总台账：{result['consolidated']}")
    console.print(f"全部输出位于：{home / 'outbox'}")
    return summary

"""`hazardnet demo`: a working folder with realistic sample registers, run through the whole pipeline."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from rich.console import Console

from .sample_data import sample_customers, sample_hazards, write_directory, write_register
from .settings import load_settings, today

# Each county's clerk has habits of their own; the demo shows the reader coping with all of them.
STYLES = {"德令哈市": "canonical", "格尔木市": "variant", "茫崖市": "canonical", "乌兰县": "no_hazard_id",
          "都兰县": "variant", "天峻县": "canonical"}
FLAWED_COUNTY = "都兰县"


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


def write_demo_inbox(home: Path, as_of: dt.date) -> list[Path]:
    """Write the six county registers (one of them flawed) and the recipient directory into home/inbox/."""
    settings = load_settings(home)
    hazards = sample_hazards(as_of, settings.counties)
    written = []
    for county in settings.counties:
        mine = [h for h in hazards if h.county == county]
        if county == FLAWED_COUNTY:
            mine = flawed(mine, as_of)
        path = settings.inbox / county / f"{county}{as_of.year}年{as_of.month}月客户安全隐患台账.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_register(path, county, mine, as_of=as_of, style=STYLES.get(county, "canonical"))
        written.append(path)
    write_directory(settings.directory_file, settings.counties, sample_customers(settings.counties))
    return written


def run_demo(home: Path, as_of: str | None, console: Console) -> dict:
    """Create the demo folder, run ingest (and the monthly bulletin when available), print every output."""
    import os

    from flows.ingest import ingest_flow

    day = dt.date.fromisoformat(as_of) if as_of else today()
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HAZARDNET_SETTLE_SECONDS", "0")  # the demo's files are complete when written
    files = write_demo_inbox(home, day)
    console.print(f"演示目录：{home}")
    console.print(f"已生成 {len(files)} 个县(市)样例台账和通讯录：{home / 'inbox'}")
    result = ingest_flow(home=str(home), as_of=day.isoformat())
    from .cli import print_ingest

    print_ingest(result)
    summary = {"ingest": result}
    try:
        from flows.bulletin import bulletin_flow
    except ImportError:
        bulletin_flow = None
    if bulletin_flow is not None:
        month = f"{day:%Y-%m}"
        deliveries = bulletin_flow(home=str(home), month=month, as_of=day.isoformat())
        summary["bulletin"] = deliveries
        console.print(f"{month} 月度通报：{len(deliveries.get('deliveries', []))} 份，邮件见 {home / 'outbox' / 'mail'}")
    console.print(f"全部输出位于：{home / 'outbox'}")
    return summary

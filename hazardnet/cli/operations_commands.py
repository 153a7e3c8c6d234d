"""Operations commands: `hazardnet serve` (every deployment in one process) and `hazardnet status`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hazardnet.cli.app import HomeOpt, JsonOpt, _home, app, out
from hazardnet.jobs.schedules import served_deployments_zh


@app.command(help=f"在一个常驻进程中运行全部部署：{served_deployments_zh()}。定时按配置的时区（HAZARDNET_TIMEZONE，默认 Asia/Shanghai）。")
def serve(
    home: HomeOpt = None,
    poll_minutes: Annotated[float, typer.Option("--poll-minutes", help="收件箱（及邮箱）轮询间隔（分钟）。")] = 5.0,
) -> None:
    """Serve every deployment in one long-running process (the help lists them: hazardnet/jobs/schedules.py)."""
    from flows.deployments import serve_all
    from flows.mail_intake import mailbox_configured
    from hazardnet.cli.logs import prefect_logs_to_file

    home_dir = _home(home, create=True)  # the inbox's poller sets a new home up, as ingest does
    prefect_logs_to_file(home_dir)
    if not mailbox_configured(home_dir):
        out.print("未配置收件邮箱：不轮询邮箱（设置 HAZARDNET_IMAP_HOST 等后重新启动即可轮询）。")
        sys.stdout.flush()  # seen at once in a log file, not when the buffer fills
    serve_all(home_dir, poll_minutes)


@app.command()
def status(home: HomeOpt = None, json_: JsonOpt = False,
           limit: Annotated[int, typer.Option("--limit", min=1, help="显示本工作目录最近几次运行。")] = 10) -> None:
    """不打开界面查看：最近的运行、收件箱中等待的文件、尚未重新报送的退回文件、下一次定时运行。"""
    import json

    from rich.table import Table

    from hazardnet.delivery.labels import run_state
    from hazardnet.intake.inbox import last_submissions, pending_rejections, waiting_files
    from hazardnet.settings import load_settings
    from hazardnet.store import Store

    settings = load_settings(_home(home))
    store = Store(settings.database_url)
    try:
        waiting = waiting_files(settings)
        pending = pending_rejections(store, settings.timezone)
        latest = last_submissions(store, settings)
    finally:
        store.dispose()
    try:
        from flows.run_status import flow_runs
        from hazardnet.cli.logs import prefect_logs_to_file

        prefect_logs_to_file(_home(home))  # Prefect's "Starting temporary server …" lines, without a server URL
        past, upcoming = flow_runs(_home(home), limit)
        runs_error = None
    except Exception as exc:  # noqa: BLE001 - the status page must work without a Prefect server
        past, upcoming, runs_error = [], [], f"无法读取 Prefect 运行记录：{type(exc).__name__}"
    if json_:
        print(json.dumps({
            "last_runs": past, "next_runs": upcoming, "runs_error": runs_error,
            "waiting": [w.__dict__ for w in waiting],
            "rejected_pending": [{k: (str(v) if k == "received_at" else v) for k, v in r.items()}
                                 for r in pending.to_dict("records")],
            "counties": [{**c, "as_of": c["as_of"].isoformat() if c["as_of"] else None} for c in latest],
        }, ensure_ascii=False, indent=1))
        return

    t = Table(title="最近的运行")
    for col in ("流程", "运行", "状态", "时间", "说明"):
        t.add_column(col)
    for r in past:
        t.add_row(r["flow"], r["run"], run_state(r["state"]), r["time"], r["message"][:60])
    out.print(t if past else (runs_error or "尚无运行记录。"))
    t = Table(title="各县(市)最近一次被接收的台账")
    for col in ("县(市)", "文件", "基准日", "隐患条数"):
        t.add_column(col)
    for c in latest:
        t.add_row(c["county"], c["file_name"] or "（尚未报送）", str(c["as_of"] or ""), str(c["rows"]))
    out.print(t)
    if waiting:
        t = Table(title="收件箱中等待导入的文件")
        for col in ("县(市)", "文件", "状态"):
            t.add_column(col)
        for w in waiting:
            t.add_row(w.county, w.name, "可导入" if w.settled else "仍在写入，稍后导入")
        out.print(t)
    else:
        out.print("收件箱中没有等待导入的文件。")
    if len(pending):
        t = Table(title="已退回、尚未重新报送的台账")
        for col in ("县(市)", "文件", "退回时间", "问题数", "问题报告"):
            t.add_column(col)
        for r in pending.itertuples():
            t.add_row(r.county, r.file_name, str(r.received_at)[:16], str(r.problems), r.report)
        out.print(t)
    else:
        out.print("没有待重新报送的退回台账。")
    if upcoming:
        t = Table(title="下一次定时运行")
        for col in ("流程", "运行", "计划时间"):
            t.add_column(col)
        for r in upcoming:
            t.add_row(r["flow"], r["run"], r["time"])
        out.print(t)

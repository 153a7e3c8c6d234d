"""The ingest job (导入县公司隐患台账): inbox → store → consolidated register, the rejected registers' reports
mailed back to their county. One sequence: the flow runs it with Prefect's runner, tests and the bench with
the plain one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from hazardnet.intake.inbox import InboxFile, ensure_inbox, settled_files
from hazardnet.intake.reader import WorkbookReaderPool
from hazardnet.intake.transaction import FileOutcome, IngestResult, Intake, group_by_county, ingest_lock
from hazardnet.jobs.runner import PlainRunner, RetryPolicy, Runner
from hazardnet.publish.consolidated import write_consolidated_register
from hazardnet.publish.register_stream import RegisterStream
from hazardnet.settings import Settings
from hazardnet.store import Store
from schemas.vocab import PARTY_UTILITY


def ingest(settings: Settings, as_of: dt.date, *, runner: Runner | None = None, store: Store | None = None,
           on_file: Callable[[FileOutcome], None] | None = None, mail_rejections: bool = True) -> IngestResult:
    """Ingest every settled workbook in the inbox (a county's files in the order they arrived, counties in
    parallel), rewrite the consolidated register, and mail each rejected register's report to its county."""
    runner = runner or PlainRunner(RetryPolicy.of(settings))
    ensure_inbox(settings)  # a new home: its folders (and the store's) come first
    own_store = store is None
    store = store or Store(settings.database_url)
    stream: RegisterStream | None = None
    try:
        with ingest_lock(settings), WorkbookReaderPool(settings) as reader:
            intake = Intake(settings, store, as_of, reader)
            try:
                files, still_copying = runner.step("扫描收件箱", waiting_files, settings, runner)
                runner.progress("total", n=len(files))
                groups = group_by_county(files)
                # the register's county order: its writer takes each county as soon as its files are done
                rank = {c: i for i, c in enumerate(settings.counties)}
                ordered = [item for county in sorted(groups, key=lambda c: (rank.get(c, len(rank)), c))
                           for item in groups[county]]
                if files:
                    stream = RegisterStream(settings, as_of, {c: len(items) for c, items in groups.items()})

                def ingested_workbook(item: InboxFile) -> FileOutcome:
                    """Accept, reject or mark as duplicate one county workbook."""
                    outcome = intake.ingest_file(item)
                    if stream is not None:
                        stream.file_done(item.county, outcome.outcome == "accepted")
                    runner.progress("advance", label=f"{item.county}：{item.path.name}")
                    runner.info("%s %s: %s, %d rows, %d findings", item.county, item.path.name, outcome.outcome,
                                outcome.rows, len(outcome.findings))
                    if on_file:
                        on_file(outcome)
                    return outcome

                # two files in flight per core: one being parsed or checked in a child, one stored here
                outcomes = runner.each("导入台账", ingested_workbook, ordered,
                                       label=lambda i: f"导入 {i.county}：{i.path.name}",
                                       in_order=lambda i: i.county, threads=2 * max(1, settings.workers))
            finally:
                intake.close()  # the register check workers of a big run stop now, not when collected
            path, rewritten = runner.step("生成汇总台账", write_consolidated_register, store, settings, as_of, stream)
        result = IngestResult([o for o in outcomes if o.outcome != "skipped"], str(path), rewritten,
                              waiting=[{"county": f.county, "file": f.path.name, "path": str(f.path)}
                                       for f in still_copying])
        if mail_rejections and any(f.outcome == "rejected" for f in result.files):
            result.rejection_mail = runner.step(
                "邮寄退回报告", rejection_reports, settings, store, result, as_of, runner, io=True,
                on_error=lambda exc: rejection_mail_failed(result, exc))
        return result
    finally:
        if stream is not None:
            stream.close()  # a run that failed half-way stops its register writer
        if own_store:
            store.dispose()


def waiting_files(settings: Settings, runner: Runner) -> tuple[list[InboxFile], list[InboxFile]]:
    """List the workbooks waiting in inbox/<county>/, after waiting (bounded) for those still being copied in:
    (settled, still being copied)."""
    def told(moving: list[InboxFile]) -> None:
        runner.progress("waiting", n=len(moving), files=[f"{f.county}/{f.path.name}" for f in moving])
        runner.info("waiting for %d file(s) still being written", len(moving))

    return settled_files(settings, on_wait=told)


def rejection_reports(settings: Settings, store: Store, result: IngestResult, as_of: dt.date,
                      runner: Runner) -> list[dict]:
    """Mail every rejected register's error report to its county's supply company, and text them (once each)."""
    from hazardnet.delivery.rejection_mail import send_rejection_reports  # only a run with a rejection pays for it
    from hazardnet.jobs.wiring import mail_transport, sms_transport

    return send_rejection_reports(settings, store, result, mail_transport(settings, runner.secret), as_of=as_of,
                                  raise_on_temporary=True, sms=sms_transport(settings, runner.secret))


def rejection_mail_failed(result: IngestResult, exc: BaseException) -> list[dict]:
    """A mail problem never fails the ingest: each rejected file's report is recorded as not mailed."""
    reason = getattr(exc, "reason", None) or str(exc) or "发送失败"
    return [{"recipient": f"{f.county}供电企业", "party": PARTY_UTILITY, "county": f.county, "customer_id": None,
             "addresses": [], "attachment": Path(f.report).name if f.report else None, "status": "failed", "rows": 0,
             "error": reason, "file": Path(f.path).name}
            for f in result.files if f.outcome == "rejected"]

"""The self-check (预检): a county clerk's register read and checked exactly as the intake would — the same
findings and the same problem report — and nothing stored, archived or counted. Used by `hazardnet check FILE
--county 格尔木市` and by a mail whose subject says 预检.

The findings include what the intake adds from the store (`intake/extensions.py`): a 整改期限 moved later than the
county's last accepted register (or the meeting's commitment) without 延期原因 / 延期批准, a 整改期限 left blank that
keeps an earlier date — the warnings a clerk most wants before sending. They are read from the home's store when it
has one; a home without a store (no register accepted yet) is left without one."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hazardnet.intake.check_pool import CheckPool
from hazardnet.intake.error_report import write_error_report
from hazardnet.intake.findings import ERROR, Finding, file_finding
from hazardnet.intake.inbox import REPORT_SUFFIX
from hazardnet.intake.reader import WorkbookReaderPool
from hazardnet.intake.sheet import RegisterSheet
from hazardnet.intake.transaction import UnreadableWorkbook, examine, safe_name, snapshot
from hazardnet.settings import Settings


@dataclass
class CheckResult:
    """What the intake would say of one file."""

    file_name: str
    county: str
    findings: list[Finding] = field(default_factory=list)
    rows: int = 0
    report: str | None = None  # the problem report, when the file would be rejected

    @property
    def passed(self) -> bool:
        return not any(f.level == ERROR for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level != ERROR]

    def as_json(self) -> dict:
        return {"file": self.file_name, "county": self.county, "passed": self.passed, "rows": self.rows,
                "errors": len(self.errors), "warnings": len(self.warnings),
                "findings": [f.as_json() for f in self.findings], "report": self.report}


def check_register(settings: Settings, path: Path, county: str, as_of: dt.date, report_dir: Path,
                   file_name: str | None = None) -> CheckResult:
    """Check `path` as a register of `county` would be checked at intake; the problem report (when it would be
    rejected) is written into `report_dir`. Touches neither the store, nor the inbox, nor the archive."""
    name = file_name or path.name
    result = CheckResult(name, county)
    if county not in settings.counties:
        result.findings = [file_finding(f"“{county}”不是已配置的县(市)，无法确定报送单位。请指定"
                                        f"{'、'.join(settings.counties)}之一。")]
        return _with_report(result, report_dir, None)
    staging = Path(tempfile.mkdtemp(prefix="hazardnet-check-"))
    try:
        try:
            copy, _sha, _size = snapshot(path, staging, settings.max_file_mb << 20)
        except UnreadableWorkbook as exc:
            result.findings = [file_finding(exc.reason)]
            return _with_report(result, report_dir, None)
        with WorkbookReaderPool(settings) as reader:
            checker = CheckPool(settings.workers)
            try:
                seen = examine(settings, reader, checker, copy, county, as_of)
            finally:
                checker.close()
        result.findings = seen.findings
        if not seen.rejected and isinstance(seen.parsed, RegisterSheet):
            result.findings = result.findings + _store_findings(settings, county, as_of, seen.parsed)
        result.rows = 0 if seen.parsed is None else len(seen.parsed.frame)
        return _with_report(result, report_dir, seen.sheet, settings.timezone) if seen.rejected else result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _store_findings(settings: Settings, county: str, as_of: dt.date, parsed: RegisterSheet) -> list[Finding]:
    """The intake's warnings that need the county's earlier registers (`extension_findings`); none when the home
    has no store yet — the check never creates one."""
    if not settings.db_url and not (settings.home / "hazardnet.db").is_file():
        return []
    from hazardnet.intake.extensions import extension_findings
    from hazardnet.store import Store

    store = Store(settings.database_url)
    try:
        return extension_findings(store, county, as_of, parsed)
    finally:
        store.dispose()


def _with_report(result: CheckResult, report_dir: Path, sheet, timezone: str) -> CheckResult:
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"{Path(safe_name(result.file_name)).stem}{REPORT_SUFFIX}"
    write_error_report(report, file_name=result.file_name, county=result.county, findings=result.findings,
                       sheet=sheet, timezone=timezone)
    result.report = str(report)
    return result

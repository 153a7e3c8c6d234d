"""Intake: county workbooks from inbox/<county>/ → accepted whole into the store, or rejected whole.

Every file is first copied to a private snapshot (hashing as it is copied), so what is parsed, stored
and archived is one and the same set of bytes even if the clerk overwrites the file meanwhile. The
original leaves the inbox only after the store has recorded the outcome, and a submission record is
"finalized" only after that: a crash anywhere leaves a state the next run completes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import re
import shutil
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from hazardnet.failpoints import checkpoint
from hazardnet.home_lock import home_lock
from hazardnet.intake.check_pool import CheckPool, check_in_parser
from hazardnet.intake.commitments import KIND_COMMITMENTS, CommitmentSheet, check_commitments
from hazardnet.intake.extensions import extension_findings
from hazardnet.intake.error_report import write_error_report
from hazardnet.intake.findings import Finding, file_finding, has_errors

from hazardnet.intake.inbox import ASIDE_PREFIX, INGEST_LOCK, REJECTED_DIR, REPORT_SUFFIX, InboxFile
from hazardnet.intake.reader import Followed, SheetGrid, UnreadableWorkbook, WorkbookGrid, WorkbookReaderPool
from hazardnet.intake.records import RecordSheet, unknown_customer_findings
from hazardnet.intake.sheet import RegisterSheet
from hazardnet.settings import Settings
from hazardnet.store import COMMITMENTS_OUTCOME, Store
from hazardnet.intake.photos import Picture, attach_pictures
from schemas.customer_file import KIND_CUSTOMERS, KIND_DRILLS

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASIDE = ASIDE_PREFIX  # an original renamed aside while it is checked and deleted
# a register up to this size is checked in the parser process (a 300-row register is ~30 kB); a bigger one
# is checked here (or by a check worker), as its check needs more memory than the parser's cap is meant for
PARSER_CHECKS_UP_TO = 4 << 20
# from which file of a run on the parser process checks: from the first, since the parser processes fork
# from a server that has pandas and pandera imported and warmed up already (reader._mp_context), so the
# ingesting process never needs pandera for registers of ordinary size (tests set it higher)
PARSER_CHECKS_FROM = 0
_NAME_BYTES = 160  # a kept name gets a date/hash prefix or a report suffix: stay under NAME_MAX (255)


class IntakeError(Exception):
    """The run itself could not proceed (not a county's bad file): one clear line for the operator."""


@dataclass
class FileOutcome:
    """What happened to one file."""

    path: str
    county: str
    outcome: str  # accepted | rejected | duplicate | commitments (a meeting's commitment table, accepted)
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    kept_at: str | None = None
    report: str | None = None
    kind: str = "register"  # register | customers (客户档案) | drills (联合应急演练记录) | commitments (整改承诺表)

    def as_json(self) -> dict:
        return {"path": self.path, "county": self.county, "outcome": self.outcome, "rows": self.rows,
                "findings": [f.as_json() for f in self.findings], "kept_at": self.kept_at,
                "report": self.report, "kind": self.kind}


@dataclass
class IngestResult:
    files: list[FileOutcome]
    consolidated: str | None
    consolidated_rewritten: bool = False
    rejection_mail: list[dict] = field(default_factory=list)  # the rejected registers' reports mailed back
    waiting: list[dict] = field(default_factory=list)  # files still being copied in, left for a later run

    def as_json(self) -> dict:
        return {"files": [f.as_json() for f in self.files], "consolidated": self.consolidated,
                "waiting": self.waiting}


def ingest_lock(settings: Settings, timeout_s: float = 600.0):
    """One ingest at a time per home folder (a schedule overlapping a manual run waits its turn)."""
    return home_lock(settings.home, INGEST_LOCK, timeout_s=timeout_s,
                     busy=IntakeError("另一个导入任务仍在运行，本次未执行，请稍后重试。"))


# ---- helpers for keeping originals ---------------------------------------------------------
def safe_name(name: str) -> str:
    """A file name without control characters or path separators, for the archive and rejected folders."""
    cleaned = _CONTROL.sub("_", name).replace("/", "_").replace("\\", "_").strip()
    if len(cleaned.encode()) > _NAME_BYTES:  # keep the extension, shorten the stem
        stem, ext = os.path.splitext(cleaned)
        if len(ext) > 8:
            stem, ext = cleaned, ""
        cleaned = stem.encode()[:_NAME_BYTES - len(ext.encode())].decode(errors="ignore") + ext
    return cleaned if cleaned not in ("", ".", "..") else "未命名文件"


def snapshot(path: Path, staging: Path, max_bytes: int) -> tuple[Path, str, int]:
    """Copy `path` into the staging folder, hashing on the way. Returns (copy, sha256, size)."""
    staging.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    tmp = staging / f"{os.getpid()}-{time.monotonic_ns()}.part"
    size = 0
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        before = os.fstat(src.fileno())
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                dst.close()
                tmp.unlink(missing_ok=True)
                raise UnreadableWorkbook(f"文件过大（超过 {max_bytes // (1 << 20)} MB），请删除无关内容后重新报送。")
            h.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
        after = os.fstat(src.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or size != after.st_size:
        tmp.unlink(missing_ok=True)  # written to while we read it: not settled, the next run takes it
        raise FileNotFoundError(path)
    return tmp, h.hexdigest(), size


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def _unique(path: Path, sha: str | None) -> Path:
    """`path`, or a timestamped sibling when a different file already has that name."""
    if not path.exists() or (sha is not None and _sha256(path) == sha):
        return path
    return path.with_name(f"{path.stem}_{dt.datetime.now():%Y%m%d%H%M%S%f}{path.suffix}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(src: Path, dst: Path) -> None:
    """Atomically put `src` (a staging copy) at `dst`."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    _fsync_dir(dst.parent)


def _remove_original(path: Path, sha: str | None) -> None:
    """Take the original out of the inbox, unless it was replaced by a new version meanwhile.

    The name is first renamed aside (atomically), so a new version saved under the same name at any
    moment is never the file deleted: the set-aside file is deleted only if it holds the ingested
    bytes, else it goes back. A crash in between is repaired by `Intake.recover`."""
    if path.is_symlink() or sha is None:
        path.unlink(missing_ok=True)
        return
    aside = path.with_name(f"{_ASIDE}{os.getpid()}-{time.monotonic_ns()}-{path.name}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    except OSError:  # e.g. a name too long to prefix: check, then delete
        if _sha256(path) == sha:
            path.unlink(missing_ok=True)
        return
    checkpoint("original_set_aside", path=path)
    if _sha256(aside) == sha:
        aside.unlink()
    else:
        _put_back(aside, path)


def _put_back(aside: Path, path: Path) -> None:
    """Return a set-aside file to the inbox under its name, or a free sibling name if a newer file took it."""
    target = path
    while True:
        try:
            os.link(aside, target)  # fails rather than overwrite
            break
        except FileExistsError:
            target = path.with_name(f"{path.stem}_{dt.datetime.now():%Y%m%d%H%M%S%f}{path.suffix}")
        except OSError:  # a file system without hard links
            if not target.exists():
                os.rename(aside, target)
                return
            target = path.with_name(f"{path.stem}_{dt.datetime.now():%Y%m%d%H%M%S%f}{path.suffix}")
    aside.unlink()


# ---- the intake of one file ----------------------------------------------------------------
class Intake:
    """Ingests files one at a time (thread-safe across counties); owns the reader pool."""

    def __init__(self, settings: Settings, store: Store, as_of: dt.date, reader: WorkbookReaderPool):
        self.settings = settings
        self.store = store
        self.as_of = as_of
        self.reader = reader
        self.staging = settings.home / ".staging"
        self._files = itertools.count()  # files parsed so far (next() is atomic)
        self.checker = CheckPool(settings.workers)  # normalize + validate on every core on big runs
        # Files worked on at once, however many threads call in (a flow runs one task per workbook, all
        # at once): two per core keep the parsers and checkers busy; more only contend for the interpreter
        # and the store's connection pool.
        self._slots = threading.BoundedSemaphore(2 * max(1, settings.workers))
        self.recover()

    def close(self) -> None:
        """Stop the register check workers, if a big run started them (also done when garbage-collected)."""
        self.checker.close()

    def recover(self) -> None:
        """Finish what a killed run left half done. Runs under the ingest lock, before any file."""
        for part in self.staging.glob("*.part"):  # snapshots of files a killed run was reading
            part.unlink(missing_ok=True)
        for tmp in self.settings.inbox.glob(f"*/{REJECTED_DIR}/.tmp-*"):  # half-written error reports
            shutil.rmtree(tmp, ignore_errors=True)
        if self.settings.inbox.is_dir():
            for aside in self.settings.inbox.glob(f"*/{_ASIDE}*"):
                sha = _sha256(aside)
                if sha is not None and self.store.find_submission(aside.parent.name, sha) is not None:
                    aside.unlink(missing_ok=True)  # the ingested original: recorded, and its bytes kept
                else:  # a newer version saved meanwhile: back to the inbox for this run
                    _put_back(aside, aside.with_name(aside.name[len(_ASIDE):].split("-", 2)[-1]))
        for sub in self.store.unfinalized():
            if not sub["sha256"]:  # an unread file's rejection: did the entry reach rejected/?
                kept = Path(sub["kept_at"])
                if os.path.lexists(kept):
                    self.store.finalize(sub["id"])
                else:  # killed before the move: the entry is still in the inbox and is handled afresh
                    kept.with_name(f"{kept.stem}{REPORT_SUFFIX}").unlink(missing_ok=True)
                    self.store.discard_unfinalized(sub["id"])
            elif _sha256(self.settings.inbox / sub["county"] / sub["file_name"]) != sub["sha256"]:
                self.store.finalize(sub["id"])  # recorded, and its original has left the inbox
        for rec in self.store.unfinalized_record_files():  # the same for a customer file or drills workbook
            if _sha256(self.settings.inbox / rec["county"] / rec["file_name"]) != rec["sha256"]:
                self.store.finalize_record_file(rec["id"])

    def ingest_file(self, item: InboxFile) -> FileOutcome:
        """Accept, reject or mark as duplicate one inbox file; never raises for a bad file."""
        with self._slots:
            return self._ingest_file(item)

    def _ingest_file(self, item: InboxFile) -> FileOutcome:
        path, county = item.path, item.county
        checkpoint("between_files")
        if path.is_symlink():
            return self._reject_unread(item, "文件是一个快捷方式/链接（可能指向收件箱以外），不是台账文件本身，已拒收。")
        if county not in self.settings.counties:
            return self._reject_unread(item, f"文件夹“{county}”不是已配置的县(市)，无法确定报送单位。请放入"
                                             f"{'、'.join(self.settings.counties)}之一的文件夹。")
        try:
            copy, sha, size = snapshot(path, self.staging, self.settings.max_file_mb << 20)
        except UnreadableWorkbook as exc:
            return self._reject_unread(item, exc.reason)
        except FileNotFoundError:
            return FileOutcome(str(path), county, "skipped")
        checkpoint("after_snapshot", path=path)
        try:
            return self._ingest_snapshot(item, copy, sha, size)
        finally:
            copy.unlink(missing_ok=True)

    def _ingest_snapshot(self, item: InboxFile, copy: Path, sha: str, size: int = 0) -> FileOutcome:
        path, county = item.path, item.county
        before = self.store.submissions_of(county, sha)
        pending = next((s for s in before if not s["finalized"]), None)
        if pending is not None:  # a previous run recorded it and stopped before removing the original
            _remove_original(path, sha)
            self.store.finalize(pending["id"])
            return FileOutcome(str(path), county, pending["outcome"], pending["rows"], [], pending["kept_at"],
                               kind=KIND_COMMITMENTS if pending["outcome"] == COMMITMENTS_OUTCOME else "register")
        if any(s["outcome"] in ("accepted", COMMITMENTS_OUTCOME) for s in before):
            kept = _unique(self._archive_path(county, sha, path.name), sha)
            _place(copy, kept)  # atomic: the accepted original may already be at `kept`
            checkpoint("after_duplicate_keep")
            finding = file_finding("与已接收的文件内容完全相同，未重复导入。", level="warning")
            sub = self.store.record_submission(county=county, file_name=path.name, sha256=sha, as_of=self.as_of,
                                               outcome="duplicate", findings=[finding.as_json()], kept_at=str(kept))
            checkpoint("after_record")
            _remove_original(path, sha)
            checkpoint("after_remove")
            self.store.finalize(sub)
            kind = KIND_COMMITMENTS if any(s["outcome"] == COMMITMENTS_OUTCOME for s in before) else "register"
            return FileOutcome(str(path), county, "duplicate", 0, [finding], str(kept), kind=kind)

        # The parser process checks the register too, so the grid never travels here (and back to a check
        # worker); a big file is checked by self.checker
        in_parser = next(self._files) >= PARSER_CHECKS_FROM and size <= PARSER_CHECKS_UP_TO
        seen = examine(self.settings, self.reader, self.checker, copy, county, self.as_of, in_parser=in_parser)
        if isinstance(seen.parsed, CommitmentSheet):
            return self._commitments(item, copy, sha, seen.parsed, seen.sheet)
        if isinstance(seen.parsed, RecordSheet):  # a customer file or a drills workbook
            return self._ingest_records(item, copy, sha, seen.parsed, seen.findings, seen.sheet)
        if seen.rejected:
            return self._reject(item, copy, sha, seen.findings, seen.sheet)
        findings = seen.findings + extension_findings(self.store, county, self.as_of, seen.parsed)
        return self._accept(item, copy, sha, seen.parsed, findings, seen.photos)

    def _commitments(self, item: InboxFile, copy: Path, sha: str, table: CommitmentSheet,
                     sheet) -> FileOutcome:
        """A meeting's commitment table: accepted whole (each commitment stored) or rejected with findings."""
        rows, findings = check_commitments(self.store, table, item.county, self.settings.counties, self.as_of)
        if has_errors(findings):  # stored as a register's rejection (a submission), told apart by its kind
            outcome = self._reject(item, copy, sha, findings, sheet)
            outcome.kind = KIND_COMMITMENTS
            return outcome
        kept = _unique(self._archive_path(item.county, sha, item.path.name), sha)
        _place(copy, kept)
        checkpoint("after_archive")
        sub = self.store.record_commitments(county=item.county, file_name=item.path.name, sha256=sha,
                                            as_of=self.as_of, findings=[f.as_json() for f in findings],
                                            kept_at=str(kept), rows=rows)
        checkpoint("after_record")
        _remove_original(item.path, sha)
        checkpoint("after_remove")
        self.store.finalize(sub)
        return FileOutcome(str(item.path), item.county, COMMITMENTS_OUTCOME, len(rows), findings, str(kept),
                           kind=KIND_COMMITMENTS)

    def _archive_path(self, county: str, sha: str, name: str) -> Path:
        return self.settings.archive / county / f"{self.as_of:%Y%m%d}_{sha[:12]}_{safe_name(name)}"

    def _accept(self, item: InboxFile, copy: Path, sha: str, parsed: RegisterSheet,
                findings: list[Finding], photos: list[tuple[str, Picture]] = ()) -> FileOutcome:
        kept = _unique(self._archive_path(item.county, sha, item.path.name), sha)
        _place(copy, kept)
        checkpoint("after_archive")
        sub = self.store.record_submission(county=item.county, file_name=item.path.name, sha256=sha,
                                           as_of=self.as_of, outcome="accepted",
                                           findings=[f.as_json() for f in findings], kept_at=str(kept),
                                           rows=parsed.frame, photos=photos)
        checkpoint("after_record")
        _remove_original(item.path, sha)
        checkpoint("after_remove")
        self.store.finalize(sub)
        return FileOutcome(str(item.path), item.county, "accepted", len(parsed.frame), findings, str(kept))

    def _ingest_records(self, item: InboxFile, copy: Path, sha: str, parsed: RecordSheet, findings: list[Finding],
                        sheet) -> FileOutcome:
        """A customer file or drills workbook: accepted whole (a new version of the county's file), rejected
        whole with its error report, or a duplicate of the accepted version with the same bytes."""
        kind, county, path = parsed.kind, item.county, item.path
        pending = self.store.find_record_file(kind, county, sha, finalized=False)
        if pending is not None:  # recorded by a run that stopped before taking the original out
            _remove_original(path, sha)
            self.store.finalize_record_file(pending["id"])
            return FileOutcome(str(path), county, pending["outcome"], pending["rows"], [], pending["kept_at"],
                               kind=kind)
        if has_errors(findings):
            outcome = self._reject(item, copy, sha, findings, sheet, kind=kind)
            outcome.kind = kind
            return outcome
        duplicate = self.store.find_record_file(kind, county, sha, outcome="accepted") is not None
        if kind == KIND_DRILLS and not duplicate:  # the customer file as accepted so far (none: no warning)
            customers = self.store.records_as_of(KIND_CUSTOMERS, self.as_of, [county]).get(county)
            findings = findings + unknown_customer_findings(parsed, customers)
        kept = _unique(self._archive_path(county, sha, path.name), sha)
        _place(copy, kept)
        checkpoint("after_archive")
        if duplicate:
            findings = [file_finding("与已接收的文件内容完全相同，未重复导入。", level="warning")]
        file_id = self.store.record_file(kind=kind, county=county, file_name=path.name, sha256=sha, as_of=self.as_of,
                                         outcome="duplicate" if duplicate else "accepted",
                                         findings=[f.as_json() for f in findings], kept_at=str(kept),
                                         rows=None if duplicate else parsed.rows)
        checkpoint("after_record")
        _remove_original(path, sha)
        checkpoint("after_remove")
        self.store.finalize_record_file(file_id)
        return FileOutcome(str(path), county, "duplicate" if duplicate else "accepted",
                           0 if duplicate else len(parsed.rows), findings, str(kept), kind=kind)

    def _rejected_dir(self, item: InboxFile) -> Path:
        return item.path.parent / REJECTED_DIR

    def _reject(self, item: InboxFile, copy: Path | None, sha: str | None, findings: list[Finding],
                sheet: SheetGrid | None, kind: str = "register") -> FileOutcome:
        folder = self._rejected_dir(item)
        kept = _unique(folder / safe_name(item.path.name), sha)
        report = kept.with_name(f"{kept.stem}{REPORT_SUFFIX}")
        write_error_report(report, file_name=item.path.name, county=item.county, findings=findings, sheet=sheet,
                           timezone=self.settings.timezone)
        checkpoint("after_report")
        record = dict(county=item.county, file_name=item.path.name, sha256=sha or "", as_of=self.as_of,
                      outcome="rejected", findings=[f.as_json() for f in findings], kept_at=str(kept))
        if copy is not None and kind != "register":  # a customer file or drills workbook: its own versions
            _place(copy, kept)
            checkpoint("after_reject_keep")
            file_id = self.store.record_file(kind=kind, **record)
            checkpoint("after_record")
            _remove_original(item.path, sha)
            checkpoint("after_remove")
            self.store.finalize_record_file(file_id)
            return FileOutcome(str(item.path), item.county, "rejected", 0, findings, str(kept), str(report), kind)
        if copy is not None:
            _place(copy, kept)
            checkpoint("after_reject_keep")
            sub = self.store.record_submission(**record)
            checkpoint("after_record")
            _remove_original(item.path, sha)
        else:  # unreadable or a link: no copy to keep first, so the record comes first and the entry itself
            # moves after it; `recover` drops a record whose entry never moved (see there)
            sub = self.store.record_submission(**record)
            checkpoint("after_record")
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(item.path, kept)
            checkpoint("after_reject_keep")
        checkpoint("after_remove")
        self.store.finalize(sub)
        return FileOutcome(str(item.path), item.county, "rejected", 0, findings, str(kept), str(report))

    def _reject_unread(self, item: InboxFile, reason: str) -> FileOutcome:
        return self._reject(item, None, None, [file_finding(reason)], None)


@dataclass
class Examination:
    """What reading and checking one workbook found (nothing stored, nothing moved)."""

    findings: list[Finding]
    parsed: RegisterSheet | None = None  # the register sheet, when the workbook has one
    sheet: SheetGrid | None = None  # the grid the error report copies (failing cells in red)
    photos: list = field(default_factory=list)  # (hazard_id, Picture) of an acceptable register

    @property
    def rejected(self) -> bool:
        return self.parsed is None or has_errors(self.findings)


def examine(settings: Settings, reader: WorkbookReaderPool, checker: CheckPool, copy: Path, county: str,
            as_of: dt.date, *, in_parser: bool = True) -> Examination:
    """Read, parse and check one workbook as the intake does: the findings, the register sheet and its
    photos. Used by the intake and by the self-check (`hazardnet check`, a 预检 mail), which stores nothing."""
    check_args = (county, settings.counties, as_of, settings.severities)
    then = (check_in_parser, check_args) if in_parser else None
    try:
        got = reader.submit(copy, then=then).result()
    except UnreadableWorkbook as exc:
        return Examination([file_finding(exc.reason)])
    scan = got.photos
    if isinstance(got, Followed) and got.error is None:
        book, (parsed, findings) = got.book, got.value
    else:
        book = got.book if isinstance(got, Followed) else got
        if book is not None:
            book.photos = None  # the pictures stay here: a check worker process needs the cells only
        parsed, findings = checker.check(book, *check_args)
    if isinstance(parsed, Finding):
        return Examination([parsed], sheet=book.sheets[0] if book and book.sheets else None)
    if isinstance(parsed, (CommitmentSheet, RecordSheet)):  # a commitment table, a customer file, a drills workbook
        return Examination(findings, parsed, next((s for s in book.sheets if s.name == parsed.sheet), None)
                           if book else None)
    if not len(parsed.frame) and not has_errors(findings):
        findings.append(file_finding("台账中没有任何隐患记录（表头以下为空），请填写后重新报送。", sheet=parsed.sheet))
    if has_errors(findings):
        sheet = next((s for s in book.sheets if s.name == parsed.sheet), None) if book else None
        return Examination(findings, parsed, sheet)
    frame = parsed.frame
    linked, photo_findings = attach_pictures(scan, parsed.sheet, frame["_row"].tolist(),
                                             frame["hazard_id"].tolist())
    return Examination(findings + photo_findings, parsed, None, linked)


def group_by_county(files: list[InboxFile]) -> dict[str, list[InboxFile]]:
    """Files per county, oldest first, so a county's submissions are stored in the order they came."""
    groups: dict[str, list[InboxFile]] = defaultdict(list)
    for f in files:
        groups[f.county].append(f)
    for items in groups.values():
        items.sort(key=lambda f: (_mtime(f.path), f.path.name))
    return dict(groups)


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0

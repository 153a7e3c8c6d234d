"""Paper copies (纸质版): the printed workbooks as PDF, converted by LibreOffice headless.

The 1+1+1 agreement hands the government authority the month's hazards on paper, and the quarterly handout is
printed for the briefing meeting. The workbooks carry the print set-up (A4, or A3 landscape for the wide lists:
xlsx.style.paper_for; the recipient in the page header, 第 N 页，共 M 页 in the footer, wrapped rows tall enough —
xlsx/row_height.py); each copy is written afresh in the paper layout (publish.bulletin PAPER_LEFT_OUT,
publish.quarterly_workbook OVERDUE_PAPER_LEFT_OUT: what paper cannot use left out, so the text prints at 8 pt or
more) and LibreOffice prints it to PDF as a recipient or a print room would.

- One private LibreOffice profile per converter (`-env:UserInstallation`), so a desktop LibreOffice or a
  second run never shares a profile (LibreOffice would hand the job to the other instance, or refuse);
  conversions run one at a time per converter; each has a timeout, after which its process group is killed.
- A failed conversion is reported by name and the others go on; no LibreOffice at all is `PaperUnavailable`,
  a one-line Chinese message saying what to install.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from schemas.vocab import PARTY_GOV

from hazardnet import rules
from hazardnet.delivery.directory import Recipient
from hazardnet.delivery.letter import safe_file_name
from hazardnet.publish.bulletin import BulletinRun, bulletin_sections, recipient_notes, write_bulletin_workbook
from hazardnet.publish.quarterly import QuarterlySummary
from hazardnet.publish.quarterly_workbook import QuarterlyWorkbook, write_quarterly_workbook
from hazardnet.settings import Settings

PAPER_DIR = "纸质版"
INSTALL_HINT = "apt-get install libreoffice-calc-nogui fonts-noto-cjk"
UNAVAILABLE = f"未找到 LibreOffice（soffice），无法生成纸质版 PDF；请安装：{INSTALL_HINT}"


class PaperUnavailable(RuntimeError):
    """LibreOffice is not installed (or the configured soffice does not exist)."""

    def __init__(self, message: str = UNAVAILABLE):
        super().__init__(message)


class ConversionFailed(RuntimeError):
    """One workbook could not be converted; the message says why, in Chinese."""


def find_soffice(settings: Settings | None = None) -> str:
    """The soffice executable: HAZARDNET_SOFFICE (settings.soffice) or soffice/libreoffice on PATH."""
    configured = settings.soffice if settings is not None else None
    if configured:
        found = shutil.which(str(configured))
        if found:
            return found
        raise PaperUnavailable(f"配置的 LibreOffice 程序“{configured}”不存在或不可执行；请安装：{INSTALL_HINT}")
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise PaperUnavailable()


class PaperConverter:
    """Converts workbooks to PDF with one private LibreOffice profile, one conversion at a time."""

    def __init__(self, soffice: str, *, timeout_s: float = 180.0):
        self.soffice = soffice
        self.timeout_s = timeout_s
        self.root = Path(tempfile.mkdtemp(prefix="hazardnet-paper-"))
        self.profile = self.root / "profile"
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> PaperConverter:
        """A converter for the configured (or installed) LibreOffice; PaperUnavailable without one."""
        return cls(find_soffice(settings), timeout_s=settings.paper_timeout_s)

    def __enter__(self) -> PaperConverter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def convert(self, workbook: Path, pdf: Path) -> Path:
        """Write `workbook` as PDF at `pdf` (complete or not at all). ConversionFailed with the reason."""
        pdf = Path(pdf)
        with self._lock:
            job = Path(tempfile.mkdtemp(prefix="job-", dir=self.root))
            try:
                # a plain name: soffice names its output after its input; a .docx (a notice) prints with Writer
                document = Path(workbook).suffix.lower() == ".docx"
                source = job / ("book.docx" if document else "book.xlsx")
                shutil.copyfile(workbook, source)
                export = "pdf:writer_pdf_Export" if document else "pdf:calc_pdf_Export"
                cmd = [self.soffice, f"-env:UserInstallation={self.profile.as_uri()}", "--headless", "--invisible",
                       "--norestore", "--nologo", "--nodefault", "--nolockcheck", "--nofirststartwizard",
                       "--convert-to", export, "--outdir", str(job), str(source)]
                self._run(cmd, job)
                produced = job / "book.pdf"
                if not produced.is_file() or produced.stat().st_size == 0:
                    raise ConversionFailed("LibreOffice 未生成 PDF（工作簿可能已损坏）")
                pdf.parent.mkdir(parents=True, exist_ok=True)
                tmp = pdf.with_name(f".tmp-{os.getpid()}-{pdf.name}")
                shutil.move(str(produced), tmp)
                os.replace(tmp, pdf)
                return pdf
            finally:
                shutil.rmtree(job, ignore_errors=True)

    def _run(self, cmd: list[str], cwd: Path) -> None:
        env = {**os.environ, "HOME": str(self.root), "SAL_USE_VCLPLUGIN": "svp"}
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise PaperUnavailable(f"无法启动 LibreOffice（{exc.strerror or exc}）；请安装：{INSTALL_HINT}") from None
        try:
            output, _ = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise ConversionFailed(f"LibreOffice 转换超时（{self.timeout_s:.0f} 秒）") from None
        except BaseException:
            _kill_group(proc)
            raise
        if proc.returncode != 0:
            tail = output.decode("utf-8", "replace").strip().splitlines()[-1:] if output else []
            raise ConversionFailed(f"LibreOffice 退出码 {proc.returncode}{('：' + tail[0]) if tail else ''}")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the conversion's own process group (soffice starts a child: oosplash → soffice.bin)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


@dataclass
class PaperResult:
    """What a paper run wrote, and what failed (by name), or why nothing could be converted."""

    written: list[dict] = field(default_factory=list)  # {"name", "path"}
    failed: list[dict] = field(default_factory=list)  # {"name", "error"}
    unavailable: str | None = None

    def as_json(self) -> dict:
        return {"written": self.written, "failed": self.failed, "unavailable": self.unavailable}

    @property
    def problem(self) -> str | None:
        """One Chinese sentence when something is missing, None when every copy was written."""
        if self.unavailable:
            return self.unavailable
        if self.failed:
            return f"{len(self.failed)} 份纸质版 PDF 未能生成——" + "；".join(
                f"{f['name']}：{f['error']}" for f in self.failed)
        return None


def convert_all(settings: Settings, jobs: list[tuple[str, Path, Path]]) -> PaperResult:
    """Convert (name, workbook, pdf) jobs one at a time; a failure is recorded by name and the rest go on."""
    result = PaperResult()
    if not jobs:
        return result
    try:
        converter = PaperConverter.for_settings(settings)
    except PaperUnavailable as exc:
        return PaperResult(unavailable=str(exc))
    with converter:
        for name, workbook, pdf in jobs:
            try:
                converter.convert(workbook, pdf)
                result.written.append({"name": name, "path": str(pdf)})
            except PaperUnavailable as exc:
                result.unavailable = str(exc)
                break
            except (ConversionFailed, OSError) as exc:
                result.failed.append({"name": name, "error": str(exc)})
    return result


# ---- the monthly bulletin's paper copy for each government authority --------------------------------
def bulletin_paper_dir(run: BulletinRun) -> Path:
    return run.folder / PAPER_DIR


def bulletin_paper_name(recipient: Recipient) -> str:
    """<县(市)>_<单位名称>.pdf (全州 for prefecture-level authorities)."""
    return safe_file_name(f"{recipient.county_label}_{recipient.org_name}") + ".pdf"


def bulletin_paper_copies(run: BulletinRun, recipients: list[Recipient]) -> PaperResult:
    """Write outbox/通报/<month>/纸质版/<县(市)>_<单位名称>.pdf for every government authority in `recipients`
    (the workbook its mail carries in the paper layout, written afresh: independent of what the ledger already
    sent)."""
    authorities = [r for r in recipients if r.party == PARTY_GOV]
    if not authorities:
        return PaperResult()
    try:
        find_soffice(run.settings)
    except PaperUnavailable as exc:
        return PaperResult(unavailable=str(exc))
    folder = bulletin_paper_dir(run)
    with tempfile.TemporaryDirectory(prefix=".tmp-paper-", dir=_ensure(run.folder)) as tmp:
        jobs = []
        for i, r in enumerate(authorities):
            sections = bulletin_sections(rules.scoped(run.register, r), run.period)
            book = write_bulletin_workbook(Path(tmp) / f"{i}.xlsx", sections, recipient=r, period=run.period,
                                          as_of=run.as_of, settings=run.settings, notes=recipient_notes(run, r),
                                          paper=True)
            jobs.append((f"{r.county_label} {r.org_name}", book, folder / bulletin_paper_name(r)))
        return convert_all(run.settings, jobs)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---- the quarterly handouts ---------------------------------------------------------------------------
def quarterly_paper_copies(settings: Settings, summaries: list[QuarterlySummary],
                           books: list[QuarterlyWorkbook]) -> PaperResult:
    """A PDF next to each prefecture and county quarterly workbook, in a 纸质版 sub-folder (the handouts): the
    workbook of its summary (`summaries`, in the order of `books`) written afresh in the paper layout."""
    printed = [(s, b) for s, b in zip(summaries, books) if b.scope in ("prefecture", "county")]
    if not printed:
        return PaperResult()
    folder = Path(printed[0][1].path).parent
    with tempfile.TemporaryDirectory(prefix=".tmp-paper-", dir=_ensure(folder)) as tmp:
        jobs = []
        for i, (summary, book) in enumerate(printed):
            path = Path(book.path)
            copy = write_quarterly_workbook(Path(tmp) / f"{i}.xlsx", summary, settings, paper=True)
            jobs.append((book.name, copy, path.parent / PAPER_DIR / (path.stem + ".pdf")))
        return convert_all(settings, jobs)

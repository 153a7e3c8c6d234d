"""What every stage relies on from the operating system: worker processes that end with the process that
started them (parsers, checkers, workbook writers), files that appear whole or not at all, and a garbage
collector that leaves the imported modules alone; and how a failure is said to the person who started the run
(a file or folder it could not use, an exception that already is a sentence for them: the command line's last line
and a failed run's message in the Prefect UI, flows/failure_messages.py, say it alike)."""

from __future__ import annotations

import gc
import os
import re
import select
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


# young-object collections every 20,000 net allocations instead of Python's 700: the row-by-row work (30,000
# hazard rows of 27 cells stored, read back and written) allocates millions of short-lived objects
GC_YOUNG_THRESHOLD = 20_000


def collect_young_less_often() -> None:
    """Python's default collects young objects every 700 net allocations; importing Prefect, pandas … (a
    command's first second) then runs ~400 collections, several of them full ones over everything imported so
    far. Called first thing by the `hazardnet` command."""
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, gen1, gen2)


def leave_imports_to_rest() -> None:
    """Call once a process has imported what it works with (Prefect, pandas, pandera, SQLAlchemy: about a
    million objects). `gc.freeze()` moves them out of the collector's reach, so its full collections no
    longer walk them all again (a forked worker also keeps sharing their memory pages with its parent),
    and young objects are collected less often. Nothing is collected later than it would be anyway but
    cycles among the young; an ingest of 100 registers spent ~1 CPU s less on collection (bench/README.md)."""
    gc.freeze()
    collect_young_less_often()


def exit_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started it dies, even by SIGKILL: an idle worker waits on
    a queue it holds open itself, so it (and the forkserver) would otherwise live on forever."""
    try:
        pidfd = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd: poll instead
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])  # readable once the parent has exited
        else:
            while os.getppid() != 1:
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def write_atomically(path: Path | str, save: Callable[[BinaryIO], object]) -> Path:
    """Write a file through `save(binary_file)` so that it appears at `path` only when complete and on disk
    (a temporary file beside it, fsynced, then renamed): a crash never leaves a truncated deck, letter or text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            save(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# ---- a failure, said to a person ---------------------------------------------------------------------------
def in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """`exc` or the exception it was raised from / during, if one is a `kind` (a flow may wrap what it raised)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


_ERRNO_REASONS = {
    "ENOENT": "不存在", "EACCES": "没有访问权限", "EPERM": "没有访问权限", "EROFS": "位于只读的磁盘上，无法写入",
    "ENAMETOOLONG": "名称过长", "EISDIR": "是一个文件夹，而不是文件", "ENOTDIR": "路径中有一段不是文件夹",
    "EEXIST": "已存在", "ENOSPC": "所在磁盘已满", "EDQUOT": "所在磁盘已超出配额",
}


def file_problem(exc: BaseException) -> str | None:
    """The Chinese sentence for a file or folder the run could not use (None: another problem)."""
    import errno

    found = in_chain(exc, OSError)
    if found is None or not getattr(found, "filename", None):
        return None
    reason = _ERRNO_REASONS.get(errno.errorcode.get(found.errno or 0, ""), f"无法使用（{found.strerror or found}）")
    return f"文件或文件夹“{found.filename}”{reason}。"


# packages whose exception classes carry a Chinese sentence by contract (MailError.reason, IntakeError,
# SettingsError, PaperUnavailable, flows.mailing.Undelivered …)
OUR_PACKAGES = ("hazardnet", "flows", "schemas")

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LETTER = re.compile(r"[^\W\d_]")  # a letter of any script (a Chinese character is one)
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’")


def sentence_for_person(exc: BaseException) -> str | None:
    """The Chinese sentence `exc` already is for the person who started the run (None: a fault of the system).

    Ours: an exception of this project's own classes whose message has Chinese in it (they are raised with a
    sentence for the operator, which may begin with a setting's name: `HAZARDNET_SMTP_CA_FILE 指定的 CA 证书文件 …
    不存在。`); a plain ValueError or RuntimeError whose message begins in Chinese (`settings.parse_date`,
    `flows.mailing.delivery_failure` …), not one of Python's or a library's own messages that merely quote a
    Chinese value (`invalid literal for int() with base 10: '格尔木'`); no KeyError, TypeError … (programming faults,
    whatever they quote); and a file or folder the run could not use, named as the command line names it
    (`文件或文件夹“…”不存在。`, hazardnet.cli.problems.file_problem)."""
    text = str(exc)
    kind = type(exc)
    if kind.__module__.split(".")[0] in OUR_PACKAGES:
        return text if CJK.search(text) else None
    if kind in (ValueError, RuntimeError):
        return text if _written_in_chinese(text) else None
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        return file_problem(exc)  # the command line's sentence for it, word for word
    return None


def _written_in_chinese(text: str) -> bool:
    """Its first word is Chinese: the first letter outside quotes, after any digits and punctuation, is a Chinese
    character (`2 个收件人未能送达——…`, `“Gem”不是已配置的县(市)`; not `'格尔木' is not a valid County`)."""
    first = LETTER.search(QUOTED.sub(" ", text))
    return first is not None and CJK.match(first.group()) is not None

"""The parser child process: python-calamine parses a workbook under an address-space cap and a CPU budget,
and the cells are decoded into plain grids (trailing empty rows and columns dropped, A1 at [0][0]); then the
workbook's pictures are read under the same caps (`photos`)."""

from __future__ import annotations

import logging
import os
import resource
import signal
from typing import Any

from hazardnet.intake.grid import (
    R_CORRUPT,
    R_ENCRYPTED,
    R_TOO_MANY_ROWS,
    SheetGrid,
    WorkbookGrid,
)
from hazardnet.runtime import exit_with_parent, leave_imports_to_rest

log = logging.getLogger(__name__)


# ---- the child process ------------------------------------------------------------------------
def _child_init(memory_mb: int, parent_pid: int | None = None) -> None:
    """Runs once in each worker: cap its address space, no core dumps, leave Ctrl-C to the parent."""
    leave_imports_to_rest()  # what the forkserver preloaded (pandas, pandera …) is the same in every worker
    if parent_pid is not None:
        exit_with_parent(parent_pid)  # before the cap: the watcher thread's stack is allocated now
    os.environ["RUST_BACKTRACE"] = "0"  # an abort should not print a page of Rust frames per file
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory_mb << 20
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _limit_cpu(seconds: float) -> None:
    # A per-file CPU budget enforced by the kernel (SIGXCPU kills the worker even inside Rust code,
    # where no Python signal handler would run); the parent's wall-clock watchdog is the other half.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 2
    _old, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class _TooManyRows(Exception):
    pass


def _read_photos(path: str, kind: str, limits: Any):
    """The workbook's pictures, read after its cells (a file calamine refuses is never looked at)."""
    from hazardnet.intake import photos

    if limits is None:
        return None
    if kind == "xls":
        return photos.xls_scan()
    if kind != "xlsx":
        return None  # .ods: pictures are not read from it
    return photos.read_pictures(path, limits)


def _parse_in_child(path: str, timeout_s: float, max_rows: int = 0, then: tuple | None = None,
                    kind: str = "xlsx", photo_limits: Any = None) -> tuple:
    """("ok", sheets, photos) with sheets as (name, rows, merged, hidden) tuples and photos a PictureScan (or
    None), or ("bad", reason, detail, recycle_worker). With `then` = (function, args): ("ok", sheets or None,
    value, error, photos) — see `Followed`."""
    from python_calamine import CalamineError, PasswordError

    _limit_cpu(timeout_s)
    try:
        sheets = _read_sheets(path, max_rows)
        try:
            scan = _read_photos(path, kind, photo_limits)
        except Exception as exc:  # noqa: BLE001 - pictures never cost a register its cells
            log.warning("pictures of %s not read: %r", path, exc)
            scan = None
        if then is None:
            return "ok", sheets, scan
    except _TooManyRows as exc:
        return "bad", exc.args[0], "too many rows", True
    except PasswordError:
        return "bad", R_ENCRYPTED, "PasswordError", False
    except MemoryError:
        return "bad", "memory", "MemoryError", True
    except CalamineError as exc:
        return "bad", R_CORRUPT, f"{type(exc).__name__}: {exc}"[:300], False
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - incl. pyo3's PanicException (a BaseException) when
        # calamine panics on a damaged .xls; a fresh worker follows, in case the panic left a mess
        return "bad", R_CORRUPT, f"{type(exc).__name__}: {exc}"[:300], True
    function, args = then
    try:
        keep_grid, value = function(WorkbookGrid([SheetGrid(*sheet) for sheet in sheets]), *args)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - the follow-up failed, not the file: the caller does it itself
        return "ok", sheets, None, f"{type(exc).__name__}: {exc}"[:300], scan
    return "ok", sheets if keep_grid else None, value, None, scan


def _read_sheets(path: str, max_rows: int = 0) -> list[tuple]:
    from python_calamine import (
        CalamineError,
        CalamineWorkbook,
        SheetTypeEnum,
        SheetVisibleEnum,
    )

    sheets = []
    with open(path, "rb") as fh, CalamineWorkbook.from_filelike(fh) as book:  # by content, not name
        for index, meta in enumerate(book.sheets_metadata):
            hidden = meta.visible != SheetVisibleEnum.Visible
            try:
                sheet = book.get_sheet_by_index(index)
            except CalamineError:
                if meta.typ in (SheetTypeEnum.ChartSheet, SheetTypeEnum.Vba):
                    sheets.append((meta.name, [], [], hidden))  # holds no cells anyway
                    continue
                raise
            if max_rows and sheet.height > max_rows:  # before its cells become Python objects
                raise _TooManyRows(R_TOO_MANY_ROWS.format(sheet=meta.name, rows=sheet.height, limit=max_rows))
            rows = _tidy(sheet.to_python(skip_empty_area=False))  # keep A1 at rows[0][0]
            merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or [])]
            sheets.append((meta.name, rows, merged, hidden))
    return sheets


_BLANK_TO_NONE = {"": None}


def _tidy(rows: list[list[Any]]) -> list[list[Any]]:
    """Empty cells ("" from calamine) become None; trailing empty rows and columns go."""
    out: list[list[Any]] = []
    last_row, width = -1, 0
    blank_to_none = _BLANK_TO_NONE.get
    for r, row in enumerate(rows):
        try:
            cells = list(map(blank_to_none, row, row))  # "" -> None, any other value itself (at C speed)
        except TypeError:  # an unhashable value (never from calamine)
            cells = [None if v == "" else v for v in row]
        n = len(cells)
        while n and cells[n - 1] is None:
            n -= 1
        if n:
            last_row = r
            width = max(width, n)
        out.append(cells)
    del out[last_row + 1:]
    for cells in out:
        if len(cells) > width:
            del cells[width:]
        elif len(cells) < width:
            cells.extend([None] * (width - len(cells)))
    return out



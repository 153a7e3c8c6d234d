"""Deflate a workbook's big parts on every core, as pigz does: the same zip, written faster.

xlsxwriter stores a workbook by deflating each XML part into the .xlsx zip in one thread. For the
consolidated register the sheet is tens of megabytes of XML and its deflate is a third of the write.
`ParallelZipFile.write` deflates such a part in 1 MiB pieces on a thread pool (zlib releases the GIL):
each piece is primed with the 32 KiB before it and ends on a sync flush, so the pieces joined are one
ordinary deflate stream, nearly as small as a single-threaded one at the same level (BIG_PART_LEVEL);
any unzip, Excel and WPS read it.
Parts under PARALLEL_FROM bytes, other compression methods and one-core machines take zipfile's own path.

`ParallelZipWorkbook` is an xlsxwriter Workbook that stores itself through it (xlsxwriter opens its zip through
the `ZipFile` name of its `workbook` module and has no option for this, so the subclass runs xlsxwriter's own
storing code with that one name bound to ParallelZipFile); xlsxwriter itself is left unchanged for everyone
else in the process.
"""

from __future__ import annotations

import os
import types
import zipfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from xlsxwriter.workbook import Workbook

PIECE = 1 << 20  # bytes deflated per task
WINDOW = 32 << 10  # deflate's window: each piece may refer back this far into the one before
PARALLEL_FROM = 8 << 20  # parts smaller than this are deflated as zipfile does
# zlib level for those big parts unless the caller names one: the consolidated register's 29 MB sheet deflates
# in 0.39 CPU s to 3.8 MB at level 4, in 0.82 CPU s to 3.3 MB at zlib's default 6 (level 1: 0.24 s, 4.7 MB).
# Rewritten at every ingest, it is worth half the CPU for 15 % more bytes; small parts keep zlib's default.
BIG_PART_LEVEL = 4
THREADS = max(1, min(4, os.cpu_count() or 1))
# ParallelZipWorkbook reuses xlsxwriter's Workbook._store_workbook and its global name ZipFile: checked
# against this version (tests/test_layout.py fails when the installed one differs).
CHECKED_XLSXWRITER = "3.3.1"


def _deflate_piece(data: bytes, primer: bytes, level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=primer) if primer else \
        zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)  # byte-aligned, not final: the next piece follows


class ParallelDeflater:
    """A compressor object for zipfile's member writer: pieces go to the pool, come back in order."""

    def __init__(self, pool: ThreadPoolExecutor, level: int, ahead: int = 2 * THREADS):
        self.pool, self.level, self.ahead = pool, level, ahead
        self.pending: deque[Future] = deque()
        self.primer = b""

    def compress(self, data: bytes) -> bytes:
        self.pending.append(self.pool.submit(_deflate_piece, data, self.primer, self.level))
        self.primer = data[-WINDOW:]
        out = []
        while self.pending and (self.pending[0].done() or len(self.pending) > self.ahead):
            out.append(self.pending.popleft().result())
        return b"".join(out)

    def flush(self) -> bytes:
        out = [f.result() for f in self.pending]
        self.pending.clear()
        out.append(zlib.compressobj(self.level, zlib.DEFLATED, -15).flush())  # the final (empty) block
        return b"".join(out)


class ParallelZipFile(zipfile.ZipFile):
    """zipfile.ZipFile whose `write` deflates big files on several threads."""

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        method = self.compression if compress_type is None else compress_type
        if (THREADS < 2 or method != zipfile.ZIP_DEFLATED or os.path.isdir(filename)
                or os.path.getsize(filename) < PARALLEL_FROM):
            return super().write(filename, arcname, compress_type, compresslevel)
        zinfo = zipfile.ZipInfo.from_file(filename, arcname, strict_timestamps=self._strict_timestamps)
        zinfo.compress_type = method
        level = compresslevel if compresslevel is not None else self.compresslevel
        level = BIG_PART_LEVEL if level is None else level
        with ThreadPoolExecutor(THREADS, thread_name_prefix="deflate") as pool, \
                open(filename, "rb") as src, self.open(zinfo, "w") as dest:
            dest._compressor = ParallelDeflater(pool, level)  # zipfile's member writer calls compress/flush
            while piece := src.read(PIECE):
                dest.write(piece)  # CRC and sizes are kept by zipfile as usual


def _with_zip_class(store_workbook, zip_class):
    """xlsxwriter's own `Workbook._store_workbook`, the same code, resolving the name `ZipFile` to
    `zip_class` instead of `zipfile.ZipFile` — for our workbooks only: xlsxwriter's module is left as it is."""
    names = {**store_workbook.__globals__, "ZipFile": zip_class}
    fn = types.FunctionType(store_workbook.__code__, names, store_workbook.__name__, store_workbook.__defaults__,
                            store_workbook.__closure__)
    fn.__kwdefaults__ = store_workbook.__kwdefaults__
    fn.__qualname__ = store_workbook.__qualname__
    return fn


class ParallelZipWorkbook(Workbook):
    """An xlsxwriter Workbook stored through ParallelZipFile: big sheets are deflated on every core.
    Used explicitly by the writers that ask for it (`xlsx.style.atomic_workbook`)."""

    _store_workbook = _with_zip_class(Workbook._store_workbook, ParallelZipFile)

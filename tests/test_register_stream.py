"""The consolidated register written while the ingest runs (`publish.register_stream`) is the workbook the
ingesting process would write itself, whatever order the counties' files finish in; a writer that fails or
is never needed leaves the register to the in-process path."""

from __future__ import annotations

import os
import random
import signal
from contextlib import contextmanager

import pytest

from hazardnet.publish.consolidated import sheet_rows, write_consolidated_register, write_sheet_workbook
from hazardnet.publish.register_stream import TEMP_PREFIX, RegisterStream
from hazardnet.store import Store
from tests.test_consolidated_stream import AS_OF, _sheet_parts, _store

# the files each county sent in the imagined run (未配置县's folder is not a configured county)
FILES = {"格尔木市": 2, "德令哈市": 1, "未配置县": 1}


@contextmanager
def _home(tmp_path, settings, seed: int):
    """The test store of test_consolidated_stream (seed `seed`) and settings that use it."""
    store = _store(tmp_path, seed)
    try:
        yield store, settings.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'store.db'}"})
    finally:
        store.dispose()


def _expected(store, settings, tmp_path):
    rows, overdue = sheet_rows(store, settings, AS_OF)
    path = write_sheet_workbook(tmp_path / "in_process.xlsx", rows, overdue,
                                title=f"{settings.prefecture}电力安全隐患台账（汇总） 截至{AS_OF:%Y年%m月%d日}")
    return _sheet_parts(path)


def _written(store, settings, done: list[str], after_first=None):
    """The run's files finish in the order `done` (all accepted); then the register step. `after_first` runs
    once the first file has started the writer. Returns (path, rewritten, the writer's Future)."""
    stream = RegisterStream(settings, AS_OF, FILES)
    try:
        for n, county in enumerate(done):
            stream.file_done(county, accepted=True)
            if n == 0 and after_first is not None:
                after_first(stream)
        path, rewritten = write_consolidated_register(store, settings, AS_OF, written=stream)
    finally:
        stream.close()
    assert not [p for p in settings.outbox.iterdir() if p.name.startswith(TEMP_PREFIX)]
    return path, rewritten, stream._future


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_streamed_register_is_the_in_process_one_in_any_finishing_order(tmp_path, settings, seed):
    with _home(tmp_path, settings, seed) as (store, settings):
        done = [c for c, n in FILES.items() for _ in range(n)]
        random.Random(seed).shuffle(done)
        path, rewritten, writer = _written(store, settings, done)
        assert rewritten and path == settings.consolidated_path
        assert writer.done() and writer.exception() is None  # the child's workbook, not the fallback's
        assert _sheet_parts(path) == _expected(store, settings, tmp_path)


def test_a_writer_that_dies_leaves_the_register_to_the_ingesting_process(tmp_path, settings):
    def kill_writer(stream):
        (worker,) = stream._executor._processes  # the one writer process (busy: it waits for 格尔木市)
        os.kill(worker, signal.SIGKILL)

    with _home(tmp_path, settings, 1) as (store, settings):
        done = ["格尔木市", "格尔木市", "德令哈市", "未配置县"]
        path, rewritten, writer = _written(store, settings, done, after_first=kill_writer)
        assert rewritten and writer.exception() is not None
        assert _sheet_parts(path) == _expected(store, settings, tmp_path)


def test_no_writer_without_an_accepted_file_and_none_left_behind_by_a_failed_run(tmp_path, settings):
    with _home(tmp_path, settings, 2) as (store, settings):
        idle = RegisterStream(settings, AS_OF, FILES)
        for county in ("格尔木市", "格尔木市", "德令哈市", "未配置县"):
            idle.file_done(county, accepted=False)
        assert idle._executor is None  # every file rejected: nothing started
        idle.close()
        failed = RegisterStream(settings, AS_OF, FILES)
        failed.file_done("德令哈市", accepted=True)  # writing has begun …
        failed.close()  # … and the run fails: the writer stops, its file goes
        assert failed._future.done()
        assert not settings.consolidated_path.exists()
        assert not [p for p in settings.outbox.iterdir() if p.name.startswith(TEMP_PREFIX)] \
            if settings.outbox.exists() else True


def test_an_unchanged_register_is_not_replaced_by_the_streamed_one(tmp_path, settings):
    with _home(tmp_path, settings, 3) as (store, settings):
        first, rewritten = write_consolidated_register(store, settings, AS_OF)
        assert rewritten
        before = first.stat().st_mtime_ns
        path, rewritten, _writer = _written(store, settings, ["格尔木市", "格尔木市", "德令哈市", "未配置县"])
        assert not rewritten and path.stat().st_mtime_ns == before
        assert not [p for p in settings.outbox.iterdir() if p.name.startswith(TEMP_PREFIX)]

"""A flow run ends when its work ends: Prefect's flow-run heartbeat without the wait at the end.

Prefect 3.9 sends a flow run's heartbeats (which `flows.automations` watches for crashed runs) from a daemon
thread that sleeps in steps of one second; at the end of every synchronous flow run the engine joins that
thread, so each run waited up to a second doing nothing (bench/README.md, "Session 7": 0.8 s of a 3.4 s
empty ingest). The asynchronous engine already leaves the thread to notice the stop by itself
(`join_on_exit=False`); this does the same for the synchronous one. Heartbeats are sent as before: the first
when the run starts, then every `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` seconds, none after the run's end (the
thread checks the stop flag before each one)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import prefect.flow_engine as flow_engine

_prefect_heartbeats = flow_engine._send_heartbeats


@contextmanager
def heartbeats_without_join(engine: Any, join_on_exit: bool = True) -> Generator[None, None, None]:
    """Prefect's heartbeat context; the stopped thread ends by itself within a second, nobody waits for it."""
    with _prefect_heartbeats(engine, join_on_exit=False):
        yield


def install() -> None:
    """Make every flow run of this process use `heartbeats_without_join` (idempotent)."""
    flow_engine._send_heartbeats = heartbeats_without_join

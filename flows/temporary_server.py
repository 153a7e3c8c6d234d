"""Every task run of a command recorded by Prefect's temporary server before the command stops that server.

Without PREFECT_API_URL, Prefect runs a command's flows against a temporary server (`SubprocessASGIServer`, a
uvicorn child process whose database is in PREFECT_HOME, shown later by `prefect server start`). The server
records a task run only from the events the client sends (Pending, Running, Completed …): they reach its
task-run recorder through an in-memory queue, and it writes them in batches (prefect.toml) or one at a time
(Prefect's default). At the command's exit Prefect sends the events still queued in the client (its events worker
is drained when the interpreter's threads stop), then stops the server (an `atexit` handler: SIGTERM, SIGKILL
after 5 s); the recorder writes what it holds once more, but the events still waiting for it in the server's
queue are lost with the process. The UI then showed the flow run with task runs missing or stuck in Pending or
Running: with Prefect's own recorder settings an ingest of 30 registers kept 9–12 of its 32 task runs Completed,
of 100 registers 23–39 of 102 (bench/README.md, "Session 14"); with prefect.toml's batches no run lost one there,
even with the two cores kept busy, but nothing guaranteed it.

`install` wraps the function through which Prefect's task engine sends a task run's state change
(`prefect.task_engine.emit_task_run_state_change_event`, Prefect 3.9): while this process uses a temporary
server it notes, per task run, the last state it sent, and the first time registers `wait_for_task_runs` to run
at exit. Registered after the server's own `atexit` handler, it runs before it (atexit runs last in, first
out), after the events worker was drained: it asks the server, through Prefect's client, until the server
shows every noted task run in the state sent last (or a later one), at most `wait_seconds()` (15 s; the
variable `WAIT_ENV` sets another bound). A task run still unrecorded then is one English line in the log, not a
traceback, and the command ends as it would have: its result and exit code do not change. Against a server
(PREFECT_API_URL set) nothing is noted and nothing waits. `tests/test_temporary_server.py` pins the name and
reads a real command's task runs back from the temporary server's database."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from datetime import datetime
from typing import Any
from uuid import UUID

import prefect.task_engine as task_engine

logger = logging.getLogger(__name__)

WAIT_ENV = "HAZARDNET_TASK_RUNS_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 15.0
POLL_SECONDS = 0.2
# task run ids per request: the server answers at most PREFECT_SERVER_API_DEFAULT_LIMIT (200) runs
CHUNK = 200

_prefect_emit = task_engine.emit_task_run_state_change_event
_lock = threading.Lock()
# task run id -> (id, timestamp) of the last state this process sent for it, while a temporary server is in use
_sent: dict[UUID, tuple[UUID, datetime]] = {}
_registered = {"at_exit": False}


def temporary_server() -> Any | None:
    """Prefect's temporary server of this process while it runs (`SubprocessASGIServer`), None with a
    PREFECT_API_URL or when none was started (the server module not even imported)."""
    module = sys.modules.get("prefect.server.api.server")
    if module is None:
        return None
    server = module.SubprocessASGIServer._instances.get(None)  # the instance Prefect's clients start (no port)
    if server is None or not server.running or server.server_process is None:
        return None
    from prefect.settings import PREFECT_API_URL

    return None if PREFECT_API_URL.value() else server


def emit_task_run_state_change_event(task_run: Any, initial_state: Any, validated_state: Any,
                                     follows: Any = None) -> Any:
    """Prefect's `emit_task_run_state_change_event`; on a temporary server the state sent is noted for
    `wait_for_task_runs`."""
    event = _prefect_emit(task_run=task_run, initial_state=initial_state, validated_state=validated_state,
                          follows=follows)
    if event is not None and temporary_server() is not None:
        with _lock:
            # the recorder takes the event's id as the state's id, its time as the state's timestamp
            _sent[task_run.id] = (event.id, event.occurred)
            if not _registered["at_exit"]:
                atexit.register(wait_for_task_runs)  # after the server's stop: runs before it
                _registered["at_exit"] = True
    return event


def wait_seconds() -> float:
    """How long the exit waits at most: `WAIT_ENV` if it is a number ≥ 0, else `DEFAULT_WAIT_SECONDS`."""
    try:
        value = float(os.environ.get(WAIT_ENV, ""))
    except ValueError:
        return DEFAULT_WAIT_SECONDS
    return value if value >= 0 else DEFAULT_WAIT_SECONDS


def _recorded(run: Any, sent: tuple[UUID, datetime]) -> bool:
    """The server shows `run` in the state sent last, or a later one (the recorder keeps the latest)."""
    state_id, occurred = sent
    return run.state_id == state_id or (run.state is not None and run.state.timestamp >= occurred)


def wait_for_task_runs(timeout: float | None = None) -> int:
    """Wait until the temporary server has recorded the last state this process sent for each of its task runs,
    at most `timeout` seconds (default `wait_seconds()`). Returns how many are still unrecorded (logged as one
    warning when not 0); 0 at once without a running temporary server."""
    server = temporary_server()
    with _lock:
        noted = dict(_sent)
    pending = dict(noted)
    if server is None or not pending:
        return 0
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterId

    total = len(pending)
    limit = wait_seconds() if timeout is None else timeout
    started = time.monotonic()
    deadline = started + limit
    problem = ""
    try:
        with get_client(sync_client=True) as client:
            while True:
                ids = list(pending)
                for start in range(0, len(ids), CHUNK):
                    chunk = ids[start:start + CHUNK]
                    for run in client.read_task_runs(task_run_filter=TaskRunFilter(id=TaskRunFilterId(any_=chunk)),
                                                     limit=len(chunk)):
                        if run.id in pending and _recorded(run, pending[run.id]):
                            del pending[run.id]
                if not pending or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        problem = " (interrupted)"
    except Exception as exc:  # noqa: BLE001 - at exit: one line in the log, the command's result stands
        problem = f" ({type(exc).__name__}: {exc})"
    with _lock:  # forget the task runs recorded (in a state sent since, one is noted again)
        for task_run_id, sent in noted.items():
            if task_run_id not in pending and _sent.get(task_run_id) == sent:
                del _sent[task_run_id]
    if pending:
        logger.warning("Prefect's temporary server has recorded only %d of the %d task runs of this command after "
                       "a wait of %.1f s%s; it is stopped now, and the Prefect UI will show the other %d missing or "
                       "unfinished", total - len(pending), total, time.monotonic() - started, problem, len(pending))
    else:
        logger.debug("Prefect's temporary server has recorded all %d task runs of this command (waited %.2f s)",
                     total, time.monotonic() - started)
    return len(pending)


def install() -> None:
    """Note the task runs of this process sent to a temporary server, and wait for their records at exit
    (idempotent)."""
    task_engine.emit_task_run_state_change_event = emit_task_run_state_change_event

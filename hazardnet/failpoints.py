"""Named failpoints for fault-injection tests. TEST-ONLY: inert unless HAZARDNET_FAILPOINT is set.

The engine calls `checkpoint("after_archive")` at the points where a crash is most dangerous. In
production the environment variable is never set and a checkpoint costs one dictionary look-up.
A test runs the engine in a subprocess with, for example,

    HAZARDNET_FAILPOINT=after_archive:2     SIGKILL this process the 2nd time after_archive is reached
    HAZARDNET_FAILPOINT=after_archive       the same as after_archive:1
    HAZARDNET_FAILPOINT=mid_record:1,before_rename:3    whichever comes first

and then checks that nothing was lost or duplicated and that the next normal run finishes the job
(tests/test_crash_recovery.py). Just before the kill, one line `HAZARDNET_FAILPOINT hit <name>:<n>`
goes to stderr, so a test can tell that its failpoint was really reached.

A test may also register an in-process hook with `set_hook(name, fn)`: `fn(**context)` then runs each
time the checkpoint is reached (e.g. to replace an inbox file while it is being ingested).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

ENV = "HAZARDNET_FAILPOINT"

# Every checkpoint the engine has, in the order one file meets them (tests parametrize over these).
CHECKPOINTS: dict[str, str] = {
    "between_files": "intake: before a file is looked at (the previous one is completely done)",
    "after_snapshot": "intake: the file is copied to staging and hashed; nothing is stored or moved yet",
    "after_archive": "intake, accepted file: the copy is in archive/, the store knows nothing yet",
    "after_report": "intake, rejected file: the error report is written, the original not yet kept",
    "after_reject_keep": "intake, rejected file: the original's bytes are in rejected/, not yet recorded",
    "after_duplicate_keep": "intake, duplicate file: the copy is in archive/, not yet recorded",
    "mid_record": "store: inside the transaction, the submission row inserted but not its hazard rows",
    "after_record": "intake: the outcome is committed; the original is still in the inbox",
    "original_set_aside": "intake: the original is renamed aside in its folder, not yet checked and deleted",
    "after_remove": "intake: the original has left the inbox; the submission is not yet finalized",
    "before_consolidated": "consolidated register: every file done, the workbook not yet rewritten",
    "before_workbook_close": "any workbook: all cells handed to xlsxwriter, the file not yet written",
    "before_rename": "any workbook: the complete temporary file is written, not yet renamed into place",
    "after_consolidated_rename": "consolidated register: renamed into place, its hash not yet recorded",
    "mail_before_send": "mail: the ledger entry is claimed (pending), the message not yet handed to the server",
    "mail_after_send": "mail: the server accepted the message, the ledger does not know it yet",
    "mail_after_record": "mail: the outcome is in the ledger (the next recipient not yet started)",
    "sms_before_send": "sms: the ledger entries are claimed (pending), the text not yet handed to the gateway",
    "sms_after_send": "sms: the gateway answered for every number, the ledger does not know it yet",
    "mailbox_after_archive": "mail intake: a message is kept in archive/mail/, the store knows nothing of it",
    "mailbox_after_record": "mail intake: the message and its registers are recorded, no file is in the inbox yet",
    "mailbox_after_place": "mail intake: a register is written to inbox/<county>/, not yet marked placed",
    "mailbox_before_tidy": "mail intake: every new message sorted; none marked seen or moved, last UID not kept",
    "mailbox_before_reply": "mail intake: a register's outcome is known, its verdict not yet replied",
}

_lock = threading.Lock()
_hits: dict[str, int] = {}
_hooks: dict[str, Callable[..., Any]] = {}
_parsed: tuple[str, dict[str, int]] = ("", {})


def _targets(spec: str) -> dict[str, int]:
    global _parsed
    if _parsed[0] == spec:
        return _parsed[1]
    targets: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, nth = part.partition(":")
        if name not in CHECKPOINTS:
            raise ValueError(f"{ENV} names an unknown checkpoint {name!r}; known: {', '.join(CHECKPOINTS)}")
        targets[name] = int(nth) if nth else 1
    _parsed = (spec, targets)
    return targets


def checkpoint(name: str, **context: Any) -> None:
    """A named point in the engine where a test may crash the process or run a hook. No-op otherwise."""
    spec = os.environ.get(ENV)
    if not spec and not _hooks:
        return
    with _lock:
        n = _hits[name] = _hits.get(name, 0) + 1
        hook = _hooks.get(name)
        kill = bool(spec) and _targets(spec).get(name) == n
    if hook is not None:
        hook(**context)
    if kill:
        os.write(2, f"{ENV} hit {name}:{n}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)


def set_hook(name: str, fn: Callable[..., Any] | None) -> None:
    """Run `fn(**context)` every time checkpoint `name` is reached in this process (None removes it)."""
    if name not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint {name!r}")
    with _lock:
        if fn is None:
            _hooks.pop(name, None)
        else:
            _hooks[name] = fn


def reset() -> None:
    """Forget hooks and hit counts (between tests in one process)."""
    with _lock:
        _hooks.clear()
        _hits.clear()

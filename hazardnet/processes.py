"""Worker processes that end with the process that started them (parsers, checkers, workbook writers)."""

from __future__ import annotations

import os
import select
import threading
import time


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

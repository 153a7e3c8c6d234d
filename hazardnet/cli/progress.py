"""The CLI's progress bar, fed by the flows' progress channel (`flows.progress`)."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any

from flows.progress import listening


@contextmanager
def progress_bar(description: str, enabled: bool = True):
    """A rich progress bar on stderr fed by `emit("total", n=…)` and `emit("advance", label=…)`."""
    if not enabled:
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def on_event(event: str, **data: Any) -> None:
            if event == "total":
                bar.update(task, total=data["n"])
            elif event == "advance":
                bar.update(task, advance=1, description=f"{description} {data.get('label', '')}")

        with listening(on_event):
            yield


@contextmanager
def flow_console(home: str, description: str, *, quiet: bool = False):
    """Around a flow run started from the console: Prefect's log lines to the home's log file (unless
    --verbose) and a Chinese progress display on stderr (not with --json, nor when stderr is no terminal)."""
    import sys

    from hazardnet.cli.logs import prefect_logs_to_file

    from rich.console import Console

    prefect_logs_to_file(home)
    err = Console(stderr=True)

    def told(event: str, **data: Any) -> None:
        if event == "waiting":
            err.print(f"等待 {data['n']} 个文件复制完成：{'、'.join(data.get('files', []))}")
        elif event == "retrying":  # a temporary error (a mail server, the mailbox, an SMS gateway): say why it waits
            err.print(f"{data['step']}：{data['reason']}；{data['delay']:g} 秒后重试"
                      f"（第 {data['attempt']}/{data['retries']} 次重试）……", soft_wrap=True)

    with listening(told) if not quiet else nullcontext(), \
            progress_bar(description, enabled=not quiet and sys.stderr.isatty()):
        yield

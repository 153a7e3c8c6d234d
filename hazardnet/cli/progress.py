"""The CLI's progress bar, fed by the flows' progress channel (`flows.progress`)."""

from __future__ import annotations

from contextlib import contextmanager
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

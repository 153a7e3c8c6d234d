"""A tiny progress channel: long work emits events, a front end (the CLI's progress bar) may listen."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

_listeners: list[Callable[..., None]] = []


def emit(event: str, **data: Any) -> None:
    """Tell every listener that `event` happened (e.g. "total", n=12; "advance", label="格尔木市")."""
    for fn in list(_listeners):
        try:
            fn(event, **data)
        except Exception:  # noqa: BLE001 - a broken display must never break the work
            pass


@contextmanager
def listening(fn: Callable[..., None]):
    """Register `fn` for the duration of a with-block."""
    _listeners.append(fn)
    try:
        yield
    finally:
        _listeners.remove(fn)


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

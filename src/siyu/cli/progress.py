"""Rich progress bars on stderr for long work (silent when stderr is not a terminal)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from siyu.cli.app import err


@contextmanager
def file_progress(enabled: bool = True):
    """A ``(path, done, total, unit)`` callback drawing one bar per file."""
    if not enabled or not err.is_terminal:
        yield None
        return
    bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False)
    rows = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False)
    tasks: dict[Path, tuple[Progress, int]] = {}

    def update(path: Path, done: int, total: int, unit: str) -> None:
        if path not in tasks:
            p = bars if unit == "bytes" else rows
            if not p.live.is_started:
                p.start()
            tasks[path] = (p, p.add_task(path.name, total=total or None))
        p, tid = tasks[path]
        p.update(tid, completed=done, total=total or None)

    try:
        yield update
    finally:
        for p in (bars, rows):
            if p.live.is_started:
                p.stop()


@contextmanager
def count_progress(description: str, total: int, enabled: bool = True):
    """A ``(done, total)`` callback for counted work (consumers generated…)."""
    if not enabled or not err.is_terminal:
        yield None
        return
    p = Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                 TimeRemainingColumn(), console=err)
    with p:
        tid = p.add_task(description, total=total)
        yield lambda done, tot=total: p.update(tid, completed=done, total=tot)

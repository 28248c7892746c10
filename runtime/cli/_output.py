"""CLI output conventions: rich for people, `--json` for machines, progress and noise on stderr.

Exit codes are 0 all good, 1 a check failed or something was refused, 2 bad input or usage
(`_errors` turns exceptions into the last two). Text printed with markup escapes every value
it did not write itself: messages name contracts as `[stem]`, which rich would take as markup.
rich is imported only when something is printed through it (`console`, `err_console` and
`escape` are lazy): `lume --help` and `lume validate`'s per-file verdicts (click styles) start
without it.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from rich.console import Console

OK, FAILED, BAD_INPUT = 0, 1, 2


class _LazyConsole:
    """A rich `Console`, made (and rich imported, about 30 ms) the first time it is used: a
    command that prints nothing through rich - `lume --help`, a `lume validate` that passes -
    starts without it (issue 19: start-up <= 0.15 s)."""

    def __init__(self, **options: Any) -> None:
        object.__setattr__(self, "_options", options)
        object.__setattr__(self, "_console", None)

    def _real(self) -> Console:
        """The console itself (what rich objects such as `Progress` are handed)."""
        if self._console is None:
            from rich.console import Console

            # soft_wrap: never break file paths across lines (tables wrap their cells);
            # emoji=False: a `:name:` in a file name or message stays text
            made = Console(soft_wrap=True, emoji=False, **self._options)
            made.width = None  # type: ignore[assignment] - read COLUMNS / the terminal when printing
            object.__setattr__(self, "_console", made)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real(), name, value)


console = _LazyConsole()
err_console = _LazyConsole(stderr=True)


def escape(text: str) -> str:
    """`rich.markup.escape`, importing rich on first use (see `_LazyConsole`)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)

# Native libraries (MediaPipe's glog/absl, TensorFlow Lite) read these before they log anything.
_NATIVE_QUIET = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
_verbose = False


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def emit_jsonl(obj: Any) -> None:
    """One compact JSON line, flushed (streams read by another program as they happen)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def set_verbose(verbose: bool) -> None:
    """`lume --verbose`: third-party logs (Python and native) are shown; else only warnings of
    ours and errors of theirs."""
    import logging

    global _verbose
    _verbose = verbose
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return
    for name, level in _NATIVE_QUIET.items():
        os.environ.setdefault(name, level)
    for noisy in ("absl", "mediapipe", "matplotlib", "PIL"):  # their warnings are not ours to act on
        logging.getLogger(noisy).setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Unless `--verbose`, send what native code writes straight to file descriptor 2 to
    /dev/null (MediaPipe's absl `W0000` and TFLite `INFO:` lines ignore every environment
    variable), while Python's `sys.stderr` (our messages, the progress bar) keeps the terminal."""
    if _verbose:
        yield
        return
    try:
        fd = 2
        saved = os.dup(fd)
    except OSError:  # no descriptor 2 at all: nothing to silence
        yield
        return
    python_stderr = sys.stderr
    own = python_stderr is sys.__stderr__  # else already captured (a test runner), not on fd 2
    python_stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    if own:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        if own:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def step(description: str, *, enabled: bool = True) -> Iterator[None]:
    """A spinner with the elapsed time on stderr for one long step (rich; gone when it ends)."""
    if not enabled:
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err_console._real(), transient=True) as bar:
        bar.add_task(description, total=None)
        yield


class _NoBar(contextlib.nullcontext):
    """A disabled progress bar: rich.progress is not even imported (CLI start-up)."""

    def __enter__(self) -> _NoBar:
        return self

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def advance(self, *args: Any, **kwargs: Any) -> None:
        pass

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


def progress(*, enabled: bool = True, transfer: bool = False):
    """A rich progress bar on stderr (`bar.add_task`, `bar.advance`), disabled for `--json` and
    when stderr is no terminal: a transient bar shows nothing there, and its refresh thread
    would keep `lume validate` from splitting a large file over two processes (validate.py)."""
    if not enabled or not err_console.is_terminal:
        return _NoBar()
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns = ((TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                TransferSpeedColumn()) if transfer else
               (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn()))
    return Progress(*columns, console=err_console._real(), transient=True, disable=not enabled)


STATUS_WIDTH = 14  # the widest status word (INCONCLUSIVE) and a margin


def status_cell(markup: str, width: int = STATUS_WIDTH) -> str:
    """Right-align rich markup by its visible text: `f"{markup:>28}"` counted the tags, so
    `[yellow]not run[/]` and `[dim]no rig[/]` rows did not line up with `[green]pass[/]`."""
    from rich.text import Text

    return " " * max(0, width - Text.from_markup(markup).cell_len) + markup

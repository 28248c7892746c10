"""CLI output conventions: rich for people, `--json` for machines, exit codes 0 / 1 / 2."""
from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape

OK, FAILED, BAD_INPUT = 0, 1, 2

console = Console(soft_wrap=True)  # never break file paths across lines
err_console = Console(stderr=True, soft_wrap=True)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def fail_input(message: str) -> NoReturn:
    """Report bad input or usage on stderr and exit 2."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise SystemExit(BAD_INPUT)

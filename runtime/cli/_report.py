"""`lume report verify REPORT`: is a readiness report authentic, unmodified, trusted and fresh?"""
from __future__ import annotations

import re
from pathlib import Path

import click

from ._output import FAILED, OK, console, emit_json, err_console, fail_input

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds of `24h`, `90m`, `1h30m`, `2d`, `45s` or a plain number of seconds."""
    compact = text.strip().lower().replace(" ", "")
    parts = list(_DURATION.finditer(compact))
    if not compact or not parts or "".join(m.group(0) for m in parts) != compact:
        raise ValueError(f"not a duration: {text!r} (use e.g. 24h, 90m, 1h30m, 2d, 3600)")
    return sum(float(m.group(1)) * _UNIT_S[m.group(2)] for m in parts)


@click.group()
def report() -> None:
    """Signed readiness reports."""


@report.command("verify")
@click.argument("report_path", metavar="REPORT", type=click.Path(path_type=Path))
@click.option("--trust", "trust_path", type=click.Path(path_type=Path), default=None,
              help="Trust file (default: LUME_TRUST_FILE, the configuration, <key dir>/trusted_keys.json).")
@click.option("--max-age", default=None, metavar="DURATION",
              help="Oldest acceptable report, e.g. 24h (default: SAFE-MAC5-GATE max_age_s).")
@click.option("--require-green", is_flag=True, help="Also exit 1 when the report's verdict is red.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(report_path: Path, trust_path: Path | None, max_age: str | None, require_green: bool,
           as_json: bool) -> None:
    """Exit 0 only for an authentic, unmodified, trusted and fresh report; else 1 with the reason."""
    from lume.runtime.core import (
        InputError,
        ReportRejected,
        default_max_age_s,
        load_trust,
        parse_time,
        read_json,
        trust_file,
        verify_report,
    )

    try:
        max_age_s = parse_duration(max_age) if max_age else default_max_age_s()
        trusted_from = trust_path or trust_file()
        trust = load_trust(trusted_from)
        envelope = read_json(report_path)
    except (ValueError, InputError) as exc:
        fail_input(str(exc))
    try:
        stmt = verify_report(envelope, trust, max_age_s=max_age_s)
    except ReportRejected as exc:
        if as_json:
            emit_json({"ok": False, "report": str(report_path), "reason": exc.reason})
        else:
            err_console.print(f"[bold red]REJECTED[/] {report_path}: {exc.reason}", highlight=False)
        raise SystemExit(FAILED) from exc
    predicate = stmt["predicate"]
    overall = predicate["verdicts"]["overall"]
    signers = [s["keyid"] for s in envelope["signatures"] if s["keyid"] in {e["keyid"] for e in trust}]
    ok = not require_green or overall == "green"
    if as_json:
        emit_json({"ok": ok, "report": str(report_path), "overall": overall,
                   "verdicts": predicate["verdicts"], "generated_at": predicate["generated_at"],
                   "root": predicate["root"], "signed_by": signers, "trust_file": str(trusted_from),
                   "max_age_s": max_age_s})
    else:
        import time

        age = time.time() - parse_time(predicate["generated_at"])
        console.print(f"[bold green]AUTHENTIC[/] {report_path}: signed by trusted key {', '.join(signers)}, "
                      f"payload unmodified, {age:.0f} s old (max {max_age_s:.0f} s)", highlight=False)
        colour = "green" if overall == "green" else "red"
        console.print(f"verdict [bold {colour}]{overall.upper()}[/] for {predicate['root']} "
                      f"({len(predicate['checks'])} checks)", highlight=False)
        if not ok:
            err_console.print("[red]--require-green: the report's verdict is red[/]")
    raise SystemExit(OK if ok else FAILED)

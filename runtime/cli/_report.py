"""`lume report verify REPORT`: is a readiness report authentic, unmodified, trusted and fresh?"""
from __future__ import annotations

import time
from pathlib import Path

import click
from rich.markup import escape

from ._errors import LumeGroup, Refused
from ._options import AliasOption, Duration, json_option
from ._output import FAILED, OK, console, emit_json, err_console


@click.group(cls=LumeGroup)
def report() -> None:
    """Signed readiness reports."""


@report.command("verify")
@click.argument("report_path", metavar="REPORT", type=click.Path(path_type=Path))
@click.option("--trust-file", "trust_path", cls=AliasOption, hidden_aliases=("--trust",),
              type=click.Path(path_type=Path), default=None,
              help="Trust file (default: LUME_TRUST_FILE, the configuration, <key dir>/trusted_keys.json).")
@click.option("--max-age", type=Duration(), default=None,
              help="Oldest acceptable report, with a unit: 24h, 90m, 2d (default: SAFE-MAC5-GATE max_age_s).")
@click.option("--require-green", is_flag=True, help="Also exit 1 when the report's verdict is red.")
@json_option
def verify(report_path: Path, trust_path: Path | None, max_age: float | None, require_green: bool,
           as_json: bool) -> int:
    """Exit 0 only for an authentic, unmodified, trusted and fresh report; else 1 with the reason."""
    from lume.runtime.core import (
        ReportRejected,
        default_max_age_s,
        load_trust,
        parse_time,
        read_json,
        trust_file,
        verify_report,
    )

    max_age_s = max_age if max_age is not None else default_max_age_s()
    trusted_from = trust_path or trust_file()
    trust = load_trust(trusted_from)
    envelope = read_json(report_path)
    try:
        stmt = verify_report(envelope, trust, max_age_s=max_age_s)
    except ReportRejected as exc:
        raise Refused(f"{report_path}: rejected: {exc.reason}") from exc
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
        age = time.time() - parse_time(predicate["generated_at"])
        console.print(f"[bold green]AUTHENTIC[/] {escape(str(report_path))}: signed by trusted key "
                      f"{', '.join(signers)}, payload unmodified, {age:.0f} s old (max {max_age_s:.0f} s)",
                      highlight=False)
        colour = "green" if overall == "green" else "red"
        console.print(f"verdict [bold {colour}]{overall.upper()}[/] for {escape(str(predicate['root']))} "
                      f"({len(predicate['checks'])} checks)", highlight=False)
        if not ok:
            err_console.print("[red]--require-green: the report's verdict is red[/]")
    return OK if ok else FAILED

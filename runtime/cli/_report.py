"""`lume report verify REPORT`: is a readiness report authentic, unmodified, trusted, fresh and
(with --root) about this root?"""
from __future__ import annotations

import time
from pathlib import Path

import click

from ._errors import BadInput, LumeGroup, Refused
from ._options import AliasOption, Duration, json_option
from ._output import FAILED, OK, console, emit_json, err_console, escape


@click.group(cls=LumeGroup)
def report() -> None:
    """Signed readiness reports."""


@report.command("verify")
@click.argument("report_path", metavar="REPORT", type=click.Path(path_type=Path))
@click.option("--trust-file", "trust_path", cls=AliasOption, hidden_aliases=("--trust",),
              type=click.Path(path_type=Path), default=None,
              help="Trust file (default: LUME_TRUST_FILE, the configuration, <key dir>/trusted_keys.json).")
@click.option("--max-age", type=Duration(), default=None,
              help="Oldest acceptable report, with a unit: 24h, 90m, 2d (default: the "
                   "readiness_report row of evidence_freshness.v1).")
@click.option("--root", "root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The root the report must vouch for: its recorded root and the digests of "
                   "its subjects found there must match.")
@click.option("--require-green", is_flag=True,
              help="Also exit 1 when the report's verdict is red or partial.")
@json_option
def verify(report_path: Path, trust_path: Path | None, max_age: float | None, root: Path | None,
           require_green: bool, as_json: bool) -> int:
    """Exit 0 only for an authentic, unmodified, trusted and fresh report (bound to --root when
    given); 1 with the reason when it does not count; 2 when it is not a readable envelope."""
    from lume.runtime.core import (
        MalformedEnvelope,
        ReportRejected,
        default_max_age_s,
        load_trust,
        parse_time,
        read_envelope,
        signed_by,
        span_text,
        trust_file,
        verify_report,
    )
    from lume.verifiers import bind

    max_age_s = max_age if max_age is not None else default_max_age_s()
    trusted_from = trust_path or trust_file()
    trust = load_trust(trusted_from)
    try:
        envelope = read_envelope(report_path)
        stmt = verify_report(envelope, trust, max_age_s=max_age_s)
    except MalformedEnvelope as exc:
        raise BadInput(exc.reason) from exc
    except ReportRejected as exc:
        raise Refused(f"{report_path}: rejected: {exc.reason}") from exc
    predicate = stmt["predicate"]
    binding = None
    if root is not None:
        if not root.is_dir():
            raise BadInput(f"{root}: not a folder (--root names the root the report must vouch for)")
        binding = bind(stmt, root)
        if not binding.ok:
            raise Refused(f"{report_path}: rejected: not a report for {root}: "
                          + "; ".join(binding.problems[:5])
                          + (f" (+{len(binding.problems) - 5} more)" if len(binding.problems) > 5 else ""))
    overall = predicate["verdicts"]["overall"]
    signers = signed_by(envelope, trust)
    ok = not require_green or overall == "green"
    causes = predicate.get("causes") or []
    if as_json:
        emit_json({"ok": ok, "report": str(report_path), "overall": overall,
                   "verdicts": predicate["verdicts"], "generated_at": predicate["generated_at"],
                   "root": predicate["root"], "signed_by": signers, "trust_file": str(trusted_from),
                   "max_age_s": max_age_s, "causes": causes,
                   "bound_to": None if binding is None else {
                       "root": binding.root, "subjects": binding.subjects,
                       "checked": binding.checked, "unreachable": binding.unreachable}})
    else:
        age = time.time() - parse_time(predicate["generated_at"])
        console.print(f"[bold green]AUTHENTIC[/] {escape(str(report_path))}: signed by trusted key "
                      f"{', '.join(signers)}, payload unmodified, {span_text(age)} old "
                      f"(max {span_text(max_age_s)})", highlight=False)
        if binding is not None:
            console.print(escape(binding.summary()), highlight=False)
        colour = {"green": "green", "partial": "yellow"}.get(overall, "red")
        console.print(f"verdict [bold {colour}]{overall.upper()}[/] for {escape(str(predicate['root']))} "
                      f"({len(predicate['checks'])} checks)", highlight=False)
        for cause in causes:
            console.print(f"  why: {escape(cause)}", highlight=False)
        if not ok:
            err_console.print(f"[red]--require-green: the report's verdict is {overall}[/]")
    return OK if ok else FAILED

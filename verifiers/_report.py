"""Writing a signed readiness report: the DSSE envelope and its Markdown and HTML renderings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lume.runtime.core import Sealed, decode_statement, write_json, write_stream, write_text

from ._render import render_html, render_markdown


def write_report(envelope: dict[str, Any] | Sealed, path: Path, *, predicate: dict[str, Any] | None = None,
                 subjects: list[dict[str, Any]] | None = None) -> list[Path]:
    """Write the envelope (JSON) and its Markdown and HTML renderings beside it, atomically.
    `predicate` and `subjects` are the ones just signed into `envelope` (saves decoding it
    again). A `Sealed` envelope is written piece by piece: a large root's report is never in
    memory twice."""
    path = Path(path)
    given = predicate is not None and subjects is not None
    if isinstance(envelope, Sealed):
        if not given:
            raise TypeError("write_report: a Sealed envelope is written with the predicate and "
                            "subjects it signed")
        signatures = envelope.signatures
    else:
        signatures = envelope.get("signatures", [])
    stmt = {"subject": subjects, "predicate": predicate} if given else decode_statement(envelope)
    keyids = [s["keyid"] for s in signatures]
    md, html = path.with_suffix(".md"), path.with_suffix(".html")
    if isinstance(envelope, Sealed):
        write_stream(path, envelope.pieces())
    else:
        write_json(path, envelope)
    write_text(md, render_markdown(stmt, keyids, report_name=path.name))
    write_text(html, render_html(stmt, keyids, report_name=path.name))
    return [path, md, html]

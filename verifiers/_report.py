"""Writing a signed readiness report: the DSSE envelope and its Markdown and HTML renderings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lume.runtime.core import Sealed, decode_statement, write_json, write_stream, write_text

from ._render import render_html, render_markdown


def write_report(envelope: dict[str, Any] | Sealed, path: Path, *,
                 predicate: dict[str, Any] | None = None) -> list[Path]:
    """Write the envelope (JSON) and its Markdown and HTML renderings beside it, atomically.
    `predicate` is the one just signed into `envelope` (saves decoding it again). A `Sealed`
    envelope is written piece by piece: a large root's report is never in memory twice."""
    path = Path(path)
    if isinstance(envelope, Sealed):
        if predicate is None:
            raise TypeError("write_report: a Sealed envelope is written with the predicate it signed")
        signatures = envelope.signatures
    else:
        signatures = envelope.get("signatures", [])
    stmt = {"predicate": predicate} if predicate is not None else decode_statement(envelope)
    keyids = [s["keyid"] for s in signatures]
    md, html = path.with_suffix(".md"), path.with_suffix(".html")
    if isinstance(envelope, Sealed):
        write_stream(path, envelope.pieces())
    else:
        write_json(path, envelope)
    write_text(md, render_markdown(stmt, keyids, report_name=path.name))
    write_text(html, render_html(stmt, keyids, report_name=path.name))
    return [path, md, html]

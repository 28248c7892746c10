"""Writing a signed readiness report: the DSSE envelope and its Markdown and HTML renderings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lume.runtime.core import decode_statement, write_json, write_text

from ._render import render_html, render_markdown


def write_report(envelope: dict[str, Any], path: Path, *,
                 predicate: dict[str, Any] | None = None) -> list[Path]:
    """Write the envelope (JSON) and its Markdown and HTML renderings beside it, atomically.
    `predicate` is the one just signed into `envelope` (saves decoding it again)."""
    path = Path(path)
    stmt = {"predicate": predicate} if predicate is not None else decode_statement(envelope)
    keyids = [s["keyid"] for s in envelope.get("signatures", [])]
    md, html = path.with_suffix(".md"), path.with_suffix(".html")
    write_json(path, envelope)
    write_text(md, render_markdown(stmt, keyids, report_name=path.name))
    write_text(html, render_html(stmt, keyids, report_name=path.name))
    return [path, md, html]

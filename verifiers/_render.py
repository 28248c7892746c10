"""Human-readable renderings of a readiness Statement: Markdown and one self-contained HTML page.

Both show the verdict, what was verified (root, tool, contracts commit, signer), a table of
checks (red / green / amber for inconclusive) and every piece of evidence. The HTML page has
inline CSS and no scripts or external resources, so it opens offline from the report folder.
"""
from __future__ import annotations

import json
from html import escape
from typing import Any

STATUS_MARK = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}
EVIDENCE_LIMIT = 200  # per check in the renderings; the signed JSON always has all of it


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _verdict_rows(p: dict[str, Any]) -> list[tuple[str, str]]:
    """(verdict, value) rows; rig_safe and data_sound say which checks they rest on."""
    v = p["verdicts"]
    rests = v.get("rests_on") or {}
    rows = []
    for k in ("overall", "rig_safe", "data_sound", "completion_ready", "mac5_heavy_reconstruction_allowed"):
        value = _value(v[k])
        if k in rests:
            value += f" (rests on: {', '.join(rests[k]) or 'no check'})"
        rows.append((k, value))
    return rows


def _why(p: dict[str, Any]) -> list[str]:
    """One line per cause of a red or partial report (older reports carry none)."""
    return list(p.get("causes") or [])


def _not_run(p: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(n["id"], n["kind"], n["reason"]) for n in p.get("not_run") or []]


TIME_COLUMNS = ("evidence", "source", "field", "time", "age_s", "max_age_s", "fresh")


def _times(p: dict[str, Any]) -> list[list[str]]:
    """The completion gate's evidence times (what each verdict rests on, and how old it was)."""
    return [[_value(t[k]) for k in TIME_COLUMNS] for t in (p.get("gate") or {}).get("evidence_times") or []]


def _md_cell(text: Any) -> str:
    return _value(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(stmt: dict[str, Any], keyids: list[str], *, report_name: str = "report") -> str:
    p = stmt["predicate"]
    overall = p["verdicts"]["overall"]
    out = [
        f"# LUME readiness report: **{overall.upper()}**",
        "",
        f"- root: `{p['root']}`",
        f"- generated: {p['generated_at']} by {p['tool']['name']} {p['tool']['version']}",
        f"- contracts commit: {p['contracts_commit'] or 'not in a git checkout'} "
        f"({len(p['contracts'])} contracts)",
        f"- signed by key: {', '.join(keyids) or 'UNSIGNED'} (check with `lume report verify {report_name}`)",
        f"- subjects: {len(p['subjects'])} files",
        "",
        "| verdict | value |",
        "|---|---|",
        *(f"| {k} | {_md_cell(v)} |" for k, v in _verdict_rows(p)),
        "",
    ]
    if _why(p):
        out += [f"## Why {overall.upper()}", "", *(f"- {_md_cell(c)}" for c in _why(p)), ""]
    if _not_run(p):
        out += ["## Not run", "", "| check | kind | reason |", "|---|---|---|",
                *(f"| `{i}` | {k} | {_md_cell(r)} |" for i, k, r in _not_run(p)), ""]
    if _times(p):
        out += ["## Evidence times", "", "| " + " | ".join(TIME_COLUMNS) + " |",
                "|" + "---|" * len(TIME_COLUMNS),
                *("| " + " | ".join(_md_cell(x) for x in row) + " |" for row in _times(p)), ""]
    out += [
        "## Checks",
        "",
        "| check | status | invariants | evidence | ms |",
        "|---|---|---|---|---|",
    ]
    for c in p["checks"]:
        out.append(f"| `{c['id']}` {_md_cell(c['title'])} | **{STATUS_MARK[c['status']]}** | "
                   f"{', '.join(c['invariants']) or '-'} | {len(c['evidence'])} | {c['duration_ms']:.0f} |")
    for c in p["checks"]:
        out += ["", f"### {STATUS_MARK[c['status']]} `{c['id']}`: {c['title']}", ""]
        if not c["evidence"]:
            out.append("(no evidence)")
            continue
        out += ["| file | field | expected | found | message |", "|---|---|---|---|---|"]
        for e in c["evidence"][:EVIDENCE_LIMIT]:
            out.append(f"| {_md_cell(e['file'] or '-')} | {_md_cell(e['field'] or '-')} | "
                       f"{_md_cell(e['expected'])} | {_md_cell(e['found'])} | {_md_cell(e['message'])} |")
        if len(c["evidence"]) > EVIDENCE_LIMIT:
            out.append(f"\n… {len(c['evidence']) - EVIDENCE_LIMIT} more in the signed JSON report")
    return "\n".join(out) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#1d1d1f}
h1 .v{padding:.1em .5em;border-radius:.3em;color:#fff}
.green{background:#1a7f37}.red{background:#cf222e}.amber,.partial{background:#9a6700}
table{border-collapse:collapse;margin:.8em 0;width:100%}
th,td{border:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.s{color:#fff;font-weight:600;white-space:nowrap}
code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
"""
_STATUS_CLASS = {"pass": "green", "fail": "red", "inconclusive": "amber"}


def render_html(stmt: dict[str, Any], keyids: list[str], *, report_name: str = "report") -> str:
    p = stmt["predicate"]
    overall = p["verdicts"]["overall"]
    h = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>LUME readiness: {escape(overall)}</title><style>{_CSS}</style></head><body>",
        f'<h1>LUME readiness report <span class="v {escape(overall)}">{escape(overall.upper())}</span></h1>',
        "<table>",
        f"<tr><th>root</th><td><code>{escape(p['root'])}</code></td></tr>",
        f"<tr><th>generated</th><td>{escape(p['generated_at'])} by {escape(p['tool']['name'])} "
        f"{escape(p['tool']['version'])}</td></tr>",
        f"<tr><th>contracts commit</th><td><code>{escape(p['contracts_commit'] or 'not in a git checkout')}"
        f"</code> ({len(p['contracts'])} contracts)</td></tr>",
        f"<tr><th>signed by key</th><td><code>{escape(', '.join(keyids) or 'UNSIGNED')}</code> "
        f"(verify: <code>lume report verify {escape(report_name)}</code>)</td></tr>",
        f"<tr><th>subjects</th><td>{len(p['subjects'])} files</td></tr>",
        *(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _verdict_rows(p)),
        "</table>",
    ]
    if _why(p):
        h += [f"<h2>Why {escape(overall.upper())}</h2><ul>",
              *(f"<li>{escape(c)}</li>" for c in _why(p)), "</ul>"]
    if _not_run(p):
        h += ["<h2>Not run</h2><table><tr><th>check</th><th>kind</th><th>reason</th></tr>",
              *(f"<tr><td><code>{escape(i)}</code></td><td>{escape(k)}</td><td>{escape(r)}</td></tr>"
                for i, k, r in _not_run(p)), "</table>"]
    if _times(p):
        h += ["<h2>Evidence times</h2><table><tr>" + "".join(f"<th>{c}</th>" for c in TIME_COLUMNS) + "</tr>",
              *("<tr>" + "".join(f"<td>{escape(x)}</td>" for x in row) + "</tr>" for row in _times(p)),
              "</table>"]
    h += [
        "<h2>Checks</h2>",
        "<table><tr><th>check</th><th>status</th><th>invariants</th><th>evidence</th><th>ms</th></tr>",
    ]
    for c in p["checks"]:
        h.append(f"<tr><td><code>{escape(c['id'])}</code> {escape(c['title'])}</td>"
                 f'<td class="s {_STATUS_CLASS[c["status"]]}">{STATUS_MARK[c["status"]]}</td>'
                 f"<td>{escape(', '.join(c['invariants']) or '-')}</td>"
                 f"<td>{len(c['evidence'])}</td><td>{c['duration_ms']:.0f}</td></tr>")
    h.append("</table><h2>Evidence</h2>")
    for c in p["checks"]:
        opened = " open" if c["status"] != "pass" else ""
        h.append(f"<details{opened}><summary>{STATUS_MARK[c['status']]} {escape(c['id'])}: "
                 f"{escape(c['title'])}</summary>")
        h.append("<table><tr><th>file</th><th>field</th><th>expected</th><th>found</th><th>message</th></tr>")
        for e in c["evidence"][:EVIDENCE_LIMIT]:
            h.append("<tr>" + "".join(f"<td><code>{escape(_value(x))}</code></td>" for x in (
                e["file"] or "-", e["field"] or "-", e["expected"], e["found"]))
                + f"<td>{escape(e['message'])}</td></tr>")
        h.append("</table>")
        if len(c["evidence"]) > EVIDENCE_LIMIT:
            h.append(f"<p>… {len(c['evidence']) - EVIDENCE_LIMIT} more in the signed JSON report</p>")
        h.append("</details>")
    h.append("<h2>Contracts</h2><table><tr><th>id</th><th>file</th><th>sha256</th></tr>")
    h += [f"<tr><td><code>{escape(c['id'])}</code></td><td>{escape(c['file'])}</td>"
          f"<td><code>{escape(c['sha256'])}</code></td></tr>" for c in p["contracts"]]
    h.append("</table></body></html>")
    return "\n".join(h) + "\n"

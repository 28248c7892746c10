"""Human-readable renderings of a readiness Statement: Markdown and one self-contained HTML page.

Both are written for the operator who has to act on them: the verdict first, then one line per
failing or inconclusive check saying what failed, where, and the next step (check_remediation.v1
through `next_step`); the failing evidence rows come first and highlighted, the rows that held
are folded, and the contract table is folded at the bottom. A completion-gate report is titled
as one, and a Mac4 it could not reach is its own state ("MAC4 UNREACHABLE"), not a rig or data
verdict. The HTML page has inline CSS and no scripts or external resources (it opens offline
from the report folder) and reads at 1280 px and at a phone's width.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import Any

from lume.runtime.core import next_step

STATUS_MARK = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}
STATUS_ORDER = {"fail": 0, "inconclusive": 1, "pass": 2}
EVIDENCE_LIMIT = 200  # per check in the renderings; the signed JSON always has all of it
KEYID_RULE = ("key id = SHA-256 (hex) of the raw 32-byte Ed25519 public key; not securesystemslib's "
              "default key id")
UNREACHABLE = "mac4_unreachable"


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


# --- what the page says, independent of its markup ---------------------------------------------

def is_gate(p: dict[str, Any]) -> bool:
    return "gate" in p


def title_of(p: dict[str, Any]) -> str:
    return "Mac4-first completion-gate report" if is_gate(p) else "LUME readiness report"


def unreachable_ports(p: dict[str, Any]) -> list[dict[str, Any]]:
    """The ports a completion gate's preflight could not reach (empty for any other report)."""
    gate = p.get("gate") or {}
    if gate.get("full_audit_ran", True):
        return []
    return [q for q in (gate.get("preflight") or {}).get("ports") or [] if not q.get("reachable")]


def state_of(p: dict[str, Any]) -> str:
    """green / red / partial, or mac4_unreachable for a gate that could not look at Mac4."""
    return UNREACHABLE if unreachable_ports(p) else p["verdicts"]["overall"]


def state_label(state: str) -> str:
    return "MAC4 UNREACHABLE" if state == UNREACHABLE else state.upper()


def _rows_not_held(c: dict[str, Any]) -> list[dict[str, Any]]:
    """The evidence rows behind a non-passing check: those marked `outcome`; in a report written
    before `outcome` existed, every row (any of them may be the cause)."""
    if c["status"] == "pass":
        return []
    marked = [e for e in c["evidence"] if e.get("outcome")]
    return marked or list(c["evidence"])


def _ordered(c: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows shown open: violated first, then unchecked, then warnings; rows that held)."""
    bad = _rows_not_held(c)
    ids = {id(e) for e in bad}
    bad.sort(key=lambda e: 0 if e.get("outcome") == "violated" else 1)
    warnings = [e for e in c["evidence"] if id(e) not in ids and e.get("warning")]
    held = [e for e in c["evidence"] if id(e) not in ids and not e.get("warning")]
    return bad + warnings, held


@dataclass(frozen=True)
class Action:
    """One line of "what to do": a failing or inconclusive check, what failed, where, the next step."""

    check: str
    status: str
    what: str
    where: str
    next: str


def actions(p: dict[str, Any]) -> list[Action]:
    out = []
    for c in sorted(p["checks"], key=lambda c: STATUS_ORDER[c["status"]]):
        if c["status"] == "pass":
            continue
        bad = _rows_not_held(c)
        first = bad[0] if bad else {}
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        what = (first.get("message") or c["title"]) + more
        where = ": ".join(_value(x) for x in (first.get("file"), first.get("field")) if x) or "-"
        out.append(Action(c["id"], c["status"], what, where,
                          next_step(c["id"], c["status"], first, root=p["root"]) or ""))
    return out


def verdict_rows(p: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(verdict, value, what it means) rows: what each verdict rests on, and why a null is null."""
    v = p["verdicts"]
    rests = v.get("rests_on") or {}
    down = unreachable_ports(p)
    rows = []
    for k in ("overall", "rig_safe", "data_sound"):
        value, note = _value(v[k]), ""
        if k != "overall" and down:
            value = "not judged (Mac4 unreachable)"
            note = f"the full audit did not run; the signed JSON records {_value(v[k])}: a gate that could not look is never safe"
        elif k != "overall" and v[k] is None:
            note = "not judged: a partial run (a check of the default set did not run)"
        if k in rests:
            note = "; ".join(x for x in (note, f"rests on: {', '.join(rests[k]) or 'no check'}") if x)
        rows.append((k, value, note))
    for k in ("completion_ready", "mac5_heavy_reconstruction_allowed"):
        value, note = _value(v[k]), ""
        if v[k] is None:
            note = ("not judged: no completion gate ran in this report (`lume gate mac4-first` "
                    "writes the report that judges it)")
        elif down:
            note = "false: Mac4 was unreachable, so the full audit did not run"
        elif k == "mac5_heavy_reconstruction_allowed":
            note = "true only with completion_ready true in a green report"
        rows.append((k, value, note))
    return rows


def other_causes(p: dict[str, Any], todo: list[Action]) -> list[str]:
    """The predicate's causes that "What to do" does not already say (partial runs, no check ran)."""
    said = tuple(f"{a.check} " for a in todo)
    return [c for c in p.get("causes") or [] if not c.startswith(said)]


def _not_run(p: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(n["id"], n["kind"], n["reason"]) for n in p.get("not_run") or []]


TIME_COLUMNS = ("evidence", "source", "field", "time", "age_s", "max_age_s", "fresh")


def _times(p: dict[str, Any]) -> list[list[str]]:
    """The completion gate's evidence times (what each verdict rests on, and how old it was)."""
    return [[_value(t[k]) for k in TIME_COLUMNS] for t in (p.get("gate") or {}).get("evidence_times") or []]


def _checks(p: dict[str, Any]) -> list[dict[str, Any]]:
    """Failing checks first, then inconclusive, then passing (each group by id)."""
    return sorted(p["checks"], key=lambda c: (STATUS_ORDER[c["status"]], c["id"]))


# --- Markdown -----------------------------------------------------------------------------------

def _md_cell(text: Any) -> str:
    return _value(text).replace("|", "\\|").replace("\n", " ")


def _md_rows(rows: list[dict[str, Any]], mark: bool) -> list[str]:
    out = ["| | file | field | expected | found | message |", "|---|---|---|---|---|---|"]
    for e in rows[:EVIDENCE_LIMIT]:
        flag = {"violated": "**✗**", "unchecked": "**?**"}.get(e.get("outcome", ""), "!" if e.get("warning") else "✓")
        out.append(f"| {flag if mark else '✓'} | {_md_cell(e['file'] or '-')} | {_md_cell(e['field'] or '-')} | "
                   f"{_md_cell(e['expected'])} | {_md_cell(e['found'])} | {_md_cell(e['message'])} |")
    if len(rows) > EVIDENCE_LIMIT:
        out.append(f"\n… {len(rows) - EVIDENCE_LIMIT} more in the signed JSON report")
    return out


def render_markdown(stmt: dict[str, Any], keyids: list[str], *, report_name: str = "report") -> str:
    p = stmt["predicate"]
    state = state_of(p)
    out = [f"# {title_of(p)}: **{state_label(state)}**", ""]
    todo = actions(p)
    if todo:
        out += ["## What to do", ""]
        for a in todo:
            out.append(f"- **{STATUS_MARK[a.status]}** `{a.check}`: {_md_cell(a.what)}  \n"
                       f"  where: {_md_cell(a.where)}  \n  next: {_md_cell(a.next)}")
        out.append("")
    out += ["| verdict | value | meaning |", "|---|---|---|",
            *(f"| {k} | {_md_cell(v)} | {_md_cell(n)} |" for k, v, n in verdict_rows(p)), ""]
    if other_causes(p, todo):
        out += [f"## Why {state_label(state)}", "", *(f"- {_md_cell(c)}" for c in other_causes(p, todo)), ""]
    out += [
        "## About this report",
        "",
        f"- root: `{p['root']}`",
        f"- generated: {p['generated_at']} by {p['tool']['name']} {p['tool']['version']}",
        f"- contracts commit: {p['contracts_commit'] or 'not in a git checkout'} ({len(p['contracts'])} contracts)",
        f"- signing key id: `{', '.join(keyids) or 'UNSIGNED'}` ({KEYID_RULE}; `lume keys list` shows "
        f"the public key beside its key id); check the signature with `lume report verify {report_name}`",
        f"- subjects: {len(stmt['subject'])} files",
        "",
    ]
    if _not_run(p):
        out += ["## Not run", "", "| check | kind | reason |", "|---|---|---|",
                *(f"| `{i}` | {k} | {_md_cell(r)} |" for i, k, r in _not_run(p)), ""]
    if _times(p):
        out += ["## Evidence times", "", "| " + " | ".join(TIME_COLUMNS) + " |",
                "|" + "---|" * len(TIME_COLUMNS),
                *("| " + " | ".join(_md_cell(x) for x in row) + " |" for row in _times(p)), ""]
    out += ["## Checks", "", "| check | status | invariants | evidence rows | ms |", "|---|---|---|---|---|"]
    for c in _checks(p):
        out.append(f"| `{c['id']}` {_md_cell(c['title'])} | **{STATUS_MARK[c['status']]}** | "
                   f"{', '.join(c['invariants']) or '-'} | {len(c['evidence'])} | {c['duration_ms']:.0f} |")
    for c in _checks(p):
        out += ["", f"### {STATUS_MARK[c['status']]} `{c['id']}`: {c['title']}", ""]
        if not c["evidence"]:
            out.append("(no evidence)")
            continue
        shown, held = _ordered(c)
        if shown:
            out += _md_rows(shown, True)
        if held:
            out += ["", f"<details><summary>{len(held)} row(s) that held</summary>", "",
                    *_md_rows(held, False), "", "</details>"]
    out += ["", "<details><summary>Contracts checked against ({} files)</summary>".format(len(p["contracts"])),
            "", "| id | file | sha256 |", "|---|---|---|",
            *(f"| `{c['id']}` | {c['file']} | `{c['sha256']}` |" for c in p["contracts"]), "", "</details>"]
    return "\n".join(out) + "\n"


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;padding:1em;max-width:1400px;color:#1d1d1f}
h1{font-size:1.5em;margin:.2em 0 .5em}h2{font-size:1.15em;margin:1.2em 0 .4em}
.v{padding:.1em .5em;border-radius:.3em;color:#fff;white-space:nowrap}
.green{background:#1a7f37}.red{background:#cf222e}.amber,.partial{background:#9a6700}
.mac4_unreachable{background:#57606a}
.todo{list-style:none;padding:0;margin:.5em 0}
.todo li{border-left:.35em solid #cf222e;background:#fff1f0;padding:.45em .7em;margin:.4em 0}
.todo li.inconclusive{border-color:#9a6700;background:#fff8e5}
.todo .k{font-weight:700}.todo .lbl{color:#57606a;font-weight:600;margin-right:.3em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5em 0;width:100%}
th,td{border:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f6f8fa}td.s{color:#fff;font-weight:600;white-space:nowrap}
tr.violated td{background:#ffebe9}tr.violated td:first-child{box-shadow:inset .3em 0 #cf222e}
tr.unchecked td{background:#fff8c5}tr.warning td{background:#fffbe6}
td.m{color:#57606a}
code{font:13px ui-monospace,Menlo,Consolas,monospace}
code.h{word-break:break-all}
details{margin:.5em 0}summary{cursor:pointer;font-weight:600;padding:.2em 0}
details.check{border:1px solid #d0d7de;border-radius:.3em;padding:.2em .6em}
details.check.fail{border-color:#cf222e}details.check.inconclusive{border-color:#9a6700}
@media (max-width:700px){body{font-size:14px;padding:.5em}th,td{padding:.25em .35em}
 table.ev td:nth-child(2),table.ev th:nth-child(2){display:none}}
"""
_STATUS_CLASS = {"pass": "green", "fail": "red", "inconclusive": "amber"}


def _code(v: Any) -> str:
    text = _value(v)
    long_token = len(text) > 40 and " " not in text  # a digest or a long path may break anywhere
    return f'<code class="h">{escape(text)}</code>' if long_token else f"<code>{escape(text)}</code>"


def _prose(text: str) -> str:
    """Escaped text with `backticked` commands as <code> (the remediation table writes commands so)."""
    parts = escape(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: leave the text as it is
        return escape(text)
    return "".join(f"<code>{x}</code>" if i % 2 else x for i, x in enumerate(parts))


def _html_rows(rows: list[dict[str, Any]]) -> list[str]:
    h = ['<div class="scroll"><table class="ev"><tr><th>message</th><th>file</th><th>field</th>'
         "<th>expected</th><th>found</th></tr>"]
    for e in rows[:EVIDENCE_LIMIT]:
        cls = e.get("outcome") or ("warning" if e.get("warning") else "held")
        h.append(f'<tr class="{cls}"><td>{escape(e["message"])}</td>'
                 + "".join(f"<td>{_code(x)}</td>" for x in (e["file"] or "-", e["field"] or "-", e["expected"],
                                                           e["found"])) + "</tr>")
    h.append("</table></div>")
    if len(rows) > EVIDENCE_LIMIT:
        h.append(f"<p>… {len(rows) - EVIDENCE_LIMIT} more in the signed JSON report</p>")
    return h


def render_html(stmt: dict[str, Any], keyids: list[str], *, report_name: str = "report") -> str:
    p = stmt["predicate"]
    state = state_of(p)
    title = title_of(p)
    h = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}: {escape(state_label(state))}</title><style>{_CSS}</style></head><body>",
        f'<h1 id="verdict">{escape(title)} <span class="v {escape(state)}">{escape(state_label(state))}</span></h1>',
    ]
    todo = actions(p)
    if todo:
        h.append('<h2>What to do</h2><ul class="todo" id="todo">')
        for a in todo:
            h.append(f'<li class="{a.status}"><span class="k">{STATUS_MARK[a.status]} {escape(a.check)}</span>: '
                     f"{escape(a.what)}<br><span class=\"lbl\">where</span>{_code(a.where)}<br>"
                     f'<span class="lbl">next</span>{_prose(a.next)}</li>')
        h.append("</ul>")
    h += ['<div class="scroll"><table id="verdicts"><tr><th>verdict</th><th>value</th><th>meaning</th></tr>',
          *(f"<tr><th>{escape(k)}</th><td><b>{escape(v)}</b></td><td class=\"m\">{_prose(n)}</td></tr>"
            for k, v, n in verdict_rows(p)), "</table></div>"]
    if other_causes(p, todo):
        h += [f"<h2>Why {escape(state_label(state))}</h2><ul>",
              *(f"<li>{escape(c)}</li>" for c in other_causes(p, todo)), "</ul>"]
    if _not_run(p):
        h += ['<details><summary>Not run ({})</summary><div class="scroll"><table>'.format(len(_not_run(p))),
              "<tr><th>check</th><th>kind</th><th>reason</th></tr>",
              *(f"<tr><td><code>{escape(i)}</code></td><td>{escape(k)}</td><td>{escape(r)}</td></tr>"
                for i, k, r in _not_run(p)), "</table></div></details>"]
    if _times(p):
        h += ['<h2>Evidence times</h2><div class="scroll"><table><tr>'
              + "".join(f"<th>{c}</th>" for c in TIME_COLUMNS) + "</tr>",
              *("<tr>" + "".join(f"<td>{escape(x)}</td>" for x in row) + "</tr>" for row in _times(p)),
              "</table></div>"]
    h += ["<h2>Checks</h2>",
          '<div class="scroll"><table id="checks"><tr><th>check</th><th>status</th><th>invariants</th>'
          "<th>evidence rows</th><th>ms</th></tr>"]
    for c in _checks(p):
        h.append(f'<tr><td><code>{escape(c["id"])}</code> {escape(c["title"])}</td>'
                 f'<td class="s {_STATUS_CLASS[c["status"]]}">{STATUS_MARK[c["status"]]}</td>'
                 f"<td>{escape(', '.join(c['invariants']) or '-')}</td>"
                 f"<td>{len(c['evidence'])}</td><td>{c['duration_ms']:.0f}</td></tr>")
    h.append("</table></div><h2>Evidence</h2>")
    for c in _checks(p):
        failing = c["status"] != "pass"
        h.append(f'<details class="check {c["status"]}" id="check-{escape(c["id"])}"{" open" if failing else ""}>'
                 f"<summary>{STATUS_MARK[c['status']]} {escape(c['id'])}: {escape(c['title'])}</summary>")
        shown, held = _ordered(c)
        if shown:
            h += _html_rows(shown)
        if held:
            h.append(f'<details class="held"><summary>{len(held)} row(s) that held</summary>')
            h += _html_rows(held)
            h.append("</details>")
        if not c["evidence"]:
            h.append("<p>(no evidence)</p>")
        h.append("</details>")
    h += [
        "<h2>About this report</h2>",
        '<div class="scroll"><table id="about">',
        f"<tr><th>root</th><td>{_code(p['root'])}</td></tr>",
        f"<tr><th>generated</th><td>{escape(p['generated_at'])} by {escape(p['tool']['name'])} "
        f"{escape(p['tool']['version'])}</td></tr>",
        f"<tr><th>contracts commit</th><td>{_code(p['contracts_commit'] or 'not in a git checkout')} "
        f"({len(p['contracts'])} contracts)</td></tr>",
        f"<tr><th>signing key id</th><td>{_code(', '.join(keyids) or 'UNSIGNED')}<br>"
        f'<span class="m">{escape(KEYID_RULE)}; <code>lume keys list</code> shows the public key beside its '
        f"key id</span></td></tr>",
        f"<tr><th>check the signature</th><td><code>lume report verify {escape(report_name)}</code></td></tr>",
        f"<tr><th>subjects</th><td>{len(stmt['subject'])} files</td></tr>",
        "</table></div>",
        f'<details id="contracts"><summary>Contracts checked against ({len(p["contracts"])})</summary>'
        '<div class="scroll"><table><tr><th>id</th><th>file</th><th>sha256</th></tr>',
        *(f"<tr><td><code>{escape(c['id'])}</code></td><td>{escape(c['file'])}</td>"
          f"<td>{_code(c['sha256'])}</td></tr>" for c in p["contracts"]),
        "</table></div></details></body></html>",
    ]
    return "\n".join(h) + "\n"

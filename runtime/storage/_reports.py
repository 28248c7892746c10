"""README.md and the reports/ skeleton of a bundle, rendered from bundle.json alone.

Pure functions of the manifest (and the long take's session.json), so a rerun renders the
same bytes and every writer of bundle.json (update_bundle) keeps them in step.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from lume.generated.constants import BUNDLE_FILE
from lume.runtime.core import InputError, read_json, rfc3339

from ._policy import layout


def _when(t: float | None) -> str:
    if t is None:
        return "unknown"
    return rfc3339(t)


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _source_rows(doc: dict[str, Any]) -> list[str]:
    rows = ["| source | type | machine | status | files | bytes |", "|---|---|---|---|---|---|"]
    for s in doc["sources"]:
        files = s.get("files") or []
        rows.append(f"| `{s['source_id']}` | {s['source_type']} | {s['machine']} | {s.get('status', '—')} | "
                    f"{len(files)} | {_size(sum(f['byte_size'] for f in files))} |")
    return rows


def readme(doc: dict[str, Any]) -> str:
    lay = layout()
    lines = [
        f"# Rehearsal bundle `{doc['bundle_id']}`",
        "",
        f"`{BUNDLE_FILE}` ({doc['schema']}) is the manifest of this folder: every source with its",
        "checksums and byte sizes, the derived artifacts, the labels, the machine roles and the",
        "Rekordbox safety block. Heavy data may stay where it lives: a source can be a reference",
        "(path + sha256 + size) instead of a copy.",
        "",
        f"- created: {_when(doc['created_at_unix'])}",
        f"- canonical storage: {doc['primary_storage']['machine']} `{doc['primary_storage']['root']}`",
        f"- Rekordbox command authority: {doc['safety']['rekordbox_command_authority']}",
        "",
        "## Sources",
        "",
        *_source_rows(doc),
        "",
        "## Layout (bundle_layout.v1)",
        "",
    ]
    # folders and the files they must hold (not the free-text descriptions, which change often)
    for spec in lay["sources"].values():
        need = ", ".join(f"`{r}`" for r in spec["required"]) or "free-form"
        lines.append(f"- `{spec['folder']}` ({', '.join(spec['source_types'])}): {need}")
    for spec in lay["derived"].values():
        lines.append(f"- `{spec['folder']}`: {', '.join(f'`{r}`' for r in spec['required'])}")
    lines.append(f"- `{lay['reports']['folder']}`: {', '.join(f'`{r}`' for r in lay['reports']['allowed'])}")
    lines += ["", "## Check it", "", "```", "lume validate .", "lume verify <dance-sessions root>", "```", ""]
    return "\n".join(lines)


def bundle_summary(doc: dict[str, Any]) -> str:
    lines = [f"# Bundle summary: `{doc['bundle_id']}`", "", "## Sources", "", *_source_rows(doc), ""]
    lines += ["## Derived", ""]
    if doc["derived"]:
        lines += ["| derived | from | machine | tool | status | path |", "|---|---|---|---|---|---|"]
        lines += [f"| `{d['derived_id']}` | `{d['source_id']}` | {d['machine']} | {d['tool']} | {d['status']} | "
                  f"`{d['path']}` |" for d in doc["derived"]]
    else:
        lines.append("None yet (Mac5 reconstruction and the template analyzer write here).")
    lines += ["", "## Labels", ""]
    if doc["labels"]:
        by = Counter((lb["category"], lb["label"]) for lb in doc["labels"])
        lines += ["| category | label | windows |", "|---|---|---|"]
        lines += [f"| {c} | `{lab}` | {n} |" for (c, lab), n in sorted(by.items())]
    else:
        lines.append("No labels.")
    lines.append("")
    return "\n".join(lines)


def capture_quality(bundle_dir: Path, doc: dict[str, Any]) -> str:
    lines = [f"# Capture quality: `{doc['bundle_id']}`", ""]
    for s in doc["sources"]:
        lines.append(f"## `{s['source_id']}` ({s['source_type']}, {s['machine']})")
        lines.append("")
        lines.append(f"- status: {s.get('status', '—')}")
        if s.get("start_unix") is not None:
            lines.append(f"- start: {_when(s['start_unix'])}")
        if s.get("duration_s") is not None:
            lines.append(f"- duration: {s['duration_s']:.3f} s")
        session = Path(bundle_dir) / s["path"] / "session.json" if s["source_type"] == "long_take_video" else None
        if session is not None and session.is_file():
            try:
                video = read_json(session)["video"]
                lines.append(f"- video: {video['camera']}, {video['width']}x{video['height']} at "
                             f"{video['fps']:g} fps ({video['codec']})")
            except (InputError, KeyError, TypeError):
                lines.append("- video: session.json unreadable")
        n = sum(1 for lb in doc["labels"] if lb["source_id"] == s["source_id"])
        lines.append(f"- labels: {n} window(s)")
        lines.append("")
    return "\n".join(lines)


def storage_integrity(doc: dict[str, Any]) -> str:
    lines = [f"# Storage integrity: `{doc['bundle_id']}`", "",
             "What the bytes must be. `lume verify` re-hashes every file and compares.", ""]
    for s in doc["sources"]:
        lines.append(f"## `{s['source_id']}`")
        lines.append("")
        if s.get("archive_path"):
            lines.append(f"- archive: `{s['archive_path']}` sha256 `{s.get('sha256')}` ({_size(s.get('byte_size'))})")
        if s.get("storage"):
            lines.append(f"- storage: {s['storage']} (`{s.get('manifest_path')}`)")
        files = s.get("files") or []
        if files:
            lines += ["", "| file | sha256 | bytes |", "|---|---|---|"]
            lines += [f"| `{f['path']}` | `{f['sha256']}` | {f['byte_size']} |" for f in files]
        lines.append("")
    for d in doc["derived"]:
        if d.get("outputs"):
            lines += [f"## derived `{d['derived_id']}`", "", "| file | sha256 | bytes |", "|---|---|---|"]
            lines += [f"| `{o['path']}` | `{o['sha256']}` | {o['byte_size']} |" for o in d["outputs"]]
            lines.append("")
    return "\n".join(lines)


def render_all(bundle_dir: Path, doc: dict[str, Any]) -> dict[str, str]:
    """{bundle-relative path: text} of README.md and the layout's reports."""
    lay = layout()
    reports = lay["reports"]["folder"].rstrip("/")
    allowed = set(lay["reports"]["allowed"])
    renderers = {
        "bundle_summary.md": lambda: bundle_summary(doc),
        "capture_quality.md": lambda: capture_quality(bundle_dir, doc),
        "storage_integrity.md": lambda: storage_integrity(doc),
    }
    out = {"README.md": readme(doc)} if "README.md" in lay["top_level"]["allowed"] else {}
    out.update({f"{reports}/{name}": render() for name, render in renderers.items() if name in allowed})
    return out

"""V6 training pairs: the check of an NPZ against the layout and the pair format, and the builder.

`check_pairs` reads a pairs NPZ without pickle and returns evidence for every rule of
lume:contract:v6_training:v1 `pairs` and lume:contract:v6_conditioning:v1: array names, dtypes
and shapes (the conditioning width is the layout's), finite values, one-hot blocks with exactly
one hot value slot and every reserved slot cold, a recorded producer for every frame, split codes
and the cross-track rule (no track in both train and val). Counting is done in numpy with
integer results, so nothing depends on numpy 1 vs 2 casting rules.

`build_pairs` is seed 001's "JSONL + NPZ -> V6 pairs" step over a capture manifest: every
captured session's SAN frames (checked against their record contract and digests) get the
session's mode and emotion one-hot and the nearest audio feature frame as target.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lume.runtime.core import Evidence, InputError, Unreadable, get, held, iter_jsonl, validate_file, violated

from . import _layout as layout
from ._io import load_document, sha256_file
from ._npz import read_npz, write_npz

if TYPE_CHECKING:  # numpy is imported where arrays are made or read: `lume verify` imports this
    import numpy as np  # module, and a root without training data does not pay for numpy (0.1 s)

SHOWN = 5  # rows / tracks named per finding


def _rows(mask: np.ndarray) -> str:
    import numpy as np
    idx = np.flatnonzero(mask)
    more = f" (+{idx.size - SHOWN} more)" if idx.size > SHOWN else ""
    return ", ".join(str(int(i)) for i in idx[:SHOWN]) + more


def _dtype_ok(arr: np.ndarray, want: str) -> bool:
    import numpy as np
    if want == "unicode":
        return arr.dtype.kind == "U"
    return arr.dtype == np.dtype(want)


@dataclass
class PairsCheck:
    """What `check_pairs` found: the evidence, and the counts it rests on."""

    file: str
    evidence: list[Evidence] = field(default_factory=list)
    pairs: int = 0
    tracks: dict[str, list[str]] = field(default_factory=dict)  # split name -> tracks

    @property
    def ok(self) -> bool:
        return all(e.ok is True for e in self.evidence)


def check_pairs(path: Path, *, name: str | None = None) -> PairsCheck:
    """Check one pairs NPZ (InputError when the file is not an NPZ at all)."""
    import numpy as np
    file = name or str(path)
    result = PairsCheck(file)
    ev = result.evidence
    spec = layout.array_specs("pairs")
    data, refused = read_npz(Path(path))
    for key, why in sorted(refused.items()):
        ev.append(violated(f"array `{key}` cannot be read ({why})", file=file, field=key,
                           expected="a plain numpy array, read with allow_pickle=False", found="unreadable"))
    missing = [k for k in spec if k not in data and k not in refused]
    extra = sorted(k for k in data if k not in spec)
    if missing:
        ev.append(violated(f"pairs file lacks array(s) {', '.join(missing)}", file=file,
                           field=", ".join(missing),
                           expected=sorted(spec), found=sorted(data)))
    if extra:
        ev.append(violated(f"pairs file has array(s) the format does not declare: {', '.join(extra)}",
                           file=file, field=", ".join(extra), expected=sorted(spec), found=sorted(data)))
    sizes: dict[str, tuple[int, str]] = {"C": (layout.width(), f"the {layout.LAYOUT} width")}
    good: dict[str, np.ndarray] = {}
    for key, a in spec.items():
        arr = data.get(key)
        if arr is None:
            continue
        ok = True
        if not _dtype_ok(arr, a["dtype"]):
            ev.append(violated(f"`{key}` has dtype {arr.dtype}", file=file, field=key,
                               expected=a["dtype"], found=str(arr.dtype)))
            ok = False
        want = a["shape"]
        if arr.ndim != len(want):
            ev.append(violated(f"`{key}` has {arr.ndim} axes", file=file, field=key,
                               expected=f"shape {want}", found=list(arr.shape)))
            continue
        for axis, size in enumerate(want):
            got = int(arr.shape[axis])
            if isinstance(size, int):
                expected, why = size, "fixed"
            else:
                expected, why = sizes.setdefault(size, (got, f"`{key}` axis {axis}"))
            if got != expected:
                ev.append(violated(f"`{key}` axis {axis} is {got} wide; {size} = {expected} ({why})",
                                   file=file, field=f"{key}.shape[{axis}]", expected=expected, found=got))
                ok = False
        if ok:
            good[key] = arr
    n = sizes.get("N", (0, ""))[0]
    result.pairs = int(n)
    cond = good.get("conditioning")
    if cond is not None:
        ev += _check_conditioning(cond, file)
    target = good.get("target")
    if target is not None:
        bad = ~np.isfinite(target).all(axis=1)
        if bad.any():
            ev.append(violated(f"{int(bad.sum())} target row(s) hold NaN or infinity: rows {_rows(bad)}",
                               file=file, field="target", expected="finite values", found=int(bad.sum())))
    for key in ("track_id", "session_id"):
        arr = good.get(key)
        if arr is not None and (arr == "").any():
            empty = arr == ""
            ev.append(violated(f"{int(empty.sum())} pair(s) without a {key}: rows {_rows(empty)}", file=file,
                               field=key, expected="non-empty", found=int(empty.sum())))
    producer = good.get("producer")
    if producer is not None:
        ev += _check_producers(producer, file)
    split = good.get("split")
    tracks = good.get("track_id")
    if split is not None:
        ev += _check_split(split, tracks, file, result)
    if result.ok:
        ev.append(held(f"{n} pairs: conditioning {n}×{layout.width()} float32 finite with valid one-hot "
                       f"blocks, producer recorded for every frame, cross-track split "
                       f"({len(result.tracks.get('train', []))} train / {len(result.tracks.get('val', []))} "
                       f"val tracks)", file=file, expected=f"{layout.RULES} pairs", found=n))
    return result


def _check_conditioning(cond: np.ndarray, file: str) -> list[Evidence]:
    import numpy as np
    ev = []
    bad = ~np.isfinite(cond)
    if bad.any():
        rows = bad.any(axis=1)
        cols = sorted({int(c) for c in np.flatnonzero(bad.any(axis=0))})[:SHOWN]
        ev.append(violated(f"{int(rows.sum())} conditioning row(s) hold NaN or infinity: rows {_rows(rows)}, "
                           f"columns {cols}", file=file, field="conditioning",
                           expected="finite values", found=int(rows.sum())))
    for b in layout.one_hot_blocks():
        sub = cond[:, b.offset:b.stop]
        hot, cold = sub == layout.HOT, sub == layout.COLD
        where = f"conditioning[:, {b.offset}:{b.stop}] ({b.name})"
        other = ~(hot | cold)
        if other.any():
            rows = other.any(axis=1)
            ev.append(violated(f"{b.name}: {int(rows.sum())} row(s) hold values other than {layout.HOT:g} / "
                               f"{layout.COLD:g}: rows {_rows(rows)}", file=file, field=where,
                               expected=f"{layout.HOT:g} or {layout.COLD:g}", found=int(rows.sum())))
        count = np.count_nonzero(hot[:, list(b.active)], axis=1)
        several, none = count > 1, count == 0
        if several.any():
            ev.append(violated(f"{b.name}: {int(several.sum())} row(s) with more than one hot value: rows "
                               f"{_rows(several)}", file=file, field=where,
                               expected=f"exactly one of {', '.join(b.values)}",
                               found=f"{int(count.max())} hot"))
        if none.any():
            ev.append(violated(f"{b.name}: {int(none.sum())} row(s) with no hot value: rows {_rows(none)}",
                               file=file, field=where, expected=f"exactly one of {', '.join(b.values)}",
                               found="0 hot"))
        if b.reserved:
            reserved = ~cold[:, list(b.reserved)]
            rows = reserved.any(axis=1)
            if rows.any():
                bits = sorted({b.reserved[int(i)] for i in np.flatnonzero(reserved.any(axis=0))})
                ev.append(violated(f"{b.name}: reserved bit(s) {bits} set in {int(rows.sum())} row(s): rows "
                                   f"{_rows(rows)}", file=file, field=where,
                                   expected=f"reserved bits {list(b.reserved)} cold", found=bits))
    return ev


def _check_producers(producer: np.ndarray, file: str) -> list[Evidence]:
    import numpy as np
    ev = []
    empty = producer == ""
    if empty.any():
        ev.append(violated(f"{int(empty.sum())} frame(s) without a producer: rows {_rows(empty)}", file=file,
                           field="producer",
                           expected="the vector producer of every frame (seed 002 Workstream 2)",
                           found=int(empty.sum())))
    known = set(layout.producers())
    unknown = sorted(str(p) for p in np.unique(producer) if p and str(p) not in known)
    if unknown:
        ev.append(violated(f"unknown producer(s) {', '.join(unknown)}", file=file, field="producer",
                           expected=sorted(known), found=unknown))
    return ev


def _check_split(split: np.ndarray, tracks: np.ndarray | None, file: str,
                 result: PairsCheck) -> list[Evidence]:
    import numpy as np
    ev = []
    rules = layout.rules_data()["pairs"]["split"]
    codes = rules["codes"]
    known = np.isin(split, np.asarray(list(codes.values()), dtype=split.dtype))
    if not known.all():
        ev.append(violated(f"{int((~known).sum())} pair(s) with an unknown split code: rows {_rows(~known)}",
                           file=file, field="split", expected=codes,
                           found=sorted({int(v) for v in split[~known]})))
    if tracks is None or tracks.shape != split.shape:
        return ev
    names, inverse = np.unique(tracks, return_inverse=True)
    inverse = inverse.reshape(-1)
    present = {}
    for side, code in codes.items():
        counts = np.bincount(inverse[split == code], minlength=names.size)
        present[side] = counts > 0
        result.tracks[side] = [str(t) for t in names[present[side]]]
    both = present["train"] & present["val"]
    if both.any():
        listed = [str(t) for t in names[both]]
        ev.append(violated(f"track(s) in both train and val: {', '.join(listed[:SHOWN])}"
                           + (f" (+{len(listed) - SHOWN} more)" if len(listed) > SHOWN else ""),
                           file=file, field="track_id / split",
                           expected="cross-track split: each track in one split",
                           found=listed))
    for side in ("train", "val"):
        need = rules[f"min_{side}_tracks"]
        have = int(present[side].sum())
        if have < need:
            ev.append(violated(f"{have} {side} track(s)", file=file, field="split",
                               expected=f">= {need} {side} track(s)", found=have))
    return ev


# ------------------------------------------------------------------------------- building


@dataclass
class Built:
    path: Path
    pairs: int
    sessions: list[str]
    train_tracks: list[str]
    val_tracks: list[str]
    dropped: int  # SAN frames with no audio frame within max_skew_ms
    sha256: str
    byte_size: int


def _session_file(base: Path, session: dict[str, Any], role: str, manifest: Path,
                  digest: Callable[[Path], str]) -> Path:
    refs = [f for f in session["files"] if f["role"] == role]
    if not refs:
        raise InputError(f"{manifest}: session {session['session_id']} lists no {role} file")
    ref = refs[0]
    path = base / ref["path"]
    if not path.is_file():
        raise InputError(f"{path}: missing ({manifest}: session {session['session_id']} {role})")
    if path.stat().st_size != ref["byte_size"] or digest(path) != ref["sha256"]:
        raise InputError(f"{path}: differs from its sha256 / byte_size in {manifest} "
                         f"(session {session['session_id']} {role})")
    return path


def build_pairs(manifest: Path, out: Path, *, digest: Callable[[Path], str] = sha256_file) -> Built:
    """Pairs of every captured session of `manifest`, written to `out` (atomically, reproducibly)."""
    import numpy as np
    manifest = Path(manifest)
    doc = load_document(manifest, layout.MANIFEST)
    base = manifest.parent
    rules = layout.rules_data()
    skew = rules["audio_features"]["max_skew_ms"]
    codes = rules["pairs"]["split"]["codes"]
    rows: dict[str, list[Any]] = {k: [] for k in ("conditioning", "target", "track_id", "session_id",
                                                  "producer", "timestamp_ms")}
    sessions = sorted((s for s in doc["sessions"] if s["status"] == "captured"),
                      key=lambda s: s["session_id"])
    if not sessions:
        raise InputError(f"{manifest}: no captured session to build pairs from")
    dropped = 0
    for s in sessions:
        try:
            cond_mode = layout.encode([0.0] * layout.dynamics_block().width, s["mode"], s["emotion"])
        except KeyError as exc:
            raise InputError(f"{manifest}: session {s['session_id']}: {exc.args[0]}") from None
        san = _session_file(base, s, "san_jsonl", manifest, digest)
        try:
            checked = validate_file(san, get(layout.SAN_RECORD))
        except Unreadable as exc:
            raise InputError(str(exc)) from None
        if checked.problems:
            p = checked.problems[0]
            raise InputError(f"{san}:{p.line}: {p.path}: {p.message} ({checked.contract})")
        audio_path = _session_file(base, s, "audio_features", manifest, digest)
        audio, refused = read_npz(audio_path)
        if refused or "timestamp_ms" not in audio or "features" not in audio:
            raise InputError(f"{audio_path}: needs arrays timestamp_ms and features "
                             f"({layout.RULES} audio_features)")
        at = np.asarray(audio["timestamp_ms"], dtype=np.int64)
        feats = np.asarray(audio["features"], dtype=np.float32)
        if at.ndim != 1 or feats.ndim != 2 or feats.shape[0] != at.shape[0] or at.size == 0:
            raise InputError(f"{audio_path}: timestamp_ms [M] and features [M, K] disagree: "
                             f"{list(at.shape)} vs {list(feats.shape)}")
        for _, rec in iter_jsonl(san):
            t = int(rec["timestamp_ms"])
            j = int(np.searchsorted(at, t))
            near = [k for k in (j - 1, j) if 0 <= k < at.size]
            k = min(near, key=lambda k: abs(int(at[k]) - t))
            if abs(int(at[k]) - t) > skew:
                dropped += 1
                continue
            vec = cond_mode.copy()
            dyn = layout.dynamics_block()
            vec[dyn.offset:dyn.stop] = np.asarray(rec["dynamics_128"], dtype=np.float32)
            rows["conditioning"].append(vec)
            rows["target"].append(feats[k])
            rows["track_id"].append(s["track_id"])
            rows["session_id"].append(s["session_id"])
            rows["producer"].append(rec["producer"])
            rows["timestamp_ms"].append(t)
    tracks = sorted(set(rows["track_id"]))
    every = rules["pairs"]["split"]["val_every"]
    val = set(tracks[::every])
    if len(tracks) < 2:
        raise InputError(f"{manifest}: {len(tracks)} captured track(s) with pairs; "
                         f"a cross-track split needs 2 or more")
    arrays = {
        "conditioning": np.stack(rows["conditioning"]).astype(np.float32),
        "target": np.stack(rows["target"]).astype(np.float32),
        "track_id": np.asarray(rows["track_id"], dtype=str),
        "session_id": np.asarray(rows["session_id"], dtype=str),
        "producer": np.asarray(rows["producer"], dtype=str),
        "timestamp_ms": np.asarray(rows["timestamp_ms"], dtype=np.int64),
        "split": np.asarray([codes["val"] if t in val else codes["train"] for t in rows["track_id"]],
                            dtype=np.uint8),
    }
    data = write_npz(out, arrays)
    return Built(Path(out), len(rows["track_id"]), [s["session_id"] for s in sessions],
                 [t for t in tracks if t not in val], sorted(val), dropped,
                 hashlib.sha256(data).hexdigest(), len(data))

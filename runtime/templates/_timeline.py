"""timeline.csv and timeline.png: labels and motion energy over the covered session.

The session is cut into segments wherever the evidence has a gap longer than
promotion_policy.v1 `analyzer.timeline_gap_s` (a Pose Coach session recorded an hour after
the long take is its own segment); each segment is binned at `timeline_bin_s`. The columns
are fixed by gesture_templates.v1 `timeline.columns`. The PNG is drawn with matplotlib's Agg
canvas directly (no pyplot, no global backend), with no timestamp in its metadata, so the
same inputs give the same bytes.
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from lume.generated.constants import TIMELINE_COLUMNS

from ._streams import Stream
from ._windows import ENERGY_CHANNEL, _r


def columns() -> list[str]:
    return list(TIMELINE_COLUMNS)


def segments(windows: list[dict[str, Any]], streams: list[Stream], gap_s: float) -> list[tuple[float, float]]:
    """Covered stretches: stream samples (split at gaps > gap_s) and window feature spans."""
    spans: list[tuple[float, float]] = []
    for s in streams:
        if not len(s):
            continue
        t = s.t
        cuts = np.nonzero(np.diff(t) > gap_s)[0]
        starts = np.concatenate([[0], cuts + 1])
        ends = np.concatenate([cuts, [len(t) - 1]])
        spans += [(float(t[a]), float(t[b])) for a, b in zip(starts, ends)]
    spans += [(w["feature_span"]["start_unix"], w["feature_span"]["end_unix"]) for w in windows]
    merged: list[list[float]] = []
    for a, b in sorted(spans):
        if merged and a - merged[-1][1] <= gap_s:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def rows(windows: list[dict[str, Any]], streams: list[Stream], segs: list[tuple[float, float]], *,
         origin: float, bin_s: float, energy_order: list[str]) -> list[list[Any]]:
    """One row per bin of every segment, in the gesture_templates.v1 column order."""
    out: list[list[Any]] = []
    for k, (a, b) in enumerate(segs):
        n = max(1, math.ceil((b - a) / bin_s - 1e-9))  # the sample at `b` joins the last bin
        edges = np.round(a + bin_s * np.arange(n + 1), 6)
        energy = np.full(n, np.nan)
        source = np.full(n, "", dtype=object)
        for kind in reversed(energy_order):  # the first kind in the order wins: write it last
            sums, counts = np.zeros(n), np.zeros(n)
            for s in streams:
                if s.kind != kind or ENERGY_CHANNEL not in s.channels:
                    continue
                sl = s.span(a, edges[-1])
                t, v = s.t[sl], s.channels[ENERGY_CHANNEL][sl]
                ok = ~np.isnan(v)
                # bin index from microsecond-rounded offsets: 0.1 s after `a` is bin 1, not 0
                rel_us = np.round((t[ok] - a) * 1e6)
                idx = np.minimum((rel_us // round(bin_s * 1e6)).astype(int), n - 1)
                sums += np.bincount(idx, weights=v[ok], minlength=n)[:n]
                counts += np.bincount(idx, minlength=n)[:n]
            have = counts > 0
            energy[have] = np.clip(sums[have] / counts[have], 0.0, 1.0)
            source[have] = kind
        ordered = sorted(windows, key=lambda w: w["start_unix"])
        nxt, active = 0, []
        for i in range(n):
            b0, b1 = edges[i], edges[i + 1]
            while nxt < len(ordered) and ordered[nxt]["start_unix"] < b1:
                active.append(ordered[nxt])
                nxt += 1
            # a window [start, end] meets the bin [b0, b1); a point marker meets the bin it is in
            active = [w for w in active if w["end_unix"] > b0 or w["start_unix"] == w["end_unix"] >= b0]
            hits = active
            labels: list[str] = []
            lanes: list[str] = []
            for w in hits:
                if w["label"] not in labels:
                    labels.append(w["label"])
                    lanes.append(w["lane"])
            e = energy[i]
            out.append([k, _r(b0 - origin), _r(b0), _r(b1), ";".join(labels), ";".join(lanes),
                        "" if math.isnan(e) else _r(e), source[i]])
    return out


def render_csv(header: list[str], table: list[list[Any]]) -> str:
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(table)
    return buf.getvalue()


MAX_NAMED = 40  # presentation only: above this many windows in a panel, name each label once
LANE_COLOURS = {"visual": "#1f77b4", "command": "#d62728", "negative": "#7f7f7f",
                "calibration": "#2ca02c"}  # presentation only


def render_png(windows: list[dict[str, Any]], table: list[list[Any]], segs: list[tuple[float, float]],
               *, origin: float, title: str, max_segments: int) -> bytes:
    """The timeline plot: per segment, motion energy over time and the labelled windows by lane."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = segs[:max_segments] or [(origin, origin + 1.0)]
    lanes = list(LANE_COLOURS)
    fig = Figure(figsize=(max(6.0, 4.0 * len(shown)), 4.2), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(shown), sharey=True, squeeze=False)[0]
    for k, (ax, (a, b)) in enumerate(zip(axes, shown)):
        seg_rows = [r for r in table if r[0] == k and r[6] != ""]
        if seg_rows:
            ax.step([r[1] for r in seg_rows], [r[6] for r in seg_rows], where="post",
                    color="black", linewidth=1.2, label="motion energy")
        inside = [w for w in windows if w["end_unix"] >= a and w["start_unix"] <= b]
        named: set[str] = set()
        for lane in lanes:  # one bar collection per lane keeps long sessions quick to draw
            y = 1.1 + 0.18 * lanes.index(lane)
            spans = [(w["start_unix"] - origin, max(w["end_unix"] - w["start_unix"], (b - a) / 200 or 0.01))
                     for w in inside if w["lane"] == lane]
            if spans:
                ax.broken_barh(spans, (y, 0.12), facecolors=LANE_COLOURS[lane], alpha=0.8)
            for w in inside:  # name each window, or only a label's first one in a busy segment
                if w["lane"] == lane and (len(inside) <= MAX_NAMED or w["label"] not in named):
                    named.add(w["label"])
                    ax.text(w["start_unix"] - origin, y + 0.13, w["label"], fontsize=6, clip_on=True)
        ax.set_xlim(a - origin, max(b - origin, a - origin + 0.1))
        ax.set_ylim(0, 1.1 + 0.18 * len(lanes) + 0.1)
        ax.set_xlabel("s from session origin")
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("motion energy  |  label lanes")
    axes[0].set_yticks([0, 0.5, 1.0] + [1.16 + 0.18 * i for i in range(len(lanes))])
    axes[0].set_yticklabels(["0", "0.5", "1"] + lanes, fontsize=7)
    more = f" (first {len(shown)} of {len(segs)} segments)" if len(segs) > len(shown) else ""
    fig.suptitle(f"{title}{more}", fontsize=9)
    left = 1.3 / fig.get_figwidth()  # room for the lane names, in inches
    fig.subplots_adjust(left=left, right=0.98, bottom=0.13, top=0.9,
                        wspace=0.15)  # fixed layout: tight_layout would draw the figure twice
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()

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
from typing import TYPE_CHECKING, Any

import numpy as np

from lume.generated.constants import LANES, TIMELINE_COLUMNS

from ._streams import Stream
from ._windows import ENERGY_CHANNEL, _r

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
NO_COLOUR = "#999999"  # a lane promotion_policy.v1 `analyzer.lane_colours` gives no colour
SOURCE_COLOURS = ["black", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]  # presentation only
LEVELS = (0.34, 0.55, 0.76)  # label rows inside a lane band (lane i spans y in [i, i + 1))
LABEL_GID, BREAK_GID, MARK_GID, SEPARATOR_GID = "lane-label", "axis-break", "axis-break-mark", "lane-separator"
UNNAMED_GID = "labels-not-shown"
LABEL_PT, PAD_PX = 6, 3.0
BREAK_CLEAR_PT = 10  # an axis-break mark reaches about this far into a panel from its corner


def lane_colours() -> dict[str, str]:
    """Each label lane (labels.v1, in its order) with its colour (promotion_policy.v1)."""
    from ._policy import analyzer

    given = analyzer().get("lane_colours") or {}
    return {lane: given.get(lane, NO_COLOUR) for lane in LANES}


def not_shown_text(n: int) -> str:
    return f"+{n} label{'s' if n != 1 else ''} not shown"


def gap_text(seconds: float) -> str:
    """The duration written at an axis break: `gap 42 s`, `gap 12 min`, `gap 1 h 5 min`."""
    s = round(seconds)
    if s < 120:
        return f"gap {s} s"
    if round(s / 60) < 60:
        return f"gap {round(s / 60)} min"
    h, m = divmod(round(s / 60), 60)
    return f"gap {h} h {m} min" if m else f"gap {h} h"


def render_png(windows: list[dict[str, Any]], table: list[list[Any]], segs: list[tuple[float, float]],
               *, origin: float, title: str, max_segments: int, gap_s: float) -> tuple[bytes, int]:
    """The timeline plot as PNG bytes (see `render`; no timestamp in its metadata) and how many
    lane labels it left out for lack of room (`not_shown`)."""
    fig = render(windows, table, segs, origin=origin, title=title, max_segments=max_segments, gap_s=gap_s)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue(), not_shown(fig)


def not_shown(fig: Figure) -> int:
    """How many lane labels (a label in a lane of a panel) the figure could name nowhere."""
    return sum(getattr(ax, "lume_not_shown", 0) for ax in fig.axes)


def render(windows: list[dict[str, Any]], table: list[list[Any]], segs: list[tuple[float, float]],
           *, origin: float, title: str, max_segments: int, gap_s: float) -> Figure:
    """The timeline figure: one column per segment (the gaps between them cut out and marked
    with their duration), motion energy on the upper axes and the labelled windows by lane on
    the lower ones, sharing x; lane labels placed so that no two overlap; a legend below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    shown = segs[:max_segments] or [(origin, origin + 1.0)]
    colours = lane_colours()
    lanes = list(colours)
    n = len(shown)
    durs = [max(b - a, 0.1) for a, b in shown]
    widths = [max(d, max(durs) / 4) for d in durs]  # a short segment is never a sliver
    # fixed layout in inches (tight_layout would draw the figure twice)
    top_in, energy_in, lane_in, bottom_in, left_in, right_in = 0.75, 1.6, 0.6 * len(lanes), 0.95, 1.2, 0.25
    w_in = max(7.0, 3.2 * n + left_in)
    h_in = top_in + energy_in + 0.1 + lane_in + bottom_in
    fig = Figure(figsize=(w_in, h_in), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, n, width_ratios=widths, height_ratios=[energy_in, lane_in],
                            left=left_in / w_in, right=1 - right_in / w_in, bottom=bottom_in / h_in,
                            top=1 - top_in / h_in, hspace=0.1 / ((energy_in + lane_in) / 2),
                            wspace=0.12 if n > 1 else 0.0)
    energy_axes, lane_axes = [], []
    sources = sorted({r[7] for r in table if r[6] != "" and r[0] < n})
    colour = {s: SOURCE_COLOURS[i % len(SOURCE_COLOURS)] for i, s in enumerate(sources)}
    for k, (a, b) in enumerate(shown):
        ax_e = fig.add_subplot(grid[0, k], sharey=energy_axes[0] if energy_axes else None)
        ax_l = fig.add_subplot(grid[1, k], sharex=ax_e, sharey=lane_axes[0] if lane_axes else None)
        energy_axes.append(ax_e)
        lane_axes.append(ax_l)
        pad = 0.02 * (b - a) or 0.05
        ax_e.set_xlim(a - origin - pad, b - origin + pad)
        seg_rows = [r for r in table if r[0] == k and r[6] != ""]
        for s in sources:
            pts = [(r[1], r[6] if r[7] == s else np.nan) for r in seg_rows]
            if any(r[7] == s for r in seg_rows):
                ax_e.step([p[0] for p in pts], [p[1] for p in pts], where="post", color=colour[s],
                          linewidth=1.1, label=f"motion energy ({s})")
        inside = [w for w in windows if w["end_unix"] >= a and w["start_unix"] <= b]
        for i, lane in enumerate(lanes):  # one bar collection per lane keeps long sessions quick
            spans = [(w["start_unix"] - origin, max(w["end_unix"] - w["start_unix"], (b - a) / 200 or 0.01))
                     for w in inside if w["lane"] == lane]
            if spans:
                ax_l.broken_barh(spans, (i + 0.06, 0.24), facecolors=colours[lane], alpha=0.8,
                                 label=f"{lane} labels")
        ax_l.lume_not_shown = _place_labels(fig, ax_l, inside, lanes, origin)
        if ax_l.lume_not_shown:
            _say_not_shown(fig, ax_l, ax_l.lume_not_shown)
        ax_e.set_ylim(0, 1.05)
        ax_l.set_ylim(0, len(lanes))
        ax_e.tick_params(labelbottom=False)
        ax_l.set_xlabel("s from session origin", fontsize=8)
        for ax in (ax_e, ax_l):
            ax.ticklabel_format(axis="x", style="plain", useOffset=False)
            ax.tick_params(labelsize=7)
            ax.grid(True, alpha=0.3)
            if k:
                ax.tick_params(labelleft=False)
        ax_l.grid(False, axis="y")
        # about one tick per 0.8 in of panel, so the numbers of a narrow panel never run together
        ax_l.xaxis.set_major_locator(MaxNLocator(nbins=max(2, int(fig.get_figwidth() * ax_l.get_position().width / 0.8)),
                                                 min_n_ticks=2))
    energy_axes[0].set_ylabel("motion energy", fontsize=8)
    energy_axes[0].set_yticks([0, 0.5, 1.0])
    lane_axes[0].set_yticks([i + 0.5 for i in range(len(lanes))])
    lane_axes[0].set_yticklabels(lanes, fontsize=7)
    lane_axes[0].set_ylabel("label lanes", fontsize=8)
    for ax in lane_axes:
        for i in range(1, len(lanes)):
            ax.axhline(i, color="0.85", linewidth=0.6, gid=SEPARATOR_GID)
    _mark_breaks(fig, energy_axes, lane_axes, shown)
    _legend(fig, energy_axes, lane_axes, gap_s, breaks=n > 1)
    more = f" (first {n} of {len(segs)} segments)" if len(segs) > n else ""
    fig.suptitle(f"{title}{more}", fontsize=9, y=1 - 0.12 / h_in, va="top")
    return fig


def _place_labels(fig: Any, ax: Any, inside: list[dict[str, Any]], lanes: list[str], origin: float) -> int:
    """Name windows in their lane: at the window's start (or flush with the panel's right edge),
    on the first label row where it meets no other name. Each label is named once first (at its
    earliest window with room), then its repeats while the lane is not busy; a name that fits
    nowhere is left out (timeline.csv has every window). Returns how many labels of the lanes
    were named nowhere in this panel."""
    left_out = 0
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    x_lo, x_hi = ax.get_xlim()
    for i, lane in enumerate(lanes):
        mine = sorted((w for w in inside if w["lane"] == lane), key=lambda w: w["start_unix"])
        by_label: dict[str, list[dict[str, Any]]] = {}
        for w in mine:
            by_label.setdefault(w["label"], []).append(w)
        taken: list[list[tuple[float, float]]] = [[] for _ in LEVELS]

        def place(w: dict[str, Any], i: int = i, taken: list[list[tuple[float, float]]] = taken) -> bool:
            x = min(max(w["start_unix"] - origin, x_lo), x_hi)
            text = ax.text(x, i + LEVELS[0], w["label"], fontsize=LABEL_PT, va="bottom", ha="left",
                           gid=LABEL_GID, clip_on=False)
            ext = text.get_window_extent(renderer)
            if ext.x1 > box.x1:  # flush right instead of running into the next panel
                text.set_x(x_hi)
                text.set_horizontalalignment("right")
                ext = text.get_window_extent(renderer)
            row = None if ext.x0 < box.x0 else next(
                (j for j, used in enumerate(taken)
                 if all(ext.x1 + PAD_PX <= u0 or ext.x0 >= u1 + PAD_PX for u0, u1 in used)), None)
            if row is None:  # wider than the panel, or no row has room here
                text.remove()
                return False
            taken[row].append((ext.x0, ext.x1))
            text.set_y(i + LEVELS[row])
            return True

        placed: set[int] = set()
        for ws in by_label.values():
            for w in ws[:MAX_NAMED]:
                if place(w):
                    placed.add(id(w))
                    break
            else:
                left_out += 1
        if len(mine) <= MAX_NAMED:
            for w in mine:
                if id(w) not in placed:
                    place(w)
    return left_out


def _say_not_shown(fig: Any, ax: Any, n: int) -> None:
    """`+n labels not shown` at the top right of the lane panel, just above its top lane (in
    the gap to the energy axes, clear of an axis-break mark); only `+n` when the panel is too
    narrow for the words."""
    from matplotlib.transforms import offset_copy

    at = offset_copy(ax.transAxes, fig=fig, x=-BREAK_CLEAR_PT, y=1, units="points")
    text = ax.text(1.0, 1.0, not_shown_text(n), transform=at, ha="right", va="bottom",
                   fontsize=LABEL_PT, color="0.3", gid=UNNAMED_GID, clip_on=False)
    renderer = fig.canvas.get_renderer()
    if text.get_window_extent(renderer).width > ax.get_window_extent(renderer).width - BREAK_CLEAR_PT * 2:
        text.set_text(f"+{n}")


def _mark_breaks(fig: Any, energy_axes: list[Any], lane_axes: list[Any], shown: list[tuple[float, float]]) -> None:
    """Broken-axis marks (//) on both sides of each cut and the cut gap's duration above it."""
    d = 0.6
    marker = [(-1, -d), (1, d)]
    for k in range(len(shown) - 1):
        for ax_pair in ((energy_axes[k], energy_axes[k + 1]), (lane_axes[k], lane_axes[k + 1])):
            left, right = ax_pair
            left.spines["right"].set_visible(False)
            right.spines["left"].set_visible(False)
            for ax, x in ((left, 1), (right, 0)):
                ax.plot([x, x], [0, 1], transform=ax.transAxes, marker=marker, markersize=9, linestyle="none",
                        color="k", mec="k", mew=1, clip_on=False, gid=MARK_GID)
        l_box = energy_axes[k].get_position()
        r_box = energy_axes[k + 1].get_position()
        fig.text((l_box.x1 + r_box.x0) / 2, l_box.y1 + 0.01, gap_text(shown[k + 1][0] - shown[k][1]),
                 ha="center", va="bottom", fontsize=7, color="0.25", gid=BREAK_GID)


def _legend(fig: Any, energy_axes: list[Any], lane_axes: list[Any], gap_s: float, *, breaks: bool) -> None:
    from matplotlib.lines import Line2D

    handles, labels = [], []
    for ax in energy_axes + lane_axes:
        for h, name in zip(*ax.get_legend_handles_labels()):
            if name not in labels:
                handles.append(h)
                labels.append(name)
    if breaks:
        handles.append(Line2D([], [], marker=[(-1, -0.6), (1, 0.6)], markersize=9, linestyle="none", color="k"))
        labels.append(f"axis break: gap > {gap_s:g} s cut out")
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(handles), 4), fontsize=7,
                   frameon=False, bbox_to_anchor=(0.5, 0.0))

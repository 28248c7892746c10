"""A readable timeline (issue 16.7): inputs from outside the session are warned about with their
offset and kept off the axis; the plot is checked through matplotlib's objects, not pixels."""
from __future__ import annotations

import copy
import csv
import json
import re

from templates_helpers import copy_bundle

from lume.runtime.core import get
from lume.runtime.templates import _policy as policy
from lume.runtime.templates import _timeline as timeline
from lume.runtime.templates import build_templates
from lume.runtime.templates._analyzer import TIMELINE_CSV

T0 = 1779989201.0  # inside the committed route-smoke take
DAY = 16_000_000.0  # "a file from another day": ~185 days later


def body_truth_file(path, start: float, n: int = 6) -> None:
    frames = []
    for i in range(n):
        f = copy.deepcopy(get("body_truth.v0").examples[0])
        f["timestamp"] = int((start + 0.2 * i) * 1000)
        frames.append(f)
    path.write_text("".join(json.dumps(f) + "\n" for f in frames))


def test_a_file_from_another_day_is_warned_about_and_kept_off_the_axis(tmp_path):
    bundle = copy_bundle(tmp_path)
    body_truth_file(tmp_path / "bt.jsonl", T0 + DAY)
    result = build_templates(bundle, body_truth=tmp_path / "bt.jsonl")
    warning = next(n for n in result.notes if n.startswith("warning:"))
    assert "bt.jsonl" in warning and "after the session ends" in warning
    offset = float(warning.split("starts ")[1].split(" s after")[0])
    assert DAY - 86400 < offset < DAY + 1  # measured from the session's end
    assert all(u["kind"] != "body_truth" for u in result.document["inputs"])
    with open(bundle / TIMELINE_CSV) as f:
        rows = list(csv.DictReader(f))
    span = float(rows[-1][list(rows[-1])[1]]) - float(rows[0][list(rows[0])[1]])
    assert span < 24 * 3600, span  # the axis is not spread over months


def test_a_file_inside_the_session_is_used(tmp_path):
    bundle = copy_bundle(tmp_path)
    body_truth_file(tmp_path / "bt.jsonl", T0)
    result = build_templates(bundle, body_truth=tmp_path / "bt.jsonl")
    assert not any(n.startswith("warning:") for n in result.notes)
    assert any(u["kind"] == "body_truth" for u in result.document["inputs"])


def test_the_cli_prints_the_warning(tmp_path):
    from click.testing import CliRunner

    from lume.runtime.cli import main

    bundle = copy_bundle(tmp_path)
    body_truth_file(tmp_path / "bt.jsonl", T0 - DAY)
    r = CliRunner().invoke(main, ["templates", "build", str(bundle),
                                  "--body-truth", str(tmp_path / "bt.jsonl")])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "bt.jsonl" in flat and "before the session starts" in flat


# --- the plot, through matplotlib's objects -------------------------------------------------


ORIGIN = 1_779_989_200.0
# A long take (10 min), a short one an hour later, a 1 s one 40 s after that: the long gap is cut
# out, so neither short segment is squeezed into a sliver.
SEGS = [(ORIGIN, ORIGIN + 600.0), (ORIGIN + 4200.0, ORIGIN + 230.0 + 4200.0), (ORIGIN + 4470.0, ORIGIN + 4471.0)]


def busy_windows() -> list[dict]:
    """Crowded lanes: overlapping windows with long names, repeats, point markers, a window at
    a panel's right edge."""
    out = []
    for k, (a, b) in enumerate(SEGS):
        step = (b - a) / 30
        for i in range(30):
            start = a + i * step
            out.append({"start_unix": start, "end_unix": start + 3 * step, "lane": "visual",
                        "label": f"weighted_slow_power_hold_{i % 7}"})
            out.append({"start_unix": start, "end_unix": start, "lane": "negative", "label": "bad_false_reactive"})
        out.append({"start_unix": b - step / 10, "end_unix": b, "lane": "command", "label": "d1_play_pause_at_the_end"})
        out.append({"start_unix": a, "end_unix": a + step, "lane": "calibration", "label": f"still_{k}"})
    return out


def table_for(segs, bin_s: float = 10.0) -> list[list]:
    rows = []
    for k, (a, b) in enumerate(segs):
        t = a
        while t < b:
            source = "motionmix" if k == 0 else "pose_coach"
            rows.append([k, t - ORIGIN, t, t + bin_s, "", "", 0.5, source])
            t += bin_s
    return rows


def draw(windows=None, segs=SEGS, **kw):
    args = {"origin": ORIGIN, "title": "a busy session", "max_segments": 6,
            "gap_s": float(policy.analyzer()["timeline_gap_s"])} | kw
    fig = timeline.render(busy_windows() if windows is None else windows, table_for(segs), segs, **args)
    fig.canvas.draw()
    return fig


def texts(fig, gid):
    return [t for t in fig.findobj(lambda o: hasattr(o, "get_gid") and o.get_gid() == gid)]


def overlapping(boxes) -> list:
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if boxes[i].x0 < boxes[j].x1 and boxes[j].x0 < boxes[i].x1
            and boxes[i].y0 < boxes[j].y1 and boxes[j].y0 < boxes[i].y1]


def test_no_two_lane_labels_or_break_texts_overlap_and_none_is_cut():
    fig = draw()
    r = fig.canvas.get_renderer()
    labels = texts(fig, timeline.LABEL_GID)
    assert len(labels) > 3 * 4  # the busy lanes are named, not left blank
    boxes = [t.get_window_extent(r) for t in labels + texts(fig, timeline.BREAK_GID)]
    assert overlapping(boxes) == []
    for t in labels:  # inside its own panel: not cut at the edge, not spilling onto the next one
        ax, box = t.axes, t.get_window_extent(r)
        assert ax.bbox.x0 - 0.5 <= box.x0 and box.x1 <= ax.bbox.x1 + 0.5, t.get_text()


def test_every_label_of_a_busy_lane_is_named_where_there_is_room():
    fig = draw()
    for ax in fig.axes[1::2]:
        named = {t.get_text() for t in ax.texts if t.get_gid() == timeline.LABEL_GID}
        assert "d1_play_pause_at_the_end" in named  # flush right at the panel's edge
        assert any(n.startswith("weighted_slow_power_hold_") for n in named)  # every lane is named
    wide = {t.get_text() for t in fig.axes[1].texts}
    assert {f"weighted_slow_power_hold_{i}" for i in range(7)} <= wide  # a label's first window first


def test_x_tick_labels_of_each_panel_do_not_run_together():
    fig = draw()
    r = fig.canvas.get_renderer()
    for ax in fig.axes:
        ticks = [t.get_window_extent(r) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert overlapping(ticks) == []


def test_one_axis_per_quantity_sharing_x():
    fig = draw()
    energy, lanes = fig.axes[0::2], fig.axes[1::2]
    assert energy[0].get_ylabel() == "motion energy" and lanes[0].get_ylabel() == "label lanes"
    assert [t.get_text() for t in lanes[0].get_yticklabels()] == list(timeline.lane_colours())
    for e, la in zip(energy, lanes):
        assert e.get_lines() and not e.collections  # energy curves only
        assert la.collections and not [ln for ln in la.get_lines() if ln.get_gid() not in (timeline.MARK_GID, timeline.SEPARATOR_GID)]
        assert e.get_xlim() == la.get_xlim()


def test_the_legend_names_every_series_and_label_kind():
    fig = draw()
    (legend,) = fig.legends
    names = [t.get_text() for t in legend.get_texts()]
    assert "motion energy (motionmix)" in names and "motion energy (pose_coach)" in names
    assert {f"{lane} labels" for lane in timeline.lane_colours()} <= set(names)
    gap = policy.analyzer()["timeline_gap_s"]
    assert f"axis break: gap > {gap:g} s cut out" in names


def test_each_panel_spans_only_its_segment():
    fig = draw()
    for (a, b), ax in zip(SEGS, fig.axes[0::2]):
        lo, hi = ax.get_xlim()
        assert a - ORIGIN - 0.05 * (b - a) - 0.1 <= lo <= a - ORIGIN
        assert b - ORIGIN <= hi <= b - ORIGIN + 0.05 * (b - a) + 0.1
    widths = [ax.get_position().width for ax in fig.axes[0::2]]
    assert min(widths) >= max(widths) / 4 - 1e-9  # one long segment does not squeeze the rest


def test_breaks_are_marked_with_the_gap_duration():
    fig = draw()
    assert [t.get_text() for t in texts(fig, timeline.BREAK_GID)] == ["gap 1 h", "gap 40 s"]
    marks = texts(fig, timeline.MARK_GID)
    assert len(marks) == 2 * 2 * 2  # per break: both rows, both sides
    one = draw(segs=SEGS[:1], windows=[w for w in busy_windows() if w["start_unix"] <= SEGS[0][1]])
    assert texts(one, timeline.BREAK_GID) == [] and texts(one, timeline.MARK_GID) == []
    assert not any(t.get_text().startswith("axis break") for t in one.legends[0].get_texts())


def test_gap_text():
    assert timeline.gap_text(40.2) == "gap 40 s"
    assert timeline.gap_text(725) == "gap 12 min"
    assert timeline.gap_text(3596.9) == "gap 1 h"
    assert timeline.gap_text(3600 + 5 * 60) == "gap 1 h 5 min"


def test_more_segments_than_shown_say_so_in_the_title():
    fig = draw(max_segments=2)
    assert "(first 2 of 3 segments)" in fig._suptitle.get_text()
    assert len(fig.axes) == 4


# --- labels that fit nowhere are counted, on the figure and in the command output ------------


def named_in(ax) -> set[str]:
    return {t.get_text() for t in ax.texts if t.get_gid() == timeline.LABEL_GID}


def test_labels_left_out_of_a_panel_are_counted_on_it():
    fig = draw()
    for k, ax in enumerate(fig.axes[1::2]):
        a, b = SEGS[k]
        inside = [w for w in busy_windows() if w["end_unix"] >= a and w["start_unix"] <= b]
        missing = sum(len({w["label"] for w in inside if w["lane"] == lane} - named_in(ax))
                      for lane in timeline.lane_colours())
        notes = [t.get_text() for t in ax.texts if t.get_gid() == timeline.UNNAMED_GID]
        assert ax.lume_not_shown == missing
        assert notes == ([] if not missing else [timeline.not_shown_text(missing)])
    assert timeline.not_shown(fig) > 0  # the narrow panels of the busy session leave names out


def test_the_count_stays_inside_its_panel_clear_of_names_and_breaks():
    fig = draw()
    r = fig.canvas.get_renderer()
    notes = texts(fig, timeline.UNNAMED_GID)
    assert notes
    boxes = [t.get_window_extent(r) for t in notes + texts(fig, timeline.LABEL_GID) + texts(fig, timeline.BREAK_GID)]
    assert overlapping(boxes) == []
    for t in notes:
        box = t.get_window_extent(r)
        assert t.axes.bbox.x0 <= box.x0 and box.x1 <= t.axes.bbox.x1


def test_a_panel_too_narrow_for_the_words_shows_only_the_count():
    segs = [(ORIGIN, ORIGIN + 3600.0), (ORIGIN + 7200.0, ORIGIN + 7201.0)]
    crowded = [{"start_unix": ORIGIN + 7200.5, "end_unix": ORIGIN + 7200.5, "lane": "visual",
                "label": f"a_rather_long_visual_label_{i}"} for i in range(6)]
    fig = timeline.render(crowded, table_for(segs), segs, origin=ORIGIN, title="narrow", max_segments=6,
                          gap_s=float(policy.analyzer()["timeline_gap_s"]))
    fig.canvas.draw()
    narrow = fig.axes[3]
    (note,) = [t.get_text() for t in narrow.texts if t.get_gid() == timeline.UNNAMED_GID]
    assert note in (timeline.not_shown_text(narrow.lume_not_shown), f"+{narrow.lume_not_shown}")
    assert narrow.lume_not_shown == 6 - len(named_in(narrow)) > 0


def test_lane_colours_come_from_the_policy_for_every_lane_of_the_label_table():
    from lume.generated.constants import LANES

    given = policy.analyzer()["lane_colours"]
    assert set(given) == set(LANES)  # the cross-file rule: one colour per labels.v1 lane
    assert timeline.lane_colours() == {lane: given[lane] for lane in LANES}


def test_the_cli_says_how_many_labels_the_plot_left_out(tmp_path):
    from click.testing import CliRunner

    from lume.runtime.cli import main

    bundle = copy_bundle(tmp_path)
    labels = bundle / "sources" / "mac4_tier0" / "raw" / "labels" / "labels.jsonl"
    visual = ["keep_signature", "wave_color", "burst_high_energy", "torso_lean_weight_shift", "weighted_slow_power_hold"]
    with labels.open("a") as fh:  # every visual label at one instant: three label rows, five names
        for name in visual:
            fh.write(json.dumps({"t_unix": ORIGIN + 2.0, "t_s": 2.0, "label": name, "event": "marker",
                                 "source": "keyboard"}) + "\n")
    r = CliRunner().invoke(main, ["templates", "build", str(bundle)])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert re.search(r"timeline\.png: \+\d+ labels? not shown \(no room in their panel\); .*timeline\.csv has every window", flat), flat
    doc = json.loads((bundle / "derived" / "templates" / "gesture_templates.json").read_text())
    assert any("not shown" in n for n in doc["notes"])

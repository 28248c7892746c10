"""training.pairs: the shipped pairs hold every rule; each seeded fault turns the check red with evidence."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from training_helpers import (
    MANIFEST,
    PAIRS,
    arrays,
    check,
    cli,
    copy_training,
    edited_pairs,
    failures,
    write_arrays,
)

from lume.generated import v6_conditioning as L
from lume.runtime.core import InputError
from lume.runtime.training import blocks, build_pairs, check_pairs, encode, producers, rules_data

MODE, EMOTION = blocks()["mode_8"], blocks()["emotion_5"]


def red(path: Path, *words: str) -> list:
    result = check_pairs(path)
    bad = failures(result.evidence)
    assert not result.ok and bad, [e.message for e in result.evidence]
    text = " | ".join(e.message for e in bad)
    for w in words:
        assert w in text, text
    return bad


def test_the_shipped_pairs_hold_every_rule():
    result = check_pairs(PAIRS)
    assert result.ok, [e.message for e in result.evidence]
    assert result.pairs == 48
    assert result.tracks == {"train": ["t07", "t13", "t19"], "val": ["t01"]}


def test_layout_is_the_seed_schema():
    """dynamics_128 ⊕ mode_8 ⊕ emotion_5 = 141, encoder 141 -> 256 -> 512 -> 768 (seed 001)."""
    assert L.WIDTH == 141 and L.BLOCKS == (("dynamics_128", 0, 128, "continuous"), ("mode_8", 128, 8,
                                                                                    "one_hot"),
                                           ("emotion_5", 136, 5, "one_hot"))
    assert L.VALUES["mode_8"] == ("sky_garden", "turquoise_alcove", "radiant_underground_chamber",
                                  "iridescent_beauty", "aurora_veil")
    assert L.RESERVED["mode_8"] == (5, 6, 7)
    assert L.VALUES["emotion_5"] == ("still", "open", "inward", "energetic", "release")
    assert L.ENCODER_LAYERS == (141, 256, 512, 768)
    v = encode([0.5] * 128, "aurora_veil", "release")
    assert v.dtype == np.float32 and v.shape == (141,)
    assert v[128 + 4] == 1.0 and v[136 + 4] == 1.0 and v[128:141].sum() == 2.0


def test_wrong_width_vector_is_red(tmp_path):
    bad = red(edited_pairs(tmp_path, lambda a: a.update(conditioning=a["conditioning"][:, :140])), "140 wide")
    assert bad[0].expected == 141 and bad[0].found == 140


def test_two_hot_bits_in_mode_is_red(tmp_path):
    def two(a):
        a["conditioning"][3, MODE.offset + 1] = 1.0
        a["conditioning"][3, MODE.offset + 0] = 1.0
    bad = red(edited_pairs(tmp_path, two), "mode_8", "more than one hot", "rows 3")
    assert any(e.field == "conditioning[:, 128:136] (mode_8)" for e in bad)


def test_reserved_bit_set_is_red(tmp_path):
    def reserved(a):
        a["conditioning"][5, MODE.offset + 6] = 1.0
    bad = red(edited_pairs(tmp_path, reserved), "reserved bit(s) [6]", "rows 5")
    assert [e.found for e in bad if "reserved" in e.message] == [[6]]


def test_nan_is_red(tmp_path):
    def nan(a):
        a["conditioning"][7, 10] = np.nan
        a["target"][8, 0] = np.inf
    red(edited_pairs(tmp_path, nan), "conditioning row(s) hold NaN", "rows 7, columns [10]", "target row(s)")


def test_track_in_both_splits_is_red(tmp_path):
    def leak(a):
        rows = np.flatnonzero(a["track_id"] == "t07")
        a["split"][rows[:2]] = rules_data()["pairs"]["split"]["codes"]["val"]
    bad = red(edited_pairs(tmp_path, leak), "both train and val: t07")
    assert bad[0].found == ["t07"]


def test_frame_without_producer_is_red(tmp_path):
    def anonymous(a):
        a["producer"][[2, 30]] = ""
    bad = red(edited_pairs(tmp_path, anonymous), "2 frame(s) without a producer", "rows 2, 30")
    assert bad[0].field == "producer"


def test_unknown_producer_dtype_and_missing_arrays_are_red(tmp_path):
    red(edited_pairs(tmp_path, lambda a: a.update(producer=np.asarray(["unity"] * 48))),
        "unknown producer(s) unity")
    red(edited_pairs(tmp_path, lambda a: a.update(conditioning=a["conditioning"].astype(np.float64))),
        "dtype float64")
    red(edited_pairs(tmp_path, lambda a: a.pop("split")), "lacks array(s) split")
    red(edited_pairs(tmp_path, lambda a: a.update(split=np.zeros(48, np.uint8))), "0 val track(s)")


def test_object_arrays_are_refused_never_unpickled(tmp_path):
    data = arrays()
    path = tmp_path / "pickled.npz"
    np.savez(path, **{**data, "track_id": data["track_id"].astype(object)})
    red(path, "array `track_id` cannot be read", "Object arrays cannot be loaded when allow_pickle=False")


def test_values_other_than_hot_and_cold_are_red(tmp_path):
    def half(a):
        a["conditioning"][0, EMOTION.offset] = 0.5
    red(edited_pairs(tmp_path, half), "emotion_5", "values other than 1 / 0")


def test_one_hot_counts_do_not_depend_on_uint8_arithmetic(tmp_path):
    """255 hot flags in a row would wrap a uint8 sum; counts are taken as integers."""
    data = arrays()
    data["conditioning"] = np.repeat(data["conditioning"][:1], 300, axis=0)
    for k in ("track_id", "session_id", "producer", "timestamp_ms", "split", "target"):
        data[k] = np.repeat(data[k][:1], 300, axis=0)
    data["conditioning"][:, MODE.offset:MODE.offset + 5] = 1.0
    bad = red(write_arrays(tmp_path / "many.npz", data), "300 row(s) with more than one hot")
    assert any(e.found == "5 hot" for e in bad)


def test_check_cli_exit_codes(tmp_path):
    ok = cli("training", "check", str(PAIRS), "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["pairs"] == 48
    bad = cli("training", "check", str(edited_pairs(tmp_path, lambda a: a["producer"].__setitem__(0, ""))))
    assert bad.exit_code == 1 and "without a producer" in bad.output
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    refused = cli("training", "check", str(junk))
    assert refused.exit_code == 2 and "junk.npz" in refused.output and "Traceback" not in refused.output
    assert cli("training", "check", str(tmp_path / "absent.npz")).exit_code == 2


@given(st.binary(max_size=400))
def test_any_bytes_are_checked_or_refused_as_input(data):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.npz"
        path.write_bytes(data)
        try:
            result = check_pairs(path)
        except InputError as exc:
            assert str(path) in str(exc)
        else:
            assert not result.ok


def test_the_verifier_reads_every_pairs_file_in_the_root(tmp_path):
    root = copy_training(tmp_path / "root")
    assert check(root, "training.pairs", tmp_path).status == "pass"
    data = arrays()
    data["conditioning"][0, MODE.offset + 7] = 1.0
    write_arrays(root / "pairs" / "v6_pairs.npz", data)
    result = check(root, "training.pairs", tmp_path)
    assert result.status == "fail"
    assert [e.file for e in failures(result.evidence)] == ["pairs/v6_pairs.npz"]


def test_build_pairs_is_reproducible_and_matches_the_shipped_file(tmp_path):
    built = build_pairs(MANIFEST, tmp_path / "pairs.npz")
    assert (tmp_path / "pairs.npz").read_bytes() == PAIRS.read_bytes()
    assert built.pairs == 48 and built.val_tracks == ["t01"] and built.dropped == 0
    a = arrays()
    assert set(np.unique(a["producer"])) <= set(producers())
    out = cli("training", "build", str(MANIFEST), "-o", str(tmp_path / "again.npz"), "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["sha256"] == built.sha256


def test_build_refuses_a_session_file_that_changed(tmp_path):
    root = copy_training(tmp_path / "root")
    san = root / "sessions" / "v6-s01" / "san_dynamics128.jsonl"
    san.write_bytes(san.read_bytes().replace(b'"frame":0', b'"frame":9'))
    with pytest.raises(InputError, match="differs from its sha256"):
        build_pairs(root / "capture_manifest.json", tmp_path / "p.npz")
    out = cli("training", "build", str(root / "capture_manifest.json"), "-o", str(tmp_path / "p.npz"))
    assert out.exit_code == 2 and "san_dynamics128.jsonl" in out.output
    assert not (tmp_path / "p.npz").exists()


@given(st.integers(min_value=0, max_value=PAIRS.stat().st_size - 1), st.integers(min_value=1, max_value=255))
def test_a_corrupted_pairs_file_is_checked_or_refused_never_a_crash(offset, xor):
    import tempfile

    data = bytearray(PAIRS.read_bytes())
    data[offset] ^= xor
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.npz"
        path.write_bytes(bytes(data))
        try:
            check_pairs(path)
        except InputError as exc:
            assert str(path) in str(exc)

"""What people read: tables that fit 80 columns without cutting a name, missing extras named by
their install command, and third-party log noise kept off stderr unless --verbose."""
from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.core import LabelIndex, load_all


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def lines_of(*args: str) -> list[str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    return lines


# ---------------------------------------------------------------------------- 80 columns
def test_contracts_list_fits_80_columns_and_names_every_contract_whole(narrow) -> None:
    lines = lines_of("contracts", "list")
    assert "…" not in "\n".join(lines)
    firsts = {line.split()[0] for line in lines if line.strip()}
    assert {c.stem for c in load_all()} <= firsts


def test_labels_show_fits_80_columns_and_destructive_stays_with_its_command(narrow) -> None:
    lines = lines_of("labels", "show")
    rows = {line.split()[0]: line for line in lines if line.strip()}
    for m in LabelIndex.load().show(None):
        assert m.canonical in rows, m.canonical  # never cut
        if m.destructive:
            assert "(destructive)" in rows[m.canonical] and m.command in rows[m.canonical]
    assert not any(line.strip() == "destructive" for line in lines)


def test_labels_map_fits_80_columns(narrow) -> None:
    lines_of("labels", "map", "wave", "d1_play", "loop")


def test_wide_terminals_get_aliases_and_dispatch_labels(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    text = CliRunner().invoke(main, ["labels", "show", "--lane", "command"]).stdout
    assert "aliases" in text and "left_hand_raise" in text and "deck1_play_pause" in text


@pytest.mark.parametrize("args", [["contracts", "list"], ["labels", "show"], ["labels", "map", "wave"],
                                  ["contracts", "check"], ["keys", "list"]])
def test_json_for_everything(args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LUME_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("LUME_TRUST_FILE", raising=False)
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)


# ---------------------------------------------------------------------------- missing extras
def _ogg(tmp_path: Path) -> Path:
    path = tmp_path / "take.ogg"
    path.write_bytes(b"OggS" + bytes(200))
    return path


def test_ogg_without_the_audio_extra_names_the_install_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "soundfile", None)  # `import soundfile` now fails
    result = CliRunner().invoke(main, ["lumf", "features", str(_ogg(tmp_path))])
    assert result.exit_code == 2
    assert "pip install 'lume[audio]'" in result.output and "soundfile" in result.output
    assert "RIFF" not in result.output and "Traceback" not in result.output


def test_a_wav_needs_no_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "soundfile", None)
    path = tmp_path / "t.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(bytes(2 * 44100 // 10))
    assert CliRunner().invoke(main, ["lumf", "features", str(path), "--json"]).exit_code == 0


def test_input_device_without_sounddevice_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    result = CliRunner().invoke(main, ["lumf", "publish", "--input-device", "0", "--address", "127.0.0.1:9"])
    assert result.exit_code == 2
    assert "audio input" in result.output and "pip install 'lume[audio]'" in result.output


def test_codegen_without_its_extra_names_the_install_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "datamodel_code_generator", None)
    result = CliRunner().invoke(main, ["contracts", "codegen", "-o", str(tmp_path / "generated")])
    assert result.exit_code == 2
    assert "pip install 'lume[codegen]'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "generated").exists()


def test_pose_without_its_extra_names_the_install_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0")
    result = CliRunner().invoke(main, ["pose", "extract", str(video)])
    assert result.exit_code == 2 and "pip install 'lume[pose]'" in result.output


def test_extras_come_from_the_package_metadata() -> None:
    from lume.runtime.cli._errors import extras, install_hint

    assert {"soundfile": "audio", "sounddevice": "audio", "mediapipe": "pose",
            "datamodel_code_generator": "codegen"}.items() <= extras().items()
    assert install_hint("numpy") is None  # always installed: no extra to name


# ---------------------------------------------------------------------------- log noise
NOISY = (
    "import os, sys\n"
    "from lume.runtime.cli._output import quiet_native_stderr, set_verbose\n"
    "set_verbose(sys.argv[1] == 'verbose')\n"
    "with quiet_native_stderr():\n"
    "    os.write(2, b'W0000 00:00:1 inference_feedback_manager.cc:114] native noise\\n')\n"
    "    print('ours', file=sys.stderr, flush=True)\n"
    "os.write(2, b'after\\n')\n"
)


@pytest.mark.parametrize("mode", ["quiet", "verbose"])
def test_native_log_lines_are_silenced_unless_verbose(mode: str) -> None:
    done = subprocess.run([sys.executable, "-c", NOISY, mode], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ours" in done.stderr and "after" in done.stderr
    assert ("W0000" in done.stderr) == (mode == "verbose")


def test_verbose_is_a_global_option() -> None:
    assert CliRunner().invoke(main, ["--verbose", "contracts", "list", "--json"]).exit_code == 0
    assert "--verbose" in CliRunner().invoke(main, ["--help"]).output


def test_no_progress_bar_and_no_refresh_thread_when_stderr_is_no_terminal(monkeypatch) -> None:
    """A transient bar shows nothing off a terminal; its refresh thread would only keep `lume
    validate` from splitting a large file over two processes."""
    from lume.runtime.cli import _output

    monkeypatch.setattr(type(_output.err_console._real()), "is_terminal", property(lambda self: False))
    with _output.progress() as bar:
        assert isinstance(bar, _output._NoBar)
        bar.advance(bar.add_task("x", total=2))
    monkeypatch.setattr(type(_output.err_console._real()), "is_terminal", property(lambda self: True))
    with _output.progress() as bar:
        assert not isinstance(bar, _output._NoBar)

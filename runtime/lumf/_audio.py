"""Audio in: files read into memory, and the producers that feed a Ring in real time.

The features use channel 0 of the stream (the seed's tap reads floatChannelData[0]), so a
stereo file is analysed on its first channel, not on a mix.
"""
from __future__ import annotations

import threading
import time
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from lume.generated.constants import INPUT_AUDIO_FILE
from lume.runtime.core import InputError, open_input

from ._ring import Ring

# Seed 004 Q1: the mixer tap delivers 512-frame buffers; the file producer copies the same size.
DEFAULT_BLOCK = 512


class AudioInputError(ValueError):
    """Audio that cannot be read or opened; the message names the file or device."""


def _open(path: Path) -> BinaryIO:
    """The audio file as an `audio_file` input (input_limits.v1): a regular file within its size
    limit, never a FIFO or a device (those would block or never end)."""
    try:
        return open_input(path, INPUT_AUDIO_FILE)
    except InputError as exc:
        raise AudioInputError(str(exc)) from exc


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """(channel 0 as float32 in [-1, 1] nominal, sample rate) of an audio file.

    soundfile (libsndfile: WAV, FLAC, OGG/Vorbis, ...) when it is installed, else WAV through the
    standard library `wave` module (integer PCM only). Both read from the one handle opened
    as a bounded input, so what was checked is what is decoded.
    """
    path = Path(path)
    with _open(path) as fh:
        try:
            import soundfile  # noqa: PLC0415 - optional: the stdlib reads WAV without it
        except (ImportError, OSError) as exc:
            riff = fh.read(4) == b"RIFF"
            fh.seek(0)
            if riff:
                return _read_wav(fh, path)
            # say what is missing, not that an OGG file is a bad WAV file
            if isinstance(exc, ModuleNotFoundError):
                raise ModuleNotFoundError(f"{path}: reading {path.suffix or 'non-WAV'} audio needs "
                                          "soundfile", name="soundfile") from exc
            raise AudioInputError(f"{path}: not a WAV file, and soundfile cannot load libsndfile "
                                  f"to read it ({exc})") from exc
        try:
            data, rate = soundfile.read(fh, dtype="float32", always_2d=True)
        except (RuntimeError, soundfile.LibsndfileError, TypeError) as exc:
            raise AudioInputError(f"{path}: cannot read audio: {exc}") from exc
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise AudioInputError(f"{path}: the file holds no audio frames")
    return np.ascontiguousarray(data[:, 0]), int(rate)


_PCM = {1: ("u1", 128.0, 128.0), 2: ("<i2", 0.0, 32768.0), 4: ("<i4", 0.0, 2147483648.0)}


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Channel 0 of an integer-PCM WAV file via the `wave` module, as float32."""
    with _open(Path(path)) as fh:
        return _read_wav(fh, Path(path))


def _read_wav(fh: BinaryIO, path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(fh, "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioInputError(f"{path}: not a readable PCM WAV file: {exc}") from exc
    frames = len(raw) // (width * channels)
    if frames == 0:
        raise AudioInputError(f"{path}: the file holds no audio frames")
    if width == 3:  # 24-bit: widen each little-endian sample to int32
        b = np.frombuffer(raw[:frames * 3 * channels], dtype=np.uint8).reshape(-1, 3)
        ints = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)
                | (b[:, 2].astype(np.int8).astype(np.int32) << 16))
        samples = ints.astype(np.float32) / 8388608.0
    elif width in _PCM:
        dtype, offset, scale = _PCM[width]
        ints = np.frombuffer(raw[:frames * width * channels], dtype=dtype)
        samples = ((ints.astype(np.float64) - offset) / scale).astype(np.float32)
    else:
        raise AudioInputError(f"{path}: {8 * width}-bit WAV samples are not supported")
    return np.ascontiguousarray(samples.reshape(frames, channels)[:, 0]), rate


class FileSource:
    """Plays samples into a Ring at real-time pace from its own thread, one block at a time."""

    def __init__(self, samples: np.ndarray, sample_rate_hz: int, ring: Ring, *,
                 block: int = DEFAULT_BLOCK, clock=time.perf_counter) -> None:
        self.samples = np.asarray(samples, dtype=np.float32)
        self.sample_rate_hz = sample_rate_hz
        self.ring, self.block, self._clock = ring, block, clock
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lumf-file-source", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        period = self.block / self.sample_rate_hz
        t0 = self._clock()
        try:
            for i, start in enumerate(range(0, len(self.samples), self.block)):
                delay = t0 + i * period - self._clock()
                if delay > 0 and self._stop.wait(delay):
                    break
                if self._stop.is_set():
                    break
                self.ring.write(self.samples[start:start + self.block])
        finally:
            self.finished.set()


class DeviceSource:
    """Live input through sounddevice: the PortAudio callback only copies into the Ring."""

    def __init__(self, device: int, ring: Ring, *, block: int = DEFAULT_BLOCK) -> None:
        try:
            import sounddevice  # noqa: PLC0415 - only live capture needs PortAudio
        except ModuleNotFoundError as exc:  # not installed: the front end names the extra
            raise ModuleNotFoundError(f"live audio input needs sounddevice ({exc})",
                                      name="sounddevice") from exc
        except (ImportError, OSError) as exc:  # installed, but the PortAudio library is missing
            raise AudioInputError(f"no audio input available: sounddevice/PortAudio cannot load "
                                  f"({exc})") from exc
        try:
            info = sounddevice.query_devices(device, "input")
        except (ValueError, sounddevice.PortAudioError) as exc:
            raise AudioInputError(f"no audio input device {device}: {exc}") from exc
        self.sample_rate_hz = int(info["default_samplerate"])
        self.ring = ring
        self.finished = threading.Event()  # a live device never finishes by itself

        def callback(indata, frames, time_info, status):  # PortAudio thread: copy, nothing else
            ring.write(indata[:, 0])

        try:
            self._stream = sounddevice.InputStream(
                device=device, channels=1, samplerate=self.sample_rate_hz, blocksize=block,
                dtype="float32", callback=callback)
        except sounddevice.PortAudioError as exc:
            raise AudioInputError(f"cannot open audio input device {device}: {exc}") from exc

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()
        self._stream.close()
        self.finished.set()

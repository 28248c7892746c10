"""LUMF features: the contract's exact definitions, checked against librosa on real music and
against a plain float64 transcription of the contract formulas.

Tolerances (stated): the extractor's values go on the wire as float32, so comparisons are made
on the float32 values. RMS and spectral centroid agree with librosa to a relative 1e-6 (float32
rounding is ~6e-8; librosa's RMS is computed in float32), the MFCCs to 1e-4 absolute, and
every feature agrees with the float64 transcription to a relative 1e-5 (absolute 1e-4 for the
log-domain MFCCs, 1e-12 for the tiny band energies).
"""
from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from lume_testpaths import real_media

from lume.runtime.core import get
from lume.runtime.lumf import _codec as codec
from lume.runtime.lumf import _features as features
from lume.runtime.lumf._codec import PacketBuffer, encode_values
from lume.runtime.lumf._features import FeatureExtractor, NonFiniteInput, window_samples

LAYOUT = get("lumf_layout.v1").table_data()
GOLDEN = {p["name"]: p for p in get("lumf_golden.v1").table_data()["packets"]}
SPEC = LAYOUT["features"]
MUSIC = ("audio", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg")


# --- a plain transcription of contracts/lumf_layout.v1.yaml `features` (float64, no tricks) --
def reference(windows: np.ndarray, sr: int) -> np.ndarray:
    n_fft = LAYOUT["fft_size"]
    w_len = windows.shape[1]
    n = np.arange(w_len)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / (w_len - 1))
    s_w = (w_len - 1) / 2
    k = np.arange(n_fft // 2 + 1)
    f_k = k * sr / n_fft
    dft = np.exp(-2j * np.pi * np.outer(k, n) / n_fft)  # direct DFT of the zero-padded window
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    mel_inv = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    p = mel_inv(np.arange(10) * mel(sr / 2) / 9)
    H = np.array([np.maximum(0, np.minimum((f_k - p[m]) / (p[m + 1] - p[m]),
                                           (p[m + 2] - f_k) / (p[m + 2] - p[m + 1])))
                  for m in range(8)])
    out, prev = [], np.zeros(len(k))
    for s in windows:
        x = np.clip(s, -1, 1)
        X = np.abs(dft @ (w * x)) / s_w
        rms = math.sqrt(np.mean(x ** 2))
        centroid = min(22050.0, float(np.sum(f_k * X) / np.sum(X))) if X.sum() > 0 else 0.0
        flux = float(np.sum(np.maximum(0, X - prev)))
        onset = flux / (flux + prev.sum()) if flux + prev.sum() > 0 else 0.0
        prev = X
        bands = []
        for i, b in enumerate(SPEC["eq_bands"]["bands"]):
            last = i == len(SPEC["eq_bands"]["bands"]) - 1
            sel = (f_k >= b["low_hz"]) & ((f_k <= b["high_hz"]) if last else (f_k < b["high_hz"]))
            bands.append(float(np.mean(X[sel] ** 2)) if sel.any() else 0.0)
        L_m = np.log(H @ X ** 2 + 1e-10)
        c = [(1 / math.sqrt(2) if j == 0 else 1.0) * math.sqrt(2 / 8)
             * sum(L_m[m] * math.cos(math.pi * j * (2 * m + 1) / 16) for m in range(8))
             for j in range(8)]
        out.append([rms, centroid, onset, *bands, *c])
    return np.array(out)


def extract(windows: np.ndarray, sr: int) -> np.ndarray:
    fx = FeatureExtractor(sr)
    return np.array([fx.compute(w).astype(np.float32) for w in windows])


def assert_close_to_reference(got: np.ndarray, want: np.ndarray) -> None:
    s = codec.SLICES
    scalars = np.r_[s["rms"], s["centroid"], s["onset"]]
    np.testing.assert_allclose(got[:, scalars], want[:, scalars], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[:, s["eq_bands"]], want[:, s["eq_bands"]], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(got[:, s["mfcc"]], want[:, s["mfcc"]], rtol=1e-5, atol=1e-4)


@pytest.fixture(scope="module")
def music():
    import soundfile as sf

    data, sr = sf.read(str(real_media(*MUSIC)), dtype="float32", always_2d=True)
    return data[:, 0], sr  # channel 0, as the contract says


def music_windows(music, count: int, start_s: float = 10.0):
    y, sr = music
    w = window_samples(sr)
    start = int(start_s * sr)
    return np.stack([y[start + i * w:start + (i + 1) * w] for i in range(count)]), sr, y[start:]


# --- window size, bins, filter banks --------------------------------------------------------
def test_window_size_follows_the_sample_rate():
    assert window_samples(44100) == LAYOUT["window_samples"] == 735
    assert window_samples(48000) == 800
    assert window_samples(30000) == 500  # the rule for a rate outside the table
    for rate in (22050, 96000, 44101):
        with pytest.raises(ValueError, match="resample"):
            window_samples(rate)


def test_band_bins_and_mel_edges_match_the_contract_tables():
    bins = [(int(b[0]), int(b[-1])) for b in features.band_bins(44100)]
    assert bins == [tuple(b["bins_at_44100"]) for b in SPEC["eq_bands"]["bands"]]
    np.testing.assert_allclose(features.mel_edges(44100), SPEC["mfcc"]["mel_edges_hz_at_44100"],
                               atol=0.005)


def test_mel_filterbank_equals_librosa_htk_without_norm():
    librosa = pytest.importorskip("librosa")
    for sr in (44100, 48000):
        want = librosa.filters.mel(sr=sr, n_fft=1024, n_mels=8, fmin=0.0, fmax=sr / 2, htk=True,
                                   norm=None, dtype=np.float64)
        np.testing.assert_allclose(features.mel_filterbank(sr), want, rtol=1e-9, atol=1e-12)


def test_dct_matrix_is_scipy_orthonormal_dct_ii():
    scipy_fft = pytest.importorskip("scipy.fft")
    eye = np.eye(8)
    np.testing.assert_allclose(features.dct_matrix(), scipy_fft.dct(eye, type=2, norm="ortho",
                                                                    axis=0), atol=1e-12)


# --- exact values ---------------------------------------------------------------------------
def test_silence_gives_the_golden_silence_packet_exactly():
    fx = FeatureExtractor(44100)
    for _ in range(3):  # silence after silence stays onset 0
        values = fx.compute(np.zeros(735))
        assert encode_values(values) == bytes.fromhex(GOLDEN["silence"]["hex"])
    assert list(values[codec.SLICES["mfcc"]]) == pytest.approx(SPEC["mfcc"]["silent_value"], abs=0, rel=1e-15)


def test_onset_is_one_after_silence_and_zero_for_a_repeated_window():
    fx = FeatureExtractor(44100)
    x = np.sin(2 * np.pi * 440 * np.arange(735) / 44100) * 0.5
    on = codec.SLICES["onset"].start
    assert fx.compute(x)[on] == 1.0
    assert fx.compute(x)[on] == 0.0
    fx.reset()
    assert fx.compute(x)[on] == 1.0


def test_a_sine_lands_in_its_band_with_its_centroid():
    for sr, freq in ((44100, 1000.0), (48000, 3000.0)):
        fx = FeatureExtractor(sr)
        w = fx.window_samples
        v = fx.compute(0.5 * np.sin(2 * np.pi * freq * np.arange(w) / sr)).copy()
        assert v[0] == pytest.approx(0.5 / math.sqrt(2), rel=0.02)
        assert v[1] == pytest.approx(freq, rel=0.05)
        bands = v[codec.SLICES["eq_bands"]]
        expected = next(b["index"] for b in SPEC["eq_bands"]["bands"]
                        if b["low_hz"] <= freq < b["high_hz"])
        assert int(np.argmax(bands)) == expected


def test_samples_are_clipped_and_nan_is_refused():
    fx = FeatureExtractor(44100)
    loud = np.full(735, 7.0)
    loud[::2] = -np.inf
    v = fx.compute(loud)
    assert v[0] == 1.0  # every sample clipped to +-1
    x = np.zeros(735)
    x[100] = np.nan
    with pytest.raises(NonFiniteInput, match="NaN"):
        fx.compute(x)


def test_the_extractor_matches_the_contract_formulas_on_noise_and_48k():
    rng = np.random.default_rng(7)
    for sr in (44100, 48000):
        w = window_samples(sr)
        windows = rng.uniform(-1, 1, (6, w)) * rng.uniform(0, 1, (6, 1))
        windows[3] = 0.0  # a silent window in the middle: onset after it is 1
        assert_close_to_reference(extract(windows, sr), reference(windows, sr))


def test_the_extractor_matches_the_contract_formulas_on_real_music(music):
    windows, sr, _ = music_windows(music, 40)
    assert_close_to_reference(extract(windows, sr), reference(windows.astype(np.float64), sr))


def test_rms_and_centroid_agree_with_librosa_on_the_same_frames_of_real_music(music):
    librosa = pytest.importorskip("librosa")
    count = 300  # five seconds of windows
    windows, sr, tail = music_windows(music, count)
    w = windows.shape[1]
    got = extract(windows, sr)

    rms = librosa.feature.rms(y=tail[:w * count], frame_length=w, hop_length=w, center=False)[0]
    np.testing.assert_allclose(got[:, 0], rms, rtol=1e-6)

    # librosa's STFT over the same frames: hop W, a 1024-sample frame whose window is the
    # symmetric Hann of length W followed by zeros, i.e. the W samples zero-padded to 1024.
    window = np.zeros(1024)
    window[:w] = np.hanning(w)
    y = tail[:w * count + 1024].astype(np.float64)
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=w, window=window, center=False))[:, :count]
    centroid = librosa.feature.spectral_centroid(S=S, sr=sr, n_fft=1024)[0]
    np.testing.assert_allclose(got[:, 1], centroid, rtol=1e-6)

    # and the MFCCs from librosa's mel bank + scipy's orthonormal DCT-II on that spectrum
    import scipy.fft

    power = (S / np.hanning(w).sum()) ** 2
    mel = librosa.filters.mel(sr=sr, n_fft=1024, n_mels=8, fmin=0, fmax=sr / 2, htk=True, norm=None)
    mfcc = scipy.fft.dct(np.log(mel @ power + 1e-10), type=2, norm="ortho", axis=0).T
    np.testing.assert_allclose(got[:, codec.SLICES["mfcc"]], mfcc, atol=1e-4)


@given(hnp.arrays(np.float32, 735, elements=st.floats(-4, 4, width=32, allow_nan=False)
                  | st.sampled_from([np.float32(np.inf), np.float32(-np.inf), np.float32(0)])))
def test_any_finite_or_infinite_window_yields_a_valid_packet(window):
    fx = FeatureExtractor(44100)
    for _ in range(2):  # the second call exercises onset against a non-zero previous spectrum
        values = fx.compute(window)
        assert codec.decode(encode_values(values))


def test_no_array_is_allocated_per_window():
    fx = FeatureExtractor(44100)
    packet = PacketBuffer()
    x = np.random.default_rng(1).uniform(-1, 1, 735).astype(np.float32)
    packet.load(fx.compute(x))  # warm up caches (FFT plan, views)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(200):
            packet.load(fx.compute(x))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # One window of float64 is 5.9 kB and an rfft output 8.2 kB: a per-window array would show.
    assert peak < 2048, f"{peak} bytes allocated at the peak of 200 windows"

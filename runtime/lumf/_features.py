"""LUMF audio features of one window, exactly as `features` in contracts/lumf_layout.v1.yaml.

RMS, spectral centroid, onset (normalised spectral flux), 4 EQ band energies and 8 MFCCs over
W = sample_rate / cadence samples, Hann-windowed and zero-padded to a 1024-point FFT. Every
buffer, filter bank and matrix is built once in `FeatureExtractor.__init__`; `compute` only
writes into them (numpy `out=`, an in-place real FFT), so the 60 Hz loop allocates no array.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.fftpack import rfft as _rfft_packed  # the one real FFT that can run in place

from lume.generated import lumf_layout as L

from ._codec import CONTRACT, N_VALUES, SLICES

_F = L.FEATURES
_FIELD_MAX = {name: hi for name, _o, _t, _c, _u, _lo, hi in L.FIELDS}


class NonFiniteInput(ValueError):
    """The window holds NaN samples: the contract clips finite samples only."""


def window_samples(sample_rate_hz: int) -> int:
    """W for a sample rate: the contract's table, else its rule sample_rate_hz / cadence_hz."""
    if sample_rate_hz in L.WINDOW_SAMPLES_BY_RATE:
        return L.WINDOW_SAMPLES_BY_RATE[sample_rate_hz]
    w = sample_rate_hz / L.CADENCE_HZ
    if w != int(w) or not 2 <= w <= L.FFT_SIZE:
        known = ", ".join(f"{r} Hz" for r in L.WINDOW_SAMPLES_BY_RATE)
        raise ValueError(
            f"sample rate {sample_rate_hz} Hz gives a window of {w:g} samples "
            f"({L.WINDOW_SAMPLES_RULE}); {CONTRACT} needs a whole number of samples between 2 and "
            f"the {L.FFT_SIZE}-point FFT (e.g. {known}): resample the audio")
    return int(w)


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise NotImplementedError(f"{CONTRACT} features: {what} is not implemented here")


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_edges(sample_rate_hz: int) -> np.ndarray:
    """The n_filters + 2 filter edge frequencies in Hz (equally spaced in HTK mel)."""
    mf = _F["mfcc"]
    _require(mf["mel_scale"] == "htk" and mf["f_max"] == "nyquist", "this mel scale")
    lo, hi = hz_to_mel(mf["f_min_hz"]), hz_to_mel(sample_rate_hz / 2.0)
    return mel_to_hz(lo + (hi - lo) * np.arange(mf["n_filters"] + 2) / (mf["n_filters"] + 1))


def mel_filterbank(sample_rate_hz: int) -> np.ndarray:
    """(n_filters, bins) triangular filters, peak 1, evaluated at the bin frequencies."""
    p = mel_edges(sample_rate_hz)
    f = bin_frequencies(sample_rate_hz)
    m = np.arange(_F["mfcc"]["n_filters"])[:, None]
    rise = (f[None, :] - p[m]) / (p[m + 1] - p[m])
    fall = (p[m + 2] - f[None, :]) / (p[m + 2] - p[m + 1])
    return np.maximum(0.0, np.minimum(rise, fall))


def dct_matrix() -> np.ndarray:
    """(n_coefficients, n_filters) orthonormal DCT-II rows."""
    mf = _F["mfcc"]
    _require(mf["dct"] == "II-ortho", f"DCT {mf['dct']!r}")
    m_count = mf["n_filters"]
    j = np.arange(mf["n_coefficients"])[:, None]
    m = np.arange(m_count)[None, :]
    d = math.sqrt(2.0 / m_count) * np.cos(np.pi * j * (2 * m + 1) / (2 * m_count))
    d[0] /= math.sqrt(2.0)
    return d


def bin_frequencies(sample_rate_hz: int) -> np.ndarray:
    """f_k = k * sample_rate / N for the N/2 + 1 magnitude bins."""
    return np.arange(L.FFT_SIZE // 2 + 1) * (sample_rate_hz / L.FFT_SIZE)


def band_bins(sample_rate_hz: int) -> list[np.ndarray]:
    """The bin indices of each EQ band: lo <= f_k < hi, the last band also taking f_k == hi."""
    f = bin_frequencies(sample_rate_hz)
    bands = sorted(_F["eq_bands"]["bands"], key=lambda b: b["index"])
    out = []
    for i, b in enumerate(bands):
        upper = f <= b["high_hz"] if i == len(bands) - 1 else f < b["high_hz"]
        out.append(np.flatnonzero((f >= b["low_hz"]) & upper))
    return out


class FeatureExtractor:
    """Computes the LUMF value slots of successive windows; keeps the previous spectrum (onset)."""

    def __init__(self, sample_rate_hz: int) -> None:
        _require(L.WINDOW == "hann", f"window {L.WINDOW!r}")
        _require(_F["mfcc"]["log"] == "natural", "this log")
        _require(_F["onset"]["initial_previous"] == "zeros", "this initial spectrum")
        n = L.FFT_SIZE
        _require(n % 2 == 0, "an odd FFT size")
        self.sample_rate_hz = int(sample_rate_hz)
        self.window_samples = w = window_samples(self.sample_rate_hz)
        bins = n // 2 + 1
        if bins != _F["spectrum"]["bins"]:
            raise ValueError(f"{CONTRACT}: spectrum.bins {_F['spectrum']['bins']} != fft_size/2+1")

        # constants: window / S_w (so |X_k| <= 1), bin frequencies, band and mel matrices
        hann = np.hanning(w)
        self._taper = hann / hann.sum()
        self._freqs = bin_frequencies(self.sample_rate_hz)
        self._centroid_max = float(_FIELD_MAX["centroid"])
        self._bands = np.zeros((len(_F["eq_bands"]["bands"]), bins))
        for row, idx in zip(self._bands, band_bins(self.sample_rate_hz)):
            if len(idx):  # an empty band stays 0
                row[idx] = 1.0 / len(idx)
        self._mel = mel_filterbank(self.sample_rate_hz)
        self._dct = dct_matrix()
        self._c0_scale = self._dct[0, 0]  # every entry of row 0 is 1/sqrt(M)
        self._power = int(_F["mfcc"]["power"])
        self._log_floor = float(_F["mfcc"]["log_floor"])

        # work buffers, reused for every window
        self._x = np.zeros(w)
        self._fft = np.zeros(n)
        self._fft_head, self._fft_tail = self._fft[:w], self._fft[w:]
        self._re, self._im = self._fft[1:n - 1:2], self._fft[2:n - 1:2]  # fftpack packing
        self._mag = np.zeros(bins)
        self._mag_mid = self._mag[1:bins - 1]
        self._prev = np.zeros(bins)
        self._prev_sum = 0.0
        self._diff = np.zeros(bins)
        self._pow = np.zeros(bins)
        self._mpow = self._pow if self._power == 2 else np.zeros(bins)
        self._mel_e = np.zeros(self._mel.shape[0])
        self._log_c = np.zeros(self._mel.shape[0])
        self.values = np.zeros(N_VALUES)
        self._rms_i, self._cen_i, self._ons_i = (SLICES[k].start for k in ("rms", "centroid", "onset"))
        self._bands_out, self._mfcc_out = self.values[SLICES["eq_bands"]], self.values[SLICES["mfcc"]]
        if self._dct.shape[0] != self._mfcc_out.shape[0] or self._bands.shape[0] != self._bands_out.shape[0]:
            raise ValueError(f"{CONTRACT}: feature sizes do not match the packet fields")

    def reset(self) -> None:
        """Forget the previous spectrum (onset starts again from silence)."""
        self._prev.fill(0.0)
        self._prev_sum = 0.0

    def compute(self, samples: np.ndarray) -> np.ndarray:
        """Features of one window of exactly W mono samples -> `self.values` (reused; copy to keep).

        Raises NonFiniteInput for NaN samples (infinities clip to +-1 like any other sample).
        """
        x, v = self._x, self.values
        np.copyto(x, samples)  # float32 in, float64 work: a plain cast copy, no temporary
        np.minimum(x, 1.0, out=x)  # clip to [-1, 1] (np.clip would allocate its bounds)
        np.maximum(x, -1.0, out=x)
        ss = float(np.dot(x, x))
        if math.isnan(ss):
            raise NonFiniteInput(f"window holds NaN samples ({CONTRACT} features.input)")
        v[self._rms_i] = math.sqrt(ss / self.window_samples)

        # |X_k|: taper the W samples, zero-pad to N, real FFT in place, magnitudes from the packing
        f, mag = self._fft, self._mag
        np.multiply(x, self._taper, out=self._fft_head)
        self._fft_tail.fill(0.0)
        _rfft_packed(f, overwrite_x=True)
        np.hypot(self._re, self._im, out=self._mag_mid)
        mag[0] = abs(f[0])
        mag[-1] = abs(f[-1])

        total = float(mag.sum())
        v[self._cen_i] = (min(self._centroid_max, float(np.dot(self._freqs, mag)) / total)
                          if total > 0.0 else 0.0)

        # onset: half-wave-rectified flux against the previous window, normalised into 0..1
        np.subtract(mag, self._prev, out=self._diff)
        np.maximum(self._diff, 0.0, out=self._diff)
        flux = float(self._diff.sum())
        denominator = flux + self._prev_sum
        v[self._ons_i] = flux / denominator if denominator > 0.0 else 0.0
        np.copyto(self._prev, mag)
        self._prev_sum = total

        np.multiply(mag, mag, out=self._pow)
        np.dot(self._bands, self._pow, out=self._bands_out)

        # MFCC: mel energies of |X|^power, natural log with a floor, orthonormal DCT-II
        if self._mpow is not self._pow:
            np.power(mag, self._power, out=self._mpow)
        np.dot(self._mel, self._mpow, out=self._mel_e)
        self._mel_e += self._log_floor
        np.log(self._mel_e, out=self._mel_e)
        # Rows j >= 1 are orthogonal to constants, so they are applied to L minus its mean and
        # c0 to the sum: identical in exact arithmetic, and silence gives c1..c7 == 0 exactly.
        mean = float(self._mel_e.sum()) / self._mel_e.shape[0]
        np.subtract(self._mel_e, mean, out=self._log_c)
        np.dot(self._dct, self._log_c, out=self._mfcc_out)
        self._mfcc_out[0] = self._c0_scale * float(self._mel_e.sum())
        return v


def frames(samples: np.ndarray, window: int):
    """Consecutive non-overlapping windows (one per 60 Hz tick); a trailing partial one is dropped."""
    for start in range(0, len(samples) - window + 1, window):
        yield start, samples[start:start + window]

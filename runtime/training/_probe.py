"""A least-squares baseline over V6 pairs: the smallest honest model a pairs file can train.

Ridge regression from the 141-wide conditioning vector (plus a bias) to the audio target, each
target dimension standardised by its train mean and deviation (the LUMF features range from 0..1 to
thousands of Hz), fitted on the train split and scored on the held-out tracks of the val split (mean
squared error in those standard units; predicting the train mean scores about 1). It gives a
pairs file a real run to attach to a model artifact record - datasets, code, metrics, exported
weights - without claiming to be any of seed 001's models (its family is `linear_probe`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lume.runtime.core import InputError

from . import _layout as layout
from ._npz import read_npz

if TYPE_CHECKING:  # numpy is imported where arrays are made or read: `lume verify` imports this
    import numpy as np  # module, and a root without training data does not pay for numpy (0.1 s)

RIDGE = 1.0  # keeps the normal equations well posed when one-hot columns are constant on train
STD_FLOOR = 1e-3  # a feature constant on train (a silent band) must not blow up the val error


@dataclass(frozen=True)
class Probe:
    weights: np.ndarray  # (C + 1, K) float32, last row = bias, in standard units of the target
    target_mean: np.ndarray  # (K,) train mean of the target
    target_std: np.ndarray  # (K,) train standard deviation of the target (floored)
    train_mse: float
    val_mse: float
    train_pairs: int
    val_pairs: int

    def predict(self, conditioning: np.ndarray) -> np.ndarray:
        import numpy as np
        x = np.asarray(conditioning, dtype=np.float64)
        z = np.hstack([x, np.ones((x.shape[0], 1))]) @ self.weights.astype(np.float64)
        return z * self.target_std.astype(np.float64) + self.target_mean.astype(np.float64)


def fit_linear_probe(pairs: Path) -> Probe:
    import numpy as np
    arrays, refused = read_npz(Path(pairs))
    needed = ("conditioning", "target", "split")
    if refused or any(k not in arrays for k in needed):
        raise InputError(f"{pairs}: needs arrays {', '.join(needed)}")
    codes = layout.rules_data()["pairs"]["split"]["codes"]
    x = np.asarray(arrays["conditioning"], dtype=np.float64)
    y = np.asarray(arrays["target"], dtype=np.float64)
    train, val = arrays["split"] == codes["train"], arrays["split"] == codes["val"]
    if not train.any() or not val.any():
        raise InputError(f"{pairs}: a probe needs pairs in both train and val")
    mean = y[train].mean(axis=0)
    std = np.maximum(y[train].std(axis=0), STD_FLOOR)
    z = (y - mean) / std
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    a = xb[train]
    w = np.linalg.solve(a.T @ a + RIDGE * np.eye(a.shape[1]), a.T @ z[train])
    err = (xb @ w - z) ** 2
    return Probe(w.astype(np.float32), mean.astype(np.float32), std.astype(np.float32),
                 float(err[train].mean()), float(err[val].mean()), int(train.sum()), int(val.sum()))

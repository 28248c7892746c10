"""The V6 training loop as contracts: seed 001's conditioning and capture, seed 002's auditable models.

- layout: the 141-wide conditioning vector (generated from v6_conditioning.v1) and the capture /
  pair rules (v6_training.v1): `blocks`, `encode`, `producers`, `rules_data`;
- pairs: `check_pairs` (an NPZ against the layout and the pair format) and `build_pairs` (captured
  sessions of a capture manifest -> pairs, reproducible bytes);
- capture: `load_manifest`, `coverage` (the mode × emotion matrix and the protocol fields);
- models: `assess` a model artifact record under the eight live-safe criteria (live_safe_policy.v1);
- claims: `read_claims`, `evaluate` a claims document against claims.v1 over a `RootEvidence`;
- probe: `fit_linear_probe`, the least-squares baseline a pairs file can train;
- npz: `read_npz` (never unpickles), `write_npz` / `npz_bytes` (same arrays, same bytes).
"""
from ._capture import Coverage, coverage, load_manifest
from ._claims import RootEvidence, evaluate, is_claims_file, is_pairs_file, read_claims, rules
from ._io import sha256_file
from ._layout import Block, blocks, encode, one_hot_blocks, producers, rules_data, width
from ._models import Assessment, assess, criteria, load_record, policy
from ._npz import array_names, npz_bytes, read_npz, write_npz
from ._pairs import Built, PairsCheck, build_pairs, check_pairs
from ._probe import Probe, fit_linear_probe

__all__ = [
    "Assessment", "Block", "Built", "Coverage", "PairsCheck", "Probe", "RootEvidence", "array_names",
    "assess",
    "blocks", "build_pairs", "check_pairs", "coverage", "criteria", "encode", "evaluate", "fit_linear_probe",
    "is_claims_file", "is_pairs_file", "load_manifest", "load_record", "npz_bytes", "one_hot_blocks",
    "policy",
    "producers", "read_claims", "read_npz", "rules", "rules_data", "sha256_file", "width", "write_npz",
]

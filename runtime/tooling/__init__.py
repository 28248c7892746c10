"""Build-time tooling: codegen (`generated/` from `contracts/`), the LUMF layout generator and
the contract diff. Nothing at run time imports this package (tests/test_layers.py); only the
CLI's `lume contracts codegen | diff` verbs do.
"""
from ._codegen import diff_against, render, write
from ._contract_diff import DiffInputError, diff_refs, yes_no

__all__ = ["DiffInputError", "diff_against", "diff_refs", "render", "write", "yes_no"]

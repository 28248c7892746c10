"""The universal sled's constants (seed 004 Q3) as a contract: relations checked, SCAD generated.

`shipped()` reads lume:contract:sled_constants:v1; `check` holds a set of values against its
relations with the numbers; `check_statements` does it for a set as a source states it (one run
per reading, constants given two values named); `section` / `write_section` render the
`lume-config.scad` section with every relation as an OpenSCAD assert.
"""
from ._constants import (
    CONTRACT,
    SET_CONTRACT,
    Constants,
    Outcome,
    Reading,
    Relation,
    SetResult,
    check,
    check_statements,
    holds,
    shipped,
)
from ._expr import Expression, ExpressionError, number, parse
from ._scad import Written, section, write_section

__all__ = [
    "CONTRACT", "Constants", "Expression", "ExpressionError", "Outcome", "Reading", "Relation",
    "SET_CONTRACT", "SetResult", "Written", "check", "check_statements", "holds", "number", "parse",
    "section", "shipped", "write_section",
]

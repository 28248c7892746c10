"""The relation expressions of the sled constants: parsed once, evaluated safely, shown with numbers.

An expression is plain arithmetic over constant names (+ - * / and parentheses, numbers, and the
functions max, min, sqrt, abs), a language OpenSCAD and Python read alike, so the same text is
checked here and emitted as an OpenSCAD `assert`.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Mapping

FUNCTIONS = {"max": max, "min": min, "sqrt": math.sqrt, "abs": abs}
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
        ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}
_NAME = re.compile(r"\b[A-Z][A-Z0-9_]*\b")


class ExpressionError(ValueError):
    """An expression uses something other than names, numbers, + - * / and the four functions."""


@dataclass(frozen=True)
class Expression:
    text: str
    tree: ast.expr
    names: tuple[str, ...]

    def value(self, values: Mapping[str, float]) -> float:
        return float(_eval(self.tree, values))

    def shown(self, values: Mapping[str, float]) -> str:
        """The expression with every name replaced by its value and `*` shown as `×`."""
        text = _NAME.sub(lambda m: number(values[m.group(0)]), self.text)
        return text.replace("*", "×")

    @property
    def is_name(self) -> bool:
        return isinstance(self.tree, ast.Name)


def parse(text: str) -> Expression:
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"{text!r}: not an expression ({exc.msg})") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in FUNCTIONS:
                names.append(node.id)
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS) or node.keywords:
                raise ExpressionError(f"{text!r}: only {', '.join(FUNCTIONS)} may be called")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise ExpressionError(f"{text!r}: only numbers are literals")
        elif not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Load, ast.USub, ast.UAdd, *_OPS)):
            raise ExpressionError(f"{text!r}: {type(node).__name__} is not allowed")
    return Expression(text.strip(), tree, tuple(dict.fromkeys(names)))


def _eval(node: ast.expr, values: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, values)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id](*(_eval(a, values) for a in node.args))  # type: ignore[union-attr]
    raise ExpressionError(f"{ast.dump(node)} is not allowed")


def number(value: float) -> str:
    """A length as people write it: 46, 142.6, 17.6777 (never 46.0)."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.6g}"

"""The two built-in tools: the current time, and arithmetic evaluated by walking the syntax tree.

Both are pure and safe to offer to anyone: no I/O, no `eval`, bounded work per call.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from strands import tool

__all__ = ["TOOLS", "calculator", "current_time", "evaluate"]

_MAX_EXPRESSION_CHARS: Final = 500
_MAX_EXPONENT: Final = 1000
_MAX_MAGNITUDE: Final = 10**1000
_MAX_NODES: Final = 200

Number = int | float

_BINARY: Final[dict[type[ast.operator], Callable[[Number, Number], Number]]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: Final[dict[type[ast.unaryop], Callable[[Number], Number]]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_CONSTANTS: Final[dict[str, float]] = {"pi": math.pi, "e": math.e, "tau": math.tau}
_FUNCTIONS: Final[dict[str, Callable[..., Number]]] = {
    "abs": abs,
    "round": round,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
}


def _check(value: Number) -> Number:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("The result is not a finite number.")
    if abs(value) > _MAX_MAGNITUDE:
        raise ValueError("The result is too large.")
    return value


def _apply(function: Callable[..., Number], *values: Number) -> Number:
    try:
        return _check(function(*values))
    except OverflowError as exc:
        raise ValueError("The result is too large.") from exc
    except TypeError as exc:
        raise ValueError("A function got arguments of the wrong kind.") from exc


def _walk(node: ast.AST) -> Number:
    match node:
        case ast.Expression(body=body):
            return _walk(body)
        case ast.Constant(value=value) if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        case ast.Name(id=name) if name in _CONSTANTS:
            return _CONSTANTS[name]
        case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
            return _UNARY[type(op)](_walk(operand))
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            a, b = _walk(left), _walk(right)
            if isinstance(op, ast.Pow) and abs(b) > _MAX_EXPONENT:
                raise ValueError(f"Exponents are limited to {_MAX_EXPONENT}.")
            if isinstance(op, ast.Div | ast.FloorDiv | ast.Mod) and b == 0:
                raise ValueError("Division by zero.")
            return _apply(_BINARY[type(op)], a, b)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if (
            name in _FUNCTIONS and 1 <= len(args) <= 2
        ):
            values = [_walk(arg) for arg in args]
            if name in {"sqrt", "log", "log10"} and values[0] < 0:
                raise ValueError(f"{name} needs a non-negative number.")
            return _apply(_FUNCTIONS[name], *values)
    raise ValueError("Only numbers, + - * / // % **, parentheses and common math functions are allowed.")


def evaluate(expression: str) -> Number:
    """Evaluate an arithmetic expression without `eval`.

    Raises:
        ValueError: for anything that is not bounded arithmetic (names, attributes, huge powers...).
    """
    if len(expression) > _MAX_EXPRESSION_CHARS:
        raise ValueError(f"Expressions are limited to {_MAX_EXPRESSION_CHARS} characters.")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ValueError("The expression is not valid arithmetic.") from exc
    if sum(1 for _ in ast.walk(tree)) > _MAX_NODES:
        raise ValueError("The expression is too long.")
    return _walk(tree)


def _format(value: Number) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".12g") if isinstance(value, float) else str(value)


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly as written and return the result.

    Supports + - * / // % ** (or ^), parentheses, pi, e, and abs, round, sqrt, exp, log, log10, sin, cos,
    tan, floor, ceil.

    Args:
        expression: The expression, for example "(3 + 4) * 2 ** 10".
    """
    return _format(evaluate(expression))


@tool
def current_time(timezone: str = "UTC") -> str:
    """Return the current date and time (ISO 8601) in a time zone.

    Args:
        timezone: An IANA time zone such as "Europe/Paris"; UTC when omitted.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {timezone!r}.") from exc
    return datetime.now(zone).isoformat(timespec="seconds")


TOOLS: Final[dict[str, Any]] = {"calculator": calculator, "current_time": current_time}
"""The strands tool of each built-in tool id (the registry, `chat_agent.tools.registry`, describes them)."""

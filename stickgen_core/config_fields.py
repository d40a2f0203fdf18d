"""One way to declare and check a config's fields (the shape of PEFT's config dataclasses).

A field says what it means and what it accepts where it is declared::

    @dataclass
    class LoraConfig:
        SECTION: ClassVar[str] = "lora"
        rank: int = setting(8, help="Rank of the adapters.", ge=1, le=4096)
        mode: Literal["a", "b"] = setting("a", help="...")      # choices are the Literal's values

        def __post_init__(self) -> None:
            check_fields(self)          # types, choices and ranges of every field; then cross-field rules

The help text is what ``--help`` and the studio's tooltips show; the range and the choices are
what ``check_fields`` enforces and what the tests walk (a new field is covered without a new test).
Errors are one line naming the key path and what was expected: ``training.epochs: expected a
value >= 1, got 0``. Kept free of heavy imports: the CLI parser reads this metadata.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import MISSING, dataclass
from typing import Any, Callable, Literal, Mapping

from .errors import ConfigError
from .limits import brief


@dataclass(frozen=True)
class Range:
    """The numbers a field accepts: ``lo``..``hi``, each end open or closed. NaN is never inside."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_in: bool = True
    hi_in: bool = True

    def __contains__(self, value: float) -> bool:
        above = self.lo <= value if self.lo_in else self.lo < value
        below = value <= self.hi if self.hi_in else value < self.hi
        return bool(above and below)  # False for NaN: every comparison with NaN is

    def __str__(self) -> str:
        if math.isinf(self.lo) and math.isinf(self.hi):
            return "a finite value"
        if math.isinf(self.hi):
            return f"a value {'>=' if self.lo_in else '>'} {self.lo:g}"
        if math.isinf(self.lo):
            return f"a value {'<=' if self.hi_in else '<'} {self.hi:g}"
        return f"a value in {'[' if self.lo_in else '('}{self.lo:g}, {self.hi:g}{']' if self.hi_in else ')'}"


def setting(default: Any = MISSING, *, help: str = "", ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None, default_factory: Callable[[], Any] | Any = MISSING,
            why: str = "", like: tuple[type, str] | None = None) -> Any:
    """A dataclass field with its help text and (for numbers, or each number of a list) its range.

    ``ge``/``gt``/``le``/``lt``: the bounds, inclusive or not (an unbounded float still excludes
    inf and NaN when any bound is given). ``why``: words added to a range error. ``like``: take the
    help and range of another class's field (a job's override of a training setting).
    """
    rng: Range | None = None
    if like is not None:
        help = help or help_of(*like)
        rng = range_of(*like)
    if any(b is not None for b in (ge, gt, le, lt)):
        rng = Range(lo=ge if ge is not None else gt if gt is not None else -math.inf,
                    hi=le if le is not None else lt if lt is not None else math.inf,
                    lo_in=ge is not None, hi_in=le is not None)  # an open infinite end: inf is never a value
    meta = {"help": help, "range": rng, "why": why}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# --------------------------------------------------------------------------- reading the metadata
def _field(cls: type, name: str) -> dataclasses.Field:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def help_of(cls: type, name: str) -> str:
    """The help text of ``cls.name`` (what ``--help`` and a tooltip say)."""
    return _field(cls, name).metadata.get("help", "")


def range_of(cls: type, name: str) -> Range | None:
    return _field(cls, name).metadata.get("range")


def key_of(cls: type, name: str) -> str:
    """The key path a config file uses for the field: ``training.epochs``."""
    section = getattr(cls, "SECTION", "")
    return f"{section}.{name}" if section else name


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def choices_of(cls: type, name: str) -> tuple[Any, ...] | None:
    """The values a ``Literal`` field (or the Literal part of ``int | Literal["auto"]``) allows."""
    tp = hints(cls)[name]
    options = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    for option in options:
        if typing.get_origin(option) is Literal:
            return typing.get_args(option)
    return None


def describe(cls: type, name: str, key: bool = True) -> str:
    """Help, then the accepted values, then the key: ``Adapter rank. A value in [1, 4096]. (lora.rank)``."""
    parts = [help_of(cls, name)]
    rng, choices = range_of(cls, name), choices_of(cls, name)
    if choices:
        parts.append(f"One of {', '.join(map(str, choices))}.")
    if rng is not None:
        parts.append(f"{str(rng)[0].upper()}{str(rng)[1:]}.")
    if key:
        parts.append(f"({key_of(cls, name)})")
    return " ".join(p for p in parts if p)


def cli_help(cls: type, name: str) -> str:
    """``describe`` for argparse, which formats help with ``%``."""
    return describe(cls, name).replace("%", "%%")


def ranged_fields(cls: type) -> list[tuple[str, Range]]:
    """(name, range) of every field of ``cls`` that has a range."""
    return [(f.name, f.metadata["range"]) for f in dataclasses.fields(cls) if f.metadata.get("range") is not None]


# --------------------------------------------------------------------------- checking values
def _names(options: tuple) -> str:
    return ", ".join(map(str, options))


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, where: str, error: type[Exception] = ConfigError) -> Any:
    """``value`` as type ``tp`` (ints read as floats, lists as tuples), else ``error`` naming ``where``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(tp)):
            return None
        if len(options) == 1:  # Optional[X]: X's own message
            return coerce(value, options[0], where, error)
        for option in options:
            try:
                return coerce(value, option, where, error)
            except error:
                continue
        words = [f"one of {_names(typing.get_args(a))}" if typing.get_origin(a) is Literal else _type_name(a)
                 for a in options]
        raise error(f"{where}: expected {' or '.join(words)}, got {type(value).__name__} {brief(value)}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if isinstance(value, bool) or value not in allowed:
            raise error(f"{where}: expected one of {_names(allowed)}, got {brief(value)}")
        return value
    if origin in (list, tuple):
        item = typing.get_args(tp)[0]
        if origin is list and not isinstance(value, list) or not isinstance(value, (list, tuple)):
            raise error(f"{where}: expected a list, got {type(value).__name__} {brief(value)}")
        items = [coerce(v, item, f"{where}[{i}]", error) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        key_tp, value_tp = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise error(f"{where}: expected a mapping, got {type(value).__name__} {brief(value)}")
        return {coerce(k, key_tp, where, error): coerce(v, value_tp, f"{where}.{str(k)[:60]}", error)
                for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise error(f"{where}: expected true or false, got {type(value).__name__} {brief(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise error(f"{where}: expected a whole number, got {type(value).__name__} {brief(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error(f"{where}: expected a number, got {type(value).__name__} {brief(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise error(f"{where}: expected text, got {type(value).__name__} {brief(value)}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and not isinstance(value, tp):
        raise error(f"{where}: expected a mapping of {tp.__name__} settings, got {type(value).__name__}")
    return value


def _check_range(value: Any, rng: Range, where: str, why: str, error: type[Exception]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_range(v, rng, f"{where}.{str(k)[:60]}", why, error)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_range(v, rng, f"{where}[{i}]", why, error)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and value not in rng:
        raise error(f"{where}: expected {rng}{f' ({why})' if why else ''}, got {brief(value)}")


def check_value(cls: type, name: str, value: Any, where: str | None = None,
                error: type[Exception] = ConfigError) -> Any:
    """One field's value checked (type, choices, range) and coerced, as ``check_fields`` does it."""
    return _checked(_field(cls, name), hints(cls)[name], value, where or key_of(cls, name), error)


def _checked(f: dataclasses.Field, tp: Any, value: Any, where: str, error: type[Exception]) -> Any:
    value = coerce(value, tp, where, error)
    if f.metadata.get("range") is not None and value is not None:
        _check_range(value, f.metadata["range"], where, f.metadata.get("why", ""), error)
    return value


def check_fields(obj: Any, where: str | None = None, error: type[Exception] = ConfigError) -> None:
    """Every field of the dataclass ``obj`` checked against its type and metadata, in declaration order.

    Values are coerced in place (an int where a float is declared becomes a float, a list a tuple).
    ``where``: the key path of ``obj`` (default: its class's ``SECTION``).
    """
    cls = type(obj)
    prefix = getattr(cls, "SECTION", "") if where is None else where
    types_ = hints(cls)
    for f in dataclasses.fields(cls):
        value = _checked(f, types_[f.name], getattr(obj, f.name), f"{prefix}.{f.name}" if prefix else f.name, error)
        object.__setattr__(obj, f.name, value)

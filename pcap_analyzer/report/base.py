"""ReportModel, the base of the report's models, and the conversions to and from plain data and JSON.

The models are msgspec Structs: defining them costs microseconds (pydantic spent ~110 ms of every run
building validators for ~55 models and the config), and encoding the report is done in C. Building a
Struct checks nothing, so the analyzers give every field the Python type its annotation names
(tests/engine/report/test_value_types.py holds them to it on every test capture); `normalized` converts a
copy by the annotations where values come from literals (the findings), and checks data read back.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T", bound="ReportModel")


class ReportModel(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A part of the report: built with keywords; an unknown key is refused when a report is read.

    Each subclass repeats `kw_only=True` (msgspec does not inherit it), which lets fields with defaults
    precede required ones, in the order the JSON report lists them.
    """


def _plain(value: Any) -> Any:
    """NumPy scalars (and anything else with .item()) as the Python value they hold."""
    item = getattr(value, "item", None)
    if item is None:
        raise NotImplementedError(f"cannot serialise {type(value).__name__}")
    return item()


def to_data(model: ReportModel) -> Any:
    """The model as the JSON report holds it: dicts, lists, str, int, float, bool and None (for NaN)."""
    return msgspec.json.decode(to_json(model))


def from_data(data: Any, model_type: type[T]) -> T:
    """Read plain data (e.g. a parsed JSON report) as `model_type`; raises msgspec.ValidationError."""
    return msgspec.convert(data, model_type, strict=False)


def normalized(model: T) -> T:
    """A copy of `model` checked against its annotations, every value of the Python type they name."""
    # to_builtins, not to_data: a NaN in a float field must stay a float, not become None.
    return from_data(msgspec.to_builtins(model, enc_hook=_plain), type(model))


def to_json(model: ReportModel, *, indent: int = 0) -> bytes:
    """The model as UTF-8 JSON (non-finite floats as null), indented when `indent` > 0."""
    raw = msgspec.json.encode(model, enc_hook=_plain)
    return msgspec.json.format(raw, indent=indent) if indent > 0 else raw


def from_json(raw: bytes | str, model_type: type[T]) -> T:
    """Parse a JSON document as `model_type`; raises msgspec.ValidationError or msgspec.DecodeError."""
    return msgspec.json.decode(raw, type=model_type, strict=False)


def field_names(model_type: type[ReportModel]) -> tuple[str, ...]:
    """The model's field names in declaration order (the JSON report's key order)."""
    return model_type.__struct_fields__

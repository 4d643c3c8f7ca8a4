"""Typed settings: a dataclass with defaults, overridable from the environment and the CLI.

Each stage keeps its own settings dataclass next to the code that uses it. This module only
knows how to fill one:

    @dataclass
    class TrainSettings:
        batch_size: int = 16          # help text comes from field metadata, see `setting()`

    add_dataclass_arguments(parser, TrainSettings)          # --batch-size
    settings = settings_from(TrainSettings, args, env_prefix="FACESWAP_TRAIN_")

Precedence: command line > environment (`PREFIX` + upper-case field name) > default.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import logging
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


def setting(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with a default and a help text for --help."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _converter(kind: Any):
    origin = typing.get_origin(kind)
    if origin is typing.Union or str(origin) == "types.UnionType":
        arguments = [a for a in typing.get_args(kind) if a is not type(None)]
        inner = _converter(arguments[0])
        return lambda text: None if text.lower() in ("", "none", "null") else inner(text)
    if kind is bool:
        return _parse_bool
    if kind in (int, float, str):
        return kind
    if kind is Path:
        return Path
    if origin in (tuple, list):
        element = typing.get_args(kind)[0] if typing.get_args(kind) else str
        convert = _converter(element)
        return lambda text: origin(convert(part) for part in text.split(",") if part.strip())
    return str


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--field-name`` option per dataclass field (default None = keep the dataclass default)."""
    types = _field_types(cls)
    for field in dataclasses.fields(cls):
        if field.metadata.get("cli") is False:
            continue
        kind = types[field.name]
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        help_text = f"{field.metadata.get('help', '')} (default: {default})"
        choices = field.metadata.get("choices")
        if kind is bool:
            parser.add_argument(flag, dest=field.name, default=None, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            parser.add_argument(flag, dest=field.name, default=None, type=_converter(kind), choices=choices,
                                help=help_text, metavar=field.name.upper())


def unknown_environment(cls: type, env_prefix: str, environ: typing.Mapping[str, str]) -> list[str]:
    """Names in ``environ`` that start with ``env_prefix`` but name no field of ``cls`` (a typo, or a
    setting that was renamed), sorted."""
    known = {env_prefix + field.name.upper() for field in dataclasses.fields(cls)}
    return sorted(name for name in environ if name.startswith(env_prefix) and name not in known)


def settings_from(cls: type[T], args: argparse.Namespace | None = None, env_prefix: str = "",
                  environ: typing.Mapping[str, str] | None = None, warn_unknown: bool = False, **overrides: Any) -> T:
    """Build ``cls`` from defaults, then ``env_prefix``-named environment variables, then ``args``.
    ``warn_unknown``: log a warning for each ``env_prefix`` variable that names no field (for a
    prefix that belongs to ``cls`` alone), with the closest field's variable, or, for a field that
    was renamed (``cls.RENAMED_SETTINGS``: old field name -> new one), the new one's."""
    environ = os.environ if environ is None else environ
    if warn_unknown and env_prefix:
        known = [env_prefix + field.name.upper() for field in dataclasses.fields(cls)]
        renamed = {env_prefix + old.upper(): env_prefix + new.upper()
                   for old, new in getattr(cls, "RENAMED_SETTINGS", {}).items()}
        for name in unknown_environment(cls, env_prefix, environ):
            if name in renamed:
                logger.warning("environment variable %s is ignored: that setting of %s is %s now "
                               "(docs/merge-settings.md)", name, cls.__name__, renamed[name])
                continue
            close = difflib.get_close_matches(name, known, n=1)
            logger.warning("environment variable %s is not a setting of %s and is ignored%s",
                           name, cls.__name__, f" (did you mean {close[0]}?)" if close else "")
    types = _field_types(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if env_prefix:
            name = env_prefix + field.name.upper()
            if name in environ:
                try:
                    values[field.name] = _converter(types[field.name])(environ[name])
                except ValueError as error:
                    from faceswap.errors import FaceswapError
                    raise FaceswapError(f"environment variable {name}: {error}") from None
        if args is not None and getattr(args, field.name, None) is not None:
            values[field.name] = getattr(args, field.name)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**values)

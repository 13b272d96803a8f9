"""Every kind of button the bot defines (found by importing every module of the bot), and
hypothesis strategies that make valid buttons of a kind."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from hypothesis import strategies as st

import bot
from bot.core.callbacks import (
    CallbackData,
    ChoiceField,
    Field,
    IntField,
    TextField,
    TimeField,
    kinds,
)


def _import_every_module() -> None:
    for module in pkgutil.walk_packages(bot.__path__, "bot."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


_import_every_module()
KINDS: list[type[CallbackData]] = sorted(
    (k for k in kinds() if k.__module__.startswith("bot.")), key=lambda k: k.prefix
)


def _values(field: Field) -> st.SearchStrategy[Any]:
    if isinstance(field, IntField):
        return st.integers(field.low, field.high)
    if isinstance(field, ChoiceField):
        return st.sampled_from(field.choices)
    if isinstance(field, TextField):
        return st.from_regex(field.pattern, fullmatch=True).filter(
            lambda text: text not in field.reserved
        )
    assert isinstance(field, TimeField)
    return st.times().map(lambda at: at.replace(second=0, microsecond=0))


def buttons_of(kind: type[CallbackData]) -> st.SearchStrategy[CallbackData]:
    """Generate any valid button of one kind."""
    return st.builds(kind, **{field.name: _values(field) for field in kind.fields()})

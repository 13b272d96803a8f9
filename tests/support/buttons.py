"""Every kind of button the bot defines, found by importing every module of the bot."""

from __future__ import annotations

import importlib
import pkgutil

import bot
from bot.core.callbacks import CallbackData, kinds


def _import_every_module() -> None:
    for module in pkgutil.walk_packages(bot.__path__, "bot."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


_import_every_module()
KINDS: list[type[CallbackData]] = sorted(
    (k for k in kinds() if k.__module__.startswith("bot.")), key=lambda k: k.prefix
)

"""Button presses routed by typed callback data, and buttons rebuilt from stored data."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from telegram import InlineKeyboardButton, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler

from bot.core.callbacks import CallbackData
from bot.core.errors import DomainError
from bot.outbox.messages import is_link
from bot.people.profiles import existing_ids
from bot.telegram.context import BotContext

Kind = TypeVar("Kind", bound=CallbackData)
ANSWERED_KEPT = 512
_ANSWERED_KEY = "answered_presses"


class ButtonHandler(BaseHandler[Update, BotContext, None], Generic[Kind]):
    """Take the presses whose data parses as one kind; the callback gets the parsed value.

    Unlike CallbackQueryHandler with a pattern, a press without data (empty, or a game's)
    is not taken: it falls through to the expired-button answer registered last.

    Most buttons act for a person the bot knows; a press by someone it doesn't (never
    started, or erased since the message was sent) is answered "send /start" before the
    handler runs, whatever the kind. `anyone=True` lets a kind through (help, support lines,
    the staff chat's buttons).
    """

    __slots__ = ("anyone", "kind", "on_press")

    def __init__(
        self,
        kind: type[Kind],
        on_press: Callable[[Update, BotContext, Kind], Awaitable[None]],
        *,
        anyone: bool = False,
    ) -> None:
        super().__init__(self._press)
        self.kind = kind
        self.on_press = on_press
        self.anyone = anyone

    def check_update(self, update: object) -> Kind | None:
        """Return the pressed button if the update is a press of this kind, else None."""
        if not isinstance(update, Update) or update.callback_query is None:
            return None
        return self.kind.parse(update.callback_query.data)

    async def _press(self, update: Update, context: BotContext) -> None:
        pressed = self.check_update(update)
        if pressed is None:  # never, when called by the Application
            return
        if not self.anyone:
            user = update.effective_user
            async with context.services.sessions() as session:
                known = user is not None and await existing_ids(session, {user.id})
            if not known:
                raise DomainError("errors.unknown_person")
        try:
            await self.on_press(update, context, pressed)
        except DomainError:
            raise  # explained with an alert on this press, in one place
        except Exception:
            # The error handler apologises in a message; the press itself must not spin on.
            query = update.callback_query
            if query is not None and not was_answered(context, query.id):
                with contextlib.suppress(TelegramError):
                    await query.answer()
                    note_answered(context, query.id)
            raise


def note_answered(context: BotContext, query_id: str) -> None:
    """Remember that a press was answered: Telegram takes one answer per press."""
    _answered(context).append(query_id)


def was_answered(context: BotContext, query_id: str) -> bool:
    """Tell whether a press was answered already."""
    return query_id in _answered(context)


def _answered(context: BotContext) -> deque[str]:
    # The newest few hundred are plenty: a press is answered within seconds of arriving.
    found = context.application.bot_data.get(_ANSWERED_KEY)
    if not isinstance(found, deque):
        found = context.application.bot_data[_ANSWERED_KEY] = deque(maxlen=ANSWERED_KEPT)
    return found


def inline_button(label: str, target: str) -> InlineKeyboardButton:
    """Build a button from a stored target: an https address opens it, anything else is data."""
    if is_link(target):
        return InlineKeyboardButton(label, url=target)
    return InlineKeyboardButton(label, callback_data=target)

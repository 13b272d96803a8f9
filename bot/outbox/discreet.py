"""Discreet mode on the way out: a notification's words wait behind a neutral line and Show."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.content.texts import Texts
from bot.outbox.messages import Outgoing
from bot.safety import signals as safety
from bot.safety.buttons import ShowHeld


async def keep_back(
    session: AsyncSession,
    texts: Texts,
    message: Outgoing,
    *,
    user_id: int,
    locale: str | None,
    now: datetime,
    about: int | None = None,
    copy_from: tuple[int, int] | None = None,
) -> Outgoing:
    """Hold a notification's words for this person; return the neutral line that stands in.

    `about` names whose words the message carries; `copy_from` a message whose words are
    copied on Show rather than kept here.
    """
    held_id = await safety.hold(
        session,
        user_id,
        message.text,
        message.buttons,
        now=now,
        about=about,
        copy_from=copy_from,
    )
    text = texts.render("safety.neutral_notice", locale=locale)
    show = texts.render("buttons.show_message", locale=locale)
    return replace(
        message, text=text, buttons=(((show, ShowHeld(held_id).encode()),),), attachment=None
    )

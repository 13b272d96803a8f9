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
) -> Outgoing:
    """Hold a notification's words for this person; return the neutral line that stands in."""
    held_id = await safety.hold(session, user_id, message.text, message.buttons, now=now)
    text = texts.render("safety.neutral_notice", locale=locale)
    show = texts.render("buttons.show_message", locale=locale)
    return replace(
        message, text=text, buttons=(((show, ShowHeld(held_id).encode()),),), attachment=None
    )

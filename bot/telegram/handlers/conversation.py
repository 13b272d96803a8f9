"""Route a typed message to the step its author is in (the step lives in the database)."""

from __future__ import annotations

from telegram import Update

from bot.nudges.questions import ANSWERING, CONFIRMING
from bot.people import conversation, onboarding
from bot.telegram.context import BotContext
from bot.telegram.handlers import checkins, counsellor, nudges, profile, together, vulnerability
from bot.telegram.handlers.replies import reply


async def on_text(update: Update, context: BotContext) -> None:
    """Hand a typed message to whichever step is waiting for it."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        waiting = await conversation.awaiting(session, user.id)
    if waiting is None:
        # Someone with a request open (or replying to the team's message) writes to the team.
        if not await counsellor.write_to_team(update, context):
            await reply(update, context, "help.not_understood")
        return
    answering = onboarding.step_of(waiting.state)
    if answering is not None:
        await profile.on_text(update, context, *answering)
    elif waiting.state in (ANSWERING, CONFIRMING):
        await nudges.on_answer_text(
            update,
            context,
            int(waiting.data["question_id"]),
            confirming=waiting.state == CONFIRMING,
        )
    elif waiting.state in counsellor.STATES:
        await counsellor.on_text(update, context, waiting)
    elif waiting.state in checkins.TYPED_STATES:
        await checkins.on_text(update, context, waiting.state, waiting.data)
    elif waiting.state in together.TYPED_STATES:
        await together.on_text(update, context, waiting.data)
    elif waiting.state in vulnerability.TYPED_STATES:
        await vulnerability.on_text(update, context, waiting.data)
    else:
        await reply(update, context, f"{waiting.state}.typed_instead")

"""/safety, the onboarding safety check, discreet mode (/hide) and neutral notifications."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Message, Update
from telegram.ext import Application, CommandHandler, filters

from bot.content.safety import resources_for
from bot.outbox.messages import Edit, buttons_of
from bot.people import conversation, onboarding
from bot.people import profiles as people
from bot.safety import signals as safety
from bot.safety.buttons import (
    CounsellorStartForMe,
    DiscreetOff,
    SafetyCheckAnswer,
    SafetyChoice,
    SafetyOpen,
    ShowHeld,
)
from bot.safety.signals import Recipient
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext
from bot.telegram.handlers.profile import continue_onboarding
from bot.telegram.handlers.replies import (
    Button,
    Rows,
    Undelivered,
    refuse_button,
    reply,
    send,
    settle_button,
)

log = logging.getLogger(__name__)


def crisis_values(context: BotContext, zone: str | None) -> dict[str, Any]:
    """Return the template values that show the crisis lines for someone in this time zone."""
    settings = context.services.settings
    found = resources_for(settings.content_dir, zone, context.locale, settings.default_locale)
    return {"country": found.country, "lines": found.lines, "general": found.general}


async def notify(
    context: BotContext,
    to: Recipient,
    key: str,
    *,
    rows: Rows | None = None,
    about: int | None = None,
    copy_from: tuple[int, int] | None = None,
    **values: Any,
) -> int:
    """Send a notification; in discreet mode only a neutral line, with the words behind Show.

    `about` names whose words it carries; `copy_from` a message copied after it (see Outbox).
    """
    return await send(
        context,
        to.chat_id,
        key,
        rows=rows,
        locale=to.locale,
        notify=to,
        about=about,
        copy_from=copy_from,
        **values,
    )


async def notify_if_reachable(
    context: BotContext, to: Recipient, key: str, *, rows: Rows | None = None, **values: Any
) -> bool:
    """Send a notification as `notify` does; tell whether it arrived instead of raising.

    For telling someone other than the person who acted: that they blocked the bot, say,
    must not cost the one who acted their own answer.
    """
    try:
        await notify(context, to, key, rows=rows, **values)
    except Undelivered as failed:
        log.info("a notification was not delivered (%s)", failed.outcome.value)
        return False
    return True


async def safety_command(update: Update, context: BotContext, _: SafetyOpen | None = None) -> None:
    """Handle /safety (and the Safety button): support lines, and the person's own choices."""
    if update.callback_query is not None:
        await settle_button(update, context, keep=True)
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        state = await safety.state_of(session, user.id)
    rows: list[list[Button]] = []
    if state is not None:
        if state.signalled:
            rows.append([Button("safety_feel_safe", SafetyChoice("safe"))])
        else:
            rows.append([Button("safety_signal", SafetyChoice("signal"))])
        rows.append([Button("counsellor", CounsellorStartForMe())])
    await reply(
        update,
        context,
        "safety.overview",
        rows=rows,
        known=state is not None,
        signalled=bool(state and state.signalled),
        paused=bool(state and state.exercises_paused),
        discreet=bool(state and state.discreet),
        **crisis_values(context, state.timezone if state else None),
    )


async def _signal(update: Update, context: BotContext) -> None:
    user = update.effective_user
    assert user is not None
    now = context.services.clock.now()
    async with context.services.sessions.begin() as session:
        paused = await safety.signal(session, user.id, now=now)
        zone = (await people.require(session, user.id)).timezone
    await reply(
        update,
        context,
        "safety.signal_received",
        rows=[[Button("counsellor", CounsellorStartForMe())]],
        paused=paused,
        **crisis_values(context, zone),
    )


async def safety_button(update: Update, context: BotContext, pressed: SafetyChoice) -> None:
    """Handle "I don't always feel safe" and "I feel safe now" from /safety."""
    user = update.effective_user
    assert user is not None
    if pressed.choice == "signal":
        async with context.services.sessions.begin() as session:
            await people.require(session, user.id)
        await settle_button(update, context)
        await _signal(update, context)
        return
    async with context.services.sessions.begin() as session:
        resumed = await safety.feel_safe_again(session, user.id)
    await settle_button(update, context)
    await reply(update, context, "safety.feel_safe", resumed=resumed)


async def onboarding_answer(
    update: Update, context: BotContext, pressed: SafetyCheckAnswer
) -> None:
    """Take the answer to the onboarding safety check, then finish onboarding."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        waiting = await conversation.awaiting(session, user.id)
    if waiting is None or not onboarding.asks_safety(waiting.state):
        await refuse_button(update, context, "errors.stale_button")
        return
    await settle_button(update, context)
    if pressed.answer == "yes":
        # It pauses the couple, so a slip of the thumb is caught: say what happens, then ask.
        rows = [
            [Button("safety_sure", SafetyCheckAnswer("sure"))],
            [Button("safety_undo", SafetyCheckAnswer("undo"))],
        ]
        await reply(update, context, "safety.check_confirm", rows=rows)
        return
    if pressed.answer == "undo":
        await reply(update, context, "safety.check_undone")
        await continue_onboarding(update, context, user.id)  # the question, asked again
        return
    if pressed.answer == "sure":
        await _signal(update, context)
    await continue_onboarding(update, context, user.id, safety_asked=True)


async def hide(update: Update, context: BotContext) -> None:
    """Handle /hide: delete the bot's recent messages here and make notifications neutral."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    now = context.services.clock.now()
    async with context.services.sessions.begin() as session:
        ids = await safety.take_recent_messages(session, user.id, now=now)
        await safety.set_discreet(session, user.id, on=True, now=now)
    # A bot may delete incoming messages in a private chat too: the /hide itself goes.
    ids.append(message.message_id)
    await context.services.outbox.delete(message.chat_id, ids)
    log.info("discreet mode: deleted up to %d messages", len(ids))
    await reply(update, context, "safety.hidden", rows=[[Button("discreet_off", DiscreetOff())]])


async def discreet_off(update: Update, context: BotContext, _: DiscreetOff) -> None:
    """Switch notifications back to their full wording."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        changed = await safety.set_discreet(
            session, user.id, on=False, now=context.services.clock.now()
        )
    if not changed:
        await refuse_button(update, context, "errors.stale_button")
        return
    await settle_button(update, context)
    await reply(update, context, "safety.discreet_off")


async def show(update: Update, context: BotContext, pressed: ShowHeld) -> None:
    """Turn a neutral notification into the message it stands for, in place."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    async with context.services.sessions.begin() as session:
        held = await safety.show_held(session, user.id, pressed.held_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    chat_id = query.message.chat_id
    buttons = buttons_of(held.buttons)
    # Edited, not sent again: an edit makes no notification.
    await context.services.outbox.edit(
        Edit(
            chat_id,
            query.message.message_id,
            text=held.text,
            buttons=() if held.copy_from else buttons,
        )
    )
    if held.copy_from is not None:
        # The words were never kept: they come from where they were written, if still there.
        copied = await context.services.outbox.copy(chat_id, held.copy_from, buttons=buttons)
        if not copied.sent:
            await reply(update, context, "safety.held_gone")


async def prune(context: BotContext) -> None:
    """Forget message ids Telegram no longer lets us delete, and unopened held messages."""
    async with context.services.sessions.begin() as session:
        count = await safety.prune(session, now=context.services.clock.now())
    if count:
        log.info("discreet mode: forgot %d old entries", count)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the safety handlers and the pruning job."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("safety", safety_command, filters=private))
    application.add_handler(CommandHandler("hide", hide, filters=private))
    application.add_handler(ButtonHandler(SafetyOpen, safety_command, anyone=True))
    application.add_handler(ButtonHandler(SafetyChoice, safety_button))
    application.add_handler(ButtonHandler(SafetyCheckAnswer, onboarding_answer))
    application.add_handler(ButtonHandler(DiscreetOff, discreet_off))
    application.add_handler(ButtonHandler(ShowHeld, show))
    assert application.job_queue is not None
    application.job_queue.run_repeating(prune, interval=3600, first=120, name="discreet-prune")

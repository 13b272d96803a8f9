"""Daily nudges: the tick, answering the shared question, and /pause, /resume, /skip, /days."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.ext import Application, ChatMemberHandler, CommandHandler, filters

from bot.content.locales import language_name
from bot.core.errors import DomainError
from bot.core.workers import BEAT_INTERVAL
from bot.nudges import engine as nudges
from bot.nudges import questions
from bot.nudges.buttons import AnswerQuestion, DaysDone, PauseFor, ToggleDay
from bot.nudges.questions import Reveal, Saved, Side
from bot.nudges.schedules import INDEFINITELY, weekdays_of
from bot.people import pairing
from bot.people import profiles as people
from bot.people.profiles import zone_of
from bot.safety.signals import recipient_of
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers.replies import (
    Button,
    edit_buttons,
    keyboard,
    locale_of,
    reply,
    settle_button,
)
from bot.telegram.handlers.safety import notify

log = logging.getLogger(__name__)
PAUSE_CHOICES = (1, 3, 7)


async def tick(context: BotContext) -> None:
    """Run one scheduling tick: claim what is due and deliver it."""
    report = await context.services.nudges.tick()
    if report.claimed:
        log.info(
            "nudge tick: claimed %d, sent %d, already sent %d, dropped %d, blocked %d, retried %d",
            report.claimed,
            report.sent,
            report.already_sent,
            report.dropped,
            report.blocked,
            report.retried,
        )


async def beat(context: BotContext) -> None:
    """Tell the other workers this one is alive, and take this one's share of the send rate."""
    presence = context.services.presence
    if presence is not None:
        workers = await presence.beat()
        if workers > 1:
            log.debug("%d workers share the send rate", workers)


async def purge(context: BotContext) -> None:
    """Erase the shared answers of couples that ended more than the grace period ago."""
    async with context.services.sessions.begin() as session:
        erased = await pairing.purge_ended_history(session, now=context.services.clock.now())
    if erased:
        log.info("erased %d shared questions of couples that ended", erased)


async def _tell_outcome(update: Update, context: BotContext, saved: Saved) -> None:
    if saved.reveal is not None:
        await _reveal(context, saved.reveal)
        return
    await reply(update, context, "nudges.saved_waiting")
    partner = saved.partner_to_notify
    if partner is not None:
        # The question comes with the notice: it may reach the partner before their own
        # evening question does, and an Answer button needs a question to answer.
        prompt = context.services.library.prompt("curiosity", saved.prompt_id, partner.locale)
        # Discreet mode turns notifications into a neutral line with the words behind Show.
        await notify(
            context,
            recipient_of(partner),
            "nudges.partner_answered",
            partner=saved.answerer_name,
            question=prompt.text if prompt else "",
            rows=[[Button("answer", AnswerQuestion("go", saved.question_id))]],
        )


def written_in(context: BotContext, side: Side, reader_locale: str) -> str | None:
    """Name the language an answer was written in, for a reader who reads another one."""
    if side.locale is None or side.text is None:
        return None
    texts = context.services.texts
    written, reading = texts.pick(side.locale), texts.pick(reader_locale)
    return None if written == reading else language_name(written, reading)


async def _reveal(context: BotContext, reveal: Reveal) -> None:
    library = context.services.library
    for viewer, other in ((reveal.first, reveal.second), (reveal.second, reveal.first)):
        # The same question for both, each reading it in their own language.
        prompt = library.prompt("curiosity", reveal.prompt_id, viewer.locale)
        mine, theirs = reveal.sides[viewer.id], reveal.sides[other.id]
        await notify(
            context,
            recipient_of(viewer),
            "nudges.reveal",
            question=prompt.text if prompt else "",
            mine=mine,
            theirs=theirs,
            mine_language=written_in(context, mine, viewer.locale),
            theirs_language=written_in(context, theirs, viewer.locale),
            about=other.id,
        )


async def answer_button(update: Update, context: BotContext, pressed: AnswerQuestion) -> None:
    """Handle Answer, Skip, Share and Keep private on the shared question."""
    user = update.effective_user
    assert user is not None
    action, question_id = pressed.action, pressed.question_id
    now = context.services.clock.now()
    if action in ("new", "old"):
        await _choose_draft(update, context, question_id, replace=action == "new")
        return
    async with context.services.sessions.begin() as session:
        if action == "go":
            await questions.begin_answer(session, user.id, question_id, now=now)
            saved = None
        elif action == "skip":
            saved = await questions.save_answer(session, user.id, question_id, None, now=now)
        else:
            draft = await questions.take_draft(session, user.id, question_id)
            saved = await questions.save_answer(
                session, user.id, question_id, draft, private=action == "priv", now=now
            )
    await settle_button(update, context)
    if saved is None:
        await reply(update, context, "nudges.ask_answer", limit=questions.ANSWER_MAX_LENGTH)
        return
    if action == "skip":
        await reply(update, context, "nudges.skipped_question")
    await _tell_outcome(update, context, saved)


async def on_answer_text(
    update: Update, context: BotContext, question_id: int, *, confirming: bool = False
) -> None:
    """Take a typed answer: keep it aside and ask whether to share it or keep it private.

    With an answer already waiting for that choice, the new text replaces nothing until the
    person says which of the two to keep.
    """
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    now = context.services.clock.now()
    if confirming:
        async with context.services.sessions.begin() as session:
            first, new = await questions.hold_replacement(
                session, user.id, question_id, message.text, now=now
            )
        if new == first:  # the same words again: nothing to choose between
            await _confirm(update, context, question_id, first)
            return
        rows = [
            [Button("use_new_answer", AnswerQuestion("new", question_id))],
            [Button("keep_first_answer", AnswerQuestion("old", question_id))],
        ]
        await reply(update, context, "nudges.replace_answer", rows=rows, first=first, new=new)
        return
    async with context.services.sessions.begin() as session:
        draft = await questions.hold_draft(session, user.id, question_id, message.text, now=now)
    await _confirm(update, context, question_id, draft)


async def _confirm(update: Update, context: BotContext, question_id: int, draft: str) -> None:
    rows = [
        [Button("share_answer", AnswerQuestion("share", question_id))],
        [Button("keep_private", AnswerQuestion("priv", question_id))],
    ]
    await reply(update, context, "nudges.confirm_answer", rows=rows, draft=draft)


async def _choose_draft(
    update: Update, context: BotContext, question_id: int, *, replace: bool
) -> None:
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        draft = await questions.choose_draft(
            session, user.id, question_id, replace=replace, now=context.services.clock.now()
        )
    await settle_button(update, context)
    await _confirm(update, context, question_id, draft)


async def pause_command(update: Update, context: BotContext) -> None:
    """Handle /pause [days]: pause right away when a number is given, else offer choices."""
    if context.args:
        raw = context.args[0]
        days = int(raw) if raw.isdigit() and len(raw) < 5 else -1
        await _pause(update, context, days)
        return
    rows = [[Button("pause_days", PauseFor(d), values={"days": d}) for d in PAUSE_CHOICES]]
    rows.append([Button("pause_until_resumed", PauseFor(0))])
    await reply(update, context, "nudges.pause_choose", rows=rows)


async def pause_button(update: Update, context: BotContext, pressed: PauseFor) -> None:
    """Handle a pause choice."""
    await settle_button(update, context)
    await _pause(update, context, pressed.days)


async def _pause(update: Update, context: BotContext, days: int) -> None:
    user = update.effective_user
    assert user is not None
    try:
        async with context.services.sessions.begin() as session:
            stored = await people.pause(
                session,
                user.id,
                days=days or None,
                now=context.services.clock.now(),
                rhythm=context.services.rhythm,
            )
    except DomainError as problem:
        # A pause button was answered already; a press can't get an alert after that.
        await reply(update, context, problem.key, **problem.values)
        return
    until = None
    if stored.paused_until is not None and stored.paused_until != INDEFINITELY:
        until = stored.paused_until.astimezone(
            zone_of(stored, default=context.services.settings.default_timezone)
        )
    await reply(update, context, "nudges.paused", days=days, until=until)


async def resume_command(update: Update, context: BotContext) -> None:
    """Handle /resume."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        was_paused = await people.resume(
            session, user.id, now=context.services.clock.now(), rhythm=context.services.rhythm
        )
    await reply(update, context, "nudges.resumed", was_paused=was_paused)


async def skip_command(update: Update, context: BotContext) -> None:
    """Handle /skip: no more nudges today."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        await people.skip_today(
            session,
            user.id,
            now=context.services.clock.now(),
            rhythm=context.services.rhythm,
            default_zone=context.services.settings.default_timezone,
        )
    await reply(update, context, "nudges.skipped_today")


def _day_rows(mask: int) -> list[list[Button]]:
    days = weekdays_of(mask)
    row = [Button("day", ToggleDay(d), values={"day": d, "on": d in days}) for d in range(7)]
    return [row[:4], row[4:], [Button("days_done", DaysDone())]]


async def days_command(update: Update, context: BotContext) -> None:
    """Handle /days: choose the weekdays nudges arrive on."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        stored = await people.require(session, user.id)
    await reply(update, context, "nudges.days_choose", rows=_day_rows(stored.nudge_days))


async def days_done(update: Update, context: BotContext, _: DaysDone) -> None:
    """Finish choosing weekdays."""
    await settle_button(update, context)
    await reply(update, context, "nudges.days_saved")


async def days_button(update: Update, context: BotContext, pressed: ToggleDay) -> None:
    """Toggle one weekday."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    async with context.services.sessions.begin() as session:
        stored = await people.toggle_day(
            session,
            user.id,
            pressed.weekday,
            now=context.services.clock.now(),
            rhythm=context.services.rhythm,
        )
    await query.answer()
    await edit_buttons(
        context,
        query.message,
        keyboard(context, _day_rows(stored.nudge_days), locale=locale_of(context)),
    )


async def membership(update: Update, context: BotContext) -> None:
    """Stop scheduling a person who blocks the bot; resume when they unblock it."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    status = change.new_chat_member.status
    if status not in (ChatMember.BANNED, ChatMember.LEFT, ChatMember.MEMBER):
        return
    async with context.services.sessions.begin() as session:
        await nudges.set_reachable(
            session,
            change.from_user.id,
            reachable=status == ChatMember.MEMBER,
            now=context.services.clock.now(),
            rhythm=context.services.rhythm,
        )


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the nudge handlers and the tick."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("pause", pause_command, filters=private))
    application.add_handler(CommandHandler("resume", resume_command, filters=private))
    application.add_handler(CommandHandler("skip", skip_command, filters=private))
    application.add_handler(CommandHandler("days", days_command, filters=private))
    application.add_handler(ButtonHandler(AnswerQuestion, answer_button))
    application.add_handler(ButtonHandler(PauseFor, pause_button))
    application.add_handler(ButtonHandler(ToggleDay, days_button))
    application.add_handler(ButtonHandler(DaysDone, days_done))
    application.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
    settings = services_of(application).settings
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        tick, interval=settings.nudge_tick_seconds, first=1.0, name="nudge-tick"
    )
    application.job_queue.run_repeating(purge, interval=3600, first=60, name="history-purge")
    if services_of(application).presence is not None:
        application.job_queue.run_repeating(
            beat, interval=BEAT_INTERVAL.total_seconds(), first=0.1, name="worker-presence"
        )

"""Something meaningful together: /together, private marks, a day, and how it went."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, filters

from bot.content.together import TogetherContent
from bot.core.errors import DomainError, StaleAction
from bot.db.models import User
from bot.db.together import PlanStatus
from bot.people import conversation
from bot.people.pairing import HISTORY_GRACE
from bot.people.profiles import name_of
from bot.safety.signals import recipient_of
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers.replies import (
    Button,
    Rows,
    Undelivered,
    edit_buttons,
    locale_of,
    reply,
    send,
    settle_button,
)
from bot.together import plans
from bot.together.buttons import (
    ChangeDay,
    HowItWent,
    MarkIdea,
    MarksDone,
    NoWords,
    PickDay,
    PickIdea,
    day_number,
    day_of,
)
from bot.together.engine import round_buttons
from bot.together.plans import View

log = logging.getLogger(__name__)

TYPED_STATES = (plans.WORDS,)
# Problems with typed words keep the step; anything else ends it.
_RETYPE = ("together.words_empty", "together.words_too_long")


def _content(context: BotContext, locale: str | None) -> TogetherContent:
    return context.services.together.deck.get(locale)


def _zone(context: BotContext) -> str:
    return context.services.settings.default_timezone


async def _tell(
    context: BotContext, person: User, key: str, *, rows: Rows | None = None, **values: Any
) -> None:
    """Notify a partner (neutral in discreet mode); their trouble must not break this flow."""
    try:
        await send(
            context,
            person.chat_id,
            key,
            rows=rows,
            locale=person.locale,
            notify=recipient_of(person),
            **values,
        )
    except (Undelivered, TelegramError) as error:
        log.info("could not reach a partner: %s", type(error).__name__)


def _mark_rows(view: View) -> Rows:
    marks = [
        Button(
            "together_mark",
            MarkIdea(view.plan_id, i),
            values={"number": i + 1, "chosen": i in view.liked},
        )
        for i in range(len(view.ideas))
    ]
    return [marks, [Button("together_done", MarksDone(view.plan_id))]]


def _day_rows(view: View) -> Rows:
    days = [
        Button(
            "together_day",
            PickDay(view.plan_id, day_number(day)),
            values={"day": day, "today": view.today},
        )
        for day in plans.day_choices(view.today)[:8]
    ]
    return [days[:4], days[4:]]


def _matched_rows(view: View) -> Rows:
    if view.idea is not None:
        return _day_rows(view)
    return [
        [
            Button("together_pick", PickIdea(view.plan_id, i), values={"number": i + 1})
            for i in range(len(view.matched))
        ]
    ]


async def _show(update: Update, context: BotContext, view: View, *, created: bool) -> None:
    """Show this person the round as it stands for them."""
    if view.status == PlanStatus.MARKING:
        if view.marked:
            await reply(update, context, "together.status_waiting", view=view)
        else:
            await reply(
                update, context, "together.round", rows=_mark_rows(view), view=view, created=created
            )
    elif view.status == PlanStatus.MATCHED:
        await reply(update, context, "together.matched", rows=_matched_rows(view), view=view)
    else:
        rows = [[Button("together_change_day", ChangeDay(view.plan_id))]]
        await reply(update, context, "together.status_planned", rows=rows, view=view)


async def together_command(update: Update, context: BotContext) -> None:
    """Handle /together: the couple's current plan, or three fresh ideas."""
    user = update.effective_user
    assert user is not None
    now = context.services.clock.now()
    async with context.services.sessions.begin() as session:
        started = await plans.start(
            session,
            user.id,
            now=now,
            content=_content(context, locale_of(context)),
            policy=context.services.policy,
            default_zone=_zone(context),
        )
        partner_view = None
        if started.created:
            partner_view = await plans.view_of(
                session,
                await plans.current_plan(session, started.view.plan_id),
                started.partner,
                started.me,
                content=_content(context, started.partner.locale),
                now=now,
                default_zone=_zone(context),
            )
    await _show(update, context, started.view, created=started.created)
    if partner_view is not None:
        await _tell(
            context,
            started.partner,
            "together.partner_round",
            rows=_mark_rows(partner_view),
            view=partner_view,
            partner=name_of(started.me),
        )


async def mark_button(update: Update, context: BotContext, pressed: MarkIdea) -> None:
    """Mark or unmark one idea, privately; only the buttons change."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    async with context.services.sessions.begin() as session:
        view = await plans.toggle(
            session,
            user.id,
            pressed.plan_id,
            pressed.index,
            now=context.services.clock.now(),
            content=_content(context, locale_of(context)),
            policy=context.services.policy,
            default_zone=_zone(context),
        )
    await query.answer()
    texts = context.services.texts
    await edit_buttons(context, query.message, round_buttons(texts, view, locale_of(context)))


async def done_button(update: Update, context: BotContext, pressed: MarksDone) -> None:
    """Seal one's marks; once both have, show both only what they have in common."""
    user = update.effective_user
    assert user is not None
    now = context.services.clock.now()
    async with context.services.sessions.begin() as session:
        marked = await plans.finish_marking(
            session,
            user.id,
            pressed.plan_id,
            now=now,
            content=_content(context, locale_of(context)),
            policy=context.services.policy,
            default_zone=_zone(context),
        )
        partner_view = await _partner_view(context, session, marked.view.plan_id, marked)
        fresh_partner = None
        if marked.next_round is not None:
            fresh_partner = await _partner_view(
                context, session, marked.next_round.view.plan_id, marked
            )
    await settle_button(update, context)
    if not marked.both:
        await reply(update, context, "together.marked_waiting", partner=name_of(marked.partner))
        if marked.tell_partner:
            await _tell(
                context, marked.partner, "together.partner_marked", partner=name_of(marked.me)
            )
        return
    if marked.next_round is not None and fresh_partner is not None:
        mine = marked.next_round.view
        await reply(update, context, "together.no_match", rows=_mark_rows(mine), view=mine)
        await _tell(
            context,
            marked.partner,
            "together.no_match",
            rows=_mark_rows(fresh_partner),
            view=fresh_partner,
        )
        return
    await reply(
        update, context, "together.matched", rows=_matched_rows(marked.view), view=marked.view
    )
    await _tell(
        context,
        marked.partner,
        "together.matched",
        rows=_matched_rows(partner_view),
        view=partner_view,
    )


async def _partner_view(
    context: BotContext, session: AsyncSession, plan_id: int, marked: plans.Marked
) -> View:
    return await plans.view_of(
        session,
        await plans.current_plan(session, plan_id),
        marked.partner,
        marked.me,
        content=_content(context, marked.partner.locale),
        now=context.services.clock.now(),
        default_zone=_zone(context),
    )


async def pick_button(update: Update, context: BotContext, pressed: PickIdea) -> None:
    """Choose which of the shared ideas to do; then a day."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        view = await plans.choose_idea(
            session,
            user.id,
            pressed.plan_id,
            pressed.index,
            now=context.services.clock.now(),
            content=_content(context, locale_of(context)),
            default_zone=_zone(context),
        )
    await settle_button(update, context)
    await reply(update, context, "together.choose_day", rows=_day_rows(view), idea=view.idea)


async def change_day_button(update: Update, context: BotContext, pressed: ChangeDay) -> None:
    """Offer the days again for a plan already made."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions() as session:
        view = await plans.view_for(
            session,
            user.id,
            pressed.plan_id,
            now=context.services.clock.now(),
            content=_content(context, locale_of(context)),
            default_zone=_zone(context),
        )
    if view.status != PlanStatus.PLANNED:
        raise StaleAction()
    await settle_button(update, context)
    await reply(update, context, "together.choose_day", rows=_day_rows(view), idea=view.idea)


async def day_button(update: Update, context: BotContext, pressed: PickDay) -> None:
    """Fix the day; each partner is reminded on it at their own local time."""
    user = update.effective_user
    assert user is not None
    day = day_of(pressed.day)
    if day is None:
        raise StaleAction()
    services = context.services
    async with services.sessions.begin() as session:
        planned = await plans.choose_day(
            session,
            user.id,
            pressed.plan_id,
            day,
            now=services.clock.now(),
            content=_content(context, locale_of(context)),
            policy=services.policy,
            default_zone=_zone(context),
            reminder_at=services.together.config.cadence.reminder_at,
        )
    await settle_button(update, context)
    values: dict[str, Any] = {
        "day": planned.day,
        "idea": planned.idea,
        "changed": planned.changed,
    }
    await reply(update, context, "together.planned", partner=name_of(planned.partner), **values)
    await _tell(
        context, planned.partner, "together.partner_planned", partner=name_of(planned.me), **values
    )


async def score_button(update: Update, context: BotContext, pressed: HowItWent) -> None:
    """Keep how it went (or that it didn't happen); then offer room for a few words."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        await plans.rate(
            session,
            user.id,
            pressed.plan_id,
            pressed.score or None,
            now=context.services.clock.now(),
            default_zone=_zone(context),
        )
        _, partner = await plans.couple_of(session, user.id)
    await settle_button(update, context)
    await reply(
        update,
        context,
        "together.words_ask",
        rows=[[Button("together_no_words", NoWords(pressed.plan_id))]],
        partner=name_of(partner),
        limit=plans.WORDS_MAX_LENGTH,
    )


async def _seal(
    update: Update, context: BotContext, plan_id: int, typed: str | None
) -> plans.Answered:
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        return await plans.finish_answer(
            session,
            user.id,
            plan_id,
            typed,
            now=context.services.clock.now(),
            default_zone=_zone(context),
        )


async def no_words_button(update: Update, context: BotContext, pressed: NoWords) -> None:
    """Seal the answer without words."""
    answered = await _seal(update, context, pressed.plan_id, None)
    await settle_button(update, context)
    await _after_answer(update, context, pressed.plan_id, answered)


async def on_text(update: Update, context: BotContext, data: dict[str, Any]) -> None:
    """Take the few words that go with how it went."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    plan_id = int(data["plan_id"])
    try:
        answered = await _seal(update, context, plan_id, message.text)
    except DomainError as problem:
        if problem.key not in _RETYPE:
            # The plan moved on meanwhile (unpaired, say): stop waiting for typed words.
            async with context.services.sessions.begin() as session:
                await conversation.forget(session, user.id)
        await reply(update, context, problem.key, **problem.values)
        return
    await _after_answer(update, context, plan_id, answered)


async def _after_answer(
    update: Update, context: BotContext, plan_id: int, answered: plans.Answered
) -> None:
    """Say the answer is kept, or show both sides to both once both have answered."""
    if not answered.revealed:
        await reply(update, context, "together.answered_waiting", partner=name_of(answered.partner))
        return
    for viewer in (answered.me, answered.partner):
        async with context.services.sessions() as session:
            reveal = await plans.reveal_for(
                session, plan_id, viewer.id, content=_content(context, viewer.locale)
            )
        if viewer is answered.me:
            await reply(update, context, "together.reveal", reveal=reveal)
        else:
            await _tell(context, viewer, "together.reveal", reveal=reveal)


async def history_part(update: Update, context: BotContext) -> bool:
    """Add past plans together to /history; return whether there were any."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions() as session:
        past = await plans.history(
            session,
            user.id,
            now=context.services.clock.now(),
            content=_content(context, locale_of(context)),
            default_zone=_zone(context),
        )
        partner = await plans.partner_name(session, user.id)
    if not past:
        return False
    await reply(update, context, "together.history", plans=past, partner=partner)
    return True


async def tick(context: BotContext) -> None:
    """Run one together tick: weekly ideas, reminders on the day, and the day-after question."""
    report = await context.services.together.tick()
    if report.claimed:
        log.info(
            "together tick: claimed %d, sent %d, already sent %d, dropped %d, blocked %d, "
            "retried %d",
            report.claimed,
            report.sent,
            report.already_sent,
            report.dropped,
            report.blocked,
            report.retried,
        )


async def purge(context: BotContext) -> None:
    """Erase the plans of couples that ended long ago."""
    async with context.services.sessions.begin() as session:
        erased = await plans.purge_ended(
            session, now=context.services.clock.now(), grace=HISTORY_GRACE
        )
    if erased:
        log.info("erased %d plans together of couples that ended", erased)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the together handlers and ticks."""
    settings = services_of(application).settings
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("together", together_command, filters=private))
    application.add_handler(ButtonHandler(MarkIdea, mark_button))
    application.add_handler(ButtonHandler(MarksDone, done_button))
    application.add_handler(ButtonHandler(PickIdea, pick_button))
    application.add_handler(ButtonHandler(PickDay, day_button))
    application.add_handler(ButtonHandler(ChangeDay, change_day_button))
    application.add_handler(ButtonHandler(HowItWent, score_button))
    application.add_handler(ButtonHandler(NoWords, no_words_button))
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        tick, interval=settings.nudge_tick_seconds, first=1.7, name="together-tick"
    )
    application.job_queue.run_repeating(purge, interval=3600, first=95, name="together-purge")

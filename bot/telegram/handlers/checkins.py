"""Check-ins together: /checkin, answering privately, /history, /appreciate and /topics."""

from __future__ import annotations

import asyncio
import logging
from datetime import time
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, filters

from bot.checkins import appreciations, topics
from bot.checkins import weekly as checkins
from bot.checkins.buttons import (
    ChangePlan,
    CheckinStep,
    GiveScore,
    OpenCheckin,
    PastCheckin,
    PlanDay,
    PlanTime,
    SubmitCheckin,
    ToggleTopic,
    TopicsDone,
)
from bot.checkins.chart import render_chart, spec_of
from bot.content.checkins import CheckinContent
from bot.core.errors import DomainError
from bot.db.models import User
from bot.nudges.timing import local_date_of
from bot.outbox.messages import Attachment
from bot.people import conversation
from bot.people import profiles as people
from bot.people.pairing import HISTORY_GRACE
from bot.people.profiles import name_of, zone_of
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers import together
from bot.telegram.handlers.replies import (
    Button,
    Rows,
    edit_buttons,
    keyboard,
    locale_of,
    reply,
    send,
    settle_button,
)

log = logging.getLogger(__name__)

TYPED_STATES = (checkins.REFLECTING, appreciations.APPRECIATING)
PLAN_TIMES = ("09:00", "12:00", "18:00", "19:00", "20:30", "21:30")
HISTORY_WEEKS_LISTED = 6
# Validation problems with a typed answer keep the step; anything else ends it.
_RETYPE = (
    "checkins.reflection_empty",
    "checkins.reflection_too_long",
    "checkins.appreciation_empty",
    "checkins.appreciation_too_long",
)


def _content(update: Update, context: BotContext) -> CheckinContent:
    return context.services.checkins.deck.get(locale_of(context))


def _step_rows(step: checkins.Step) -> Rows:
    cid = step.checkin_id
    if step.index is None:
        edits = [
            Button("checkin_edit", CheckinStep("e", cid, i), values={"number": i + 1})
            for i in range(step.total)
        ]
        return [edits, [Button("checkin_submit", SubmitCheckin(cid))]]
    assert step.question is not None
    i = step.index
    rows: list[list[Button]] = []
    if step.question.is_scale:
        rows.append(
            [
                Button(
                    "checkin_score",
                    GiveScore(cid, i, score),
                    values={"score": score, "chosen": step.given.score == score},
                )
                for score in checkins.SCORES
            ]
        )
    nav = [Button("checkin_back", CheckinStep("b", cid, i))] if i > 0 else []
    nav.append(Button("checkin_skip", CheckinStep("k", cid, i)))
    if step.given.answered:
        nav.append(Button("checkin_next", CheckinStep("n", cid, i)))
    rows.append(nav)
    return rows


async def _show_step(
    update: Update, context: BotContext, step: checkins.Step, partner_name: str
) -> None:
    if step.index is None:
        await reply(
            update,
            context,
            "checkins.review",
            rows=_step_rows(step),
            answers=step.answers,
            partner=partner_name,
        )
        return
    await reply(
        update,
        context,
        "checkins.question",
        rows=_step_rows(step),
        index=step.index,
        total=step.total,
        question=step.question,
        given=step.given,
        limit=checkins.REFLECTION_MAX_LENGTH,
    )


async def _tell(
    context: BotContext, person: User, key: str, *, rows: Rows | None = None, **values: Any
) -> None:
    """Send a partner a message; a partner who blocked the bot must not break this one's flow."""
    try:
        await send(context, person.chat_id, key, rows=rows, locale=person.locale, **values)
    except TelegramError as error:
        log.info("could not reach a partner: %s", type(error).__name__)


async def checkin_command(update: Update, context: BotContext) -> None:
    """Handle /checkin: start the couple's check-in on demand, or carry on with the open one."""
    user = update.effective_user
    assert user is not None
    engine = context.services.checkins
    async with context.services.sessions.begin() as session:
        started = await checkins.start(
            session,
            user.id,
            now=context.services.clock.now(),
            content=_content(update, context),
            question_ids=[q.id for q in engine.deck.get().questions],
            windows=engine.config.windows,
            policy=context.services.policy,
        )
        plan = await checkins.current_plan(session, user.id, default=engine.config.default_plan)
    step = started.step
    await reply(
        update,
        context,
        "checkins.intro",
        rows=[[Button("checkin_plan", ChangePlan())]],
        created=started.partner_to_tell is not None,
        partner=started.partner_name,
        count=step.total,
        closes_at=step.closes_at,
        plan=plan,
    )
    await _show_step(update, context, step, started.partner_name)
    partner = started.partner_to_tell
    if partner is not None:
        await _tell(
            context,
            partner,
            "checkins.partner_started",
            rows=[[Button("checkin_go", OpenCheckin(step.checkin_id), values={"started": False})]],
            partner=started.my_name,
            closes_at=step.closes_at.astimezone(
                zone_of(partner, default=context.services.settings.default_timezone)
            ),
        )


CheckinPress = (
    OpenCheckin
    | GiveScore
    | CheckinStep
    | SubmitCheckin
    | PastCheckin
    | ChangePlan
    | PlanDay
    | PlanTime
)


async def checkin_button(update: Update, context: BotContext, pressed: CheckinPress) -> None:
    """Handle every check-in button: begin, score, skip, back, next, edit, send, plan, past."""
    if isinstance(pressed, ChangePlan | PlanDay | PlanTime):
        await _plan_button(update, context, pressed)
    elif isinstance(pressed, PastCheckin):
        await _past_button(update, context, pressed)
    elif isinstance(pressed, SubmitCheckin):
        await _submit_button(update, context, pressed)
    else:
        await _step_button(update, context, pressed)


async def _step_button(
    update: Update, context: BotContext, pressed: OpenCheckin | GiveScore | CheckinStep
) -> None:
    user = update.effective_user
    assert user is not None
    now, content = context.services.clock.now(), _content(update, context)
    zone = context.services.settings.default_timezone
    cid = pressed.checkin_id
    async with context.services.sessions.begin() as session:
        if isinstance(pressed, OpenCheckin):
            step = await checkins.show(
                session, user.id, cid, now=now, content=content, default_zone=zone
            )
        elif isinstance(pressed, GiveScore):
            step = await checkins.answer(
                session,
                user.id,
                cid,
                pressed.index,
                score=pressed.score,
                now=now,
                content=content,
                default_zone=zone,
            )
        elif pressed.action == "k":
            step = await checkins.answer(
                session, user.id, cid, pressed.index, now=now, content=content, default_zone=zone
            )
        else:
            target = pressed.index + {"b": -1, "n": 1, "e": 0}[pressed.action]
            step = await checkins.move(
                session, user.id, cid, target, now=now, content=content, default_zone=zone
            )
        _, partner = await checkins.couple_of(session, user.id)
    await settle_button(update, context)
    await _show_step(update, context, step, name_of(partner))


async def _submit_button(update: Update, context: BotContext, pressed: SubmitCheckin) -> None:
    user = update.effective_user
    assert user is not None
    content = _content(update, context)
    async with context.services.sessions.begin() as session:
        done = await checkins.submit(
            session, user.id, pressed.checkin_id, now=context.services.clock.now(), content=content
        )
    await settle_button(update, context)
    if done.revealed:
        await _reveal(context, done.checkin_id, (done.partner, done.user))
        return
    await reply(update, context, "checkins.submitted_waiting", partner=name_of(done.partner))
    if done.tell_partner:
        go = Button(
            "checkin_go", OpenCheckin(done.checkin_id), values={"started": done.partner_started}
        )
        await _tell(
            context,
            done.partner,
            "checkins.partner_submitted",
            rows=[[go]],
            partner=name_of(done.user),
        )


def _video_url(context: BotContext, summary: checkins.Summary) -> str | None:
    suggestion = summary.suggestion
    if suggestion is None or suggestion.video is None:
        return None
    return f"{context.services.settings.video_base_url.rstrip('/')}/{suggestion.video.path}"


async def _reveal(context: BotContext, checkin_id: int, viewers: tuple[User, ...]) -> None:
    """Send each partner the side-by-side summary, in their own language."""
    engine = context.services.checkins
    for viewer in viewers:
        async with context.services.sessions() as session:
            summary = await checkins.summary_for(
                session,
                checkin_id,
                viewer.id,
                content=engine.deck.get(viewer.locale),
                videos=engine.deck.videos(viewer.locale),
            )
        await _tell(
            context,
            viewer,
            "checkins.summary",
            summary=summary,
            video_url=_video_url(context, summary),
        )


async def _past_button(update: Update, context: BotContext, pressed: PastCheckin) -> None:
    user = update.effective_user
    assert user is not None
    engine = context.services.checkins
    async with context.services.sessions() as session:
        summary = await checkins.summary_for(
            session,
            pressed.checkin_id,
            user.id,
            content=_content(update, context),
            videos=engine.deck.videos(locale_of(context)),
        )
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(
        update, context, "checkins.summary", summary=summary, video_url=_video_url(context, summary)
    )


async def _plan_button(
    update: Update, context: BotContext, pressed: ChangePlan | PlanDay | PlanTime
) -> None:
    user = update.effective_user
    assert user is not None
    engine = context.services.checkins
    if isinstance(pressed, ChangePlan):
        async with context.services.sessions() as session:
            plan = await checkins.current_plan(session, user.id, default=engine.config.default_plan)
        days = [Button("checkin_day", PlanDay(d), values={"day": d}) for d in range(7)]
        await settle_button(update, context)
        await reply(
            update, context, "checkins.plan_choose_day", rows=[days[:4], days[4:]], plan=plan
        )
        return
    if isinstance(pressed, PlanDay):
        weekday = pressed.weekday
        times = [
            Button("time", PlanTime(weekday, time.fromisoformat(at)), values={"time": at})
            for at in PLAN_TIMES
        ]
        await settle_button(update, context)
        await reply(
            update,
            context,
            "checkins.plan_choose_time",
            rows=[times[:3], times[3:]],
            weekday=weekday,
        )
        return
    async with context.services.sessions.begin() as session:
        plan, partner = await checkins.change_plan(
            session,
            user.id,
            pressed.weekday,
            pressed.at,
            now=context.services.clock.now(),
        )
        me = await session.get(User, user.id)
    await settle_button(update, context)
    await reply(update, context, "checkins.plan_saved", plan=plan, partner=name_of(partner))
    if me is not None:
        await _tell(context, partner, "checkins.plan_changed", plan=plan, partner=name_of(me))


async def on_text(update: Update, context: BotContext, state: str, data: dict[str, Any]) -> None:
    """Take a typed reflection or appreciation for the step this person is in."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    if state == appreciations.APPRECIATING:
        await _write_appreciation(update, context, message.text)
        return
    try:
        async with context.services.sessions.begin() as session:
            step = await checkins.answer(
                session,
                user.id,
                int(data["checkin_id"]),
                int(data["index"]),
                typed=message.text,
                now=context.services.clock.now(),
                content=_content(update, context),
                default_zone=context.services.settings.default_timezone,
            )
            _, partner = await checkins.couple_of(session, user.id)
    except DomainError as problem:
        await _typed_problem(update, context, problem)
        return
    await _show_step(update, context, step, name_of(partner))


async def _typed_problem(update: Update, context: BotContext, problem: DomainError) -> None:
    user = update.effective_user
    assert user is not None
    if problem.key not in _RETYPE:
        # The check-in closed or the couple ended meanwhile: stop waiting for typed text.
        async with context.services.sessions.begin() as session:
            await conversation.forget(session, user.id)
    await reply(update, context, problem.key, **problem.values)


async def history_command(update: Update, context: BotContext) -> None:
    """Handle /history: past check-ins together, then the chart of both partners' scores."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    now = context.services.clock.now()
    async with context.services.sessions() as session:
        me = await people.require(session, user.id)
        today = local_date_of(now, zone_of(me, default=context.services.settings.default_timezone))
        past = await checkins.history(
            session, user.id, content=_content(update, context), today=today
        )
    if not past.past:
        # Plans together have a history of their own: show it even before any check-in.
        if not await together.history_part(update, context):
            await reply(update, context, "checkins.history_empty")
        return
    rows = [
        [Button("checkin_past", PastCheckin(p.checkin_id), values={"week_of": p.week_of})]
        for p in past.past[:HISTORY_WEEKS_LISTED]
    ]
    await reply(update, context, "checkins.history", rows=rows, history=past)
    spec = spec_of(past, context.services.texts, locale_of(context))
    # Drawing takes a good part of a second: keep the event loop free for everyone else.
    picture = await asyncio.to_thread(render_chart, spec)
    await reply(
        update,
        context,
        "checkins.chart_caption",
        attachment=Attachment(picture),
        partner=past.partner_name,
    )
    await together.history_part(update, context)


async def appreciate_command(update: Update, context: BotContext) -> None:
    """Handle /appreciate [words]: seal a thank-you now, or ask for it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    parts = message.text.split(maxsplit=1)
    if len(parts) == 2:
        await _write_appreciation(update, context, parts[1])
        return
    async with context.services.sessions.begin() as session:
        partner = await appreciations.begin(session, user.id, now=context.services.clock.now())
    await reply(
        update,
        context,
        "checkins.appreciate_ask",
        partner=partner,
        limit=appreciations.APPRECIATION_MAX_LENGTH,
    )


async def _write_appreciation(update: Update, context: BotContext, typed: str) -> None:
    user = update.effective_user
    assert user is not None
    config = context.services.checkins.config
    try:
        async with context.services.sessions.begin() as session:
            written = await appreciations.write(
                session,
                user.id,
                typed,
                now=context.services.clock.now(),
                default_morning=config.default_morning,
                default_zone=config.default_zone,
            )
    except DomainError as problem:
        await _typed_problem(update, context, problem)
        return
    await reply(
        update,
        context,
        "checkins.appreciation_sealed",
        partner=written.recipient_name,
        arrives_at=written.arrives_at,
    )


def _topic_rows(content: CheckinContent, seen: topics.Topics) -> Rows:
    rows: list[list[Button]] = [
        [
            Button(
                "topic",
                ToggleTopic(topic.id),
                values={
                    "text": topic.text,
                    "flagged": topic.id in seen.mine,
                    "shared": topic.id in seen.shared,
                },
            )
        ]
        for topic in content.topics
    ]
    rows.append([Button("topics_done", TopicsDone())])
    return rows


async def topics_command(update: Update, context: BotContext) -> None:
    """Handle /topics: privately flag things to talk about."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions() as session:
        seen = await topics.view(session, user.id)
        _, partner = await checkins.couple_of(session, user.id)
    await reply(
        update,
        context,
        "checkins.topics",
        rows=_topic_rows(_content(update, context), seen),
        partner=name_of(partner),
    )


async def topics_done(update: Update, context: BotContext, _: TopicsDone) -> None:
    """Finish flagging topics."""
    await settle_button(update, context)


async def topic_button(update: Update, context: BotContext, pressed: ToggleTopic) -> None:
    """Flag or unflag one topic; when both flagged it, tell both."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    content = _content(update, context)
    async with context.services.sessions.begin() as session:
        toggled = await topics.toggle(
            session,
            user.id,
            pressed.topic_id,
            known=[topic.id for topic in content.topics],
            now=context.services.clock.now(),
        )
        me = await session.get(User, user.id)
    await query.answer()
    await edit_buttons(
        context,
        query.message,
        keyboard(context, _topic_rows(content, toggled.topics), locale=locale_of(context)),
    )
    if toggled.matched is None or me is None:
        return
    for viewer, other in ((me, toggled.partner), (toggled.partner, me)):
        topic = context.services.checkins.deck.get(viewer.locale).topic(toggled.matched)
        if topic is not None:
            await _tell(
                context,
                viewer,
                "checkins.topics_match",
                partner=name_of(other),
                topic=topic.text,
            )


async def tick(context: BotContext) -> None:
    """Run one check-in tick: open, remind, close and carry what is due."""
    report = await context.services.checkins.tick()
    if report.claimed:
        log.info(
            "check-in tick: claimed %d, sent %d, already sent %d, dropped %d, blocked %d, "
            "retried %d",
            report.claimed,
            report.sent,
            report.already_sent,
            report.dropped,
            report.blocked,
            report.retried,
        )


async def purge(context: BotContext) -> None:
    """Erase the check-ins, appreciations and topics of couples that ended long ago."""
    async with context.services.sessions.begin() as session:
        erased = await checkins.purge_ended(
            session, now=context.services.clock.now(), grace=HISTORY_GRACE
        )
    if erased:
        log.info("erased %d check-in records of couples that ended", erased)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the check-in handlers and ticks."""
    settings = services_of(application).settings
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("checkin", checkin_command, filters=private))
    application.add_handler(CommandHandler("history", history_command, filters=private))
    application.add_handler(CommandHandler("appreciate", appreciate_command, filters=private))
    application.add_handler(CommandHandler("topics", topics_command, filters=private))
    application.add_handler(ButtonHandler(OpenCheckin, checkin_button))
    application.add_handler(ButtonHandler(GiveScore, checkin_button))
    application.add_handler(ButtonHandler(CheckinStep, checkin_button))
    application.add_handler(ButtonHandler(SubmitCheckin, checkin_button))
    application.add_handler(ButtonHandler(PastCheckin, checkin_button))
    application.add_handler(ButtonHandler(ChangePlan, checkin_button))
    application.add_handler(ButtonHandler(PlanDay, checkin_button))
    application.add_handler(ButtonHandler(PlanTime, checkin_button))
    application.add_handler(ButtonHandler(ToggleTopic, topic_button))
    application.add_handler(ButtonHandler(TopicsDone, topics_done))
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        tick, interval=settings.nudge_tick_seconds, first=1.5, name="checkin-tick"
    )
    application.job_queue.run_repeating(purge, interval=3600, first=90, name="checkin-purge")

"""The expectations map: /expectations, placing yourself on each statement, the reveal."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.closeness import expectations, schedules
from bot.closeness.buttons import MapBack, OpenMap, OpenSharing, PlaceOnScale
from bot.closeness.mapping import SCALE
from bot.content.closeness import ExpectationsDeck
from bot.people.pairing import HISTORY_GRACE
from bot.people.profiles import name_of
from bot.safety.signals import Recipient, recipient_of
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers.replies import Button, Rows, locale_of, reply, settle_button
from bot.telegram.handlers.safety import notify

log = logging.getLogger(__name__)


def _deck(context: BotContext, locale: str | None) -> ExpectationsDeck:
    return context.services.closeness.decks.expectations(locale)


def _step_rows(step: expectations.Step) -> Rows:
    assert step.index is not None
    scale = [
        Button(
            "map_score",
            PlaceOnScale(step.map_id, step.index, score),
            values={"score": score, "chosen": step.given == score},
        )
        for score in SCALE
    ]
    rows: list[list[Button]] = [scale]
    if step.index > 0:
        rows.append([Button("map_back", MapBack(step.map_id, step.index - 1))])
    return rows


async def _show_step(update: Update, context: BotContext, step: expectations.Step) -> None:
    if step.index is None:
        return
    await reply(
        update,
        context,
        "expectations.statement",
        rows=_step_rows(step),
        index=step.index,
        total=step.total,
        statement=step.statement,
        given=step.given,
    )


async def expectations_command(update: Update, context: BotContext) -> None:
    """Handle /expectations: carry on with the open map, or show the latest one, or begin."""
    user = update.effective_user
    assert user is not None
    locale = locale_of(context)
    async with context.services.sessions() as session:
        me, _ = await expectations.couple_of(session, user.id)
        assert me.couple_id is not None
        current = await expectations.open_map(session, me.couple_id)
        latest = await expectations.latest_revealed(session, me.couple_id)
        result = None
        if current is None and latest is not None and latest.id is not None:
            result = await expectations.result_for(
                session, latest.id, user.id, deck=_deck(context, locale)
            )
    if result is None:
        await open_map(update, context)
        return
    await reply(
        update,
        context,
        "expectations.result",
        rows=[[Button("map_again", OpenMap())]],
        result=result,
        again=True,
    )


async def open_map(update: Update, context: BotContext, _: OpenMap | None = None) -> None:
    """Begin the couple's map, or carry on with the open one (the offer's button too)."""
    if update.callback_query is not None:
        await settle_button(update, context)
    user = update.effective_user
    assert user is not None
    services = context.services
    async with services.sessions.begin() as session:
        started = await expectations.start(
            session,
            user.id,
            now=services.clock.now(),
            deck=_deck(context, locale_of(context)),
            policy=services.policy,
        )
    step = started.step
    if step.index is None:
        await reply(update, context, "expectations.waiting", partner=started.partner_name)
        return
    await reply(
        update,
        context,
        "expectations.intro",
        partner=started.partner_name,
        count=step.total,
        resumed=step.index > 0,
    )
    await _show_step(update, context, step)
    partner = started.partner_to_tell
    if partner is not None:
        await notify(
            context,
            recipient_of(partner),
            "expectations.partner_started",
            rows=[[Button("map_go", OpenMap(), values={"started": False})]],
            partner=started.my_name,
        )


async def map_button(update: Update, context: BotContext, pressed: PlaceOnScale | MapBack) -> None:
    """Handle the scale and back buttons."""
    user = update.effective_user
    assert user is not None
    deck = _deck(context, locale_of(context))
    if isinstance(pressed, MapBack):
        async with context.services.sessions() as session:
            step = await expectations.show(
                session, user.id, pressed.map_id, pressed.index, deck=deck
            )
        await settle_button(update, context)
        await _show_step(update, context, step)
        return
    async with context.services.sessions.begin() as session:
        done = await expectations.answer(
            session,
            user.id,
            pressed.map_id,
            pressed.index,
            pressed.score,
            now=context.services.clock.now(),
            deck=deck,
        )
    await settle_button(update, context)
    if done.revealed:
        for viewer in (done.partner, done.user):
            await _reveal(context, pressed.map_id, recipient_of(viewer))
        return
    if done.step.index is not None:
        await _show_step(update, context, done.step)
        return
    if done.just_finished:
        await reply(update, context, "expectations.finished", partner=name_of(done.partner))
        await notify(
            context,
            recipient_of(done.partner),
            "expectations.partner_finished",
            rows=[[Button("map_go", OpenMap(), values={"started": done.partner_started})]],
            partner=name_of(done.user),
        )


async def _reveal(context: BotContext, map_id: int, viewer: Recipient) -> None:
    """Send one partner the comparison, in their language; discreet mode holds its words."""
    async with context.services.sessions() as session:
        result = await expectations.result_for(
            session, map_id, viewer.user_id, deck=_deck(context, viewer.locale)
        )
    await notify(
        context,
        viewer,
        "expectations.result",
        rows=[[Button("share_offer", OpenSharing())]],
        result=result,
        again=False,
    )


async def tick(context: BotContext) -> None:
    """Run one closeness tick: offer the map and bring the sharing prompt where due."""
    report = await context.services.closeness.tick()
    if report.claimed:
        log.info(
            "closeness tick: claimed %d, sent %d, already sent %d, dropped %d, blocked %d, "
            "retried %d",
            report.claimed,
            report.sent,
            report.already_sent,
            report.dropped,
            report.blocked,
            report.retried,
        )


async def purge(context: BotContext) -> None:
    """Erase the maps and sharing rounds of couples that ended long ago."""
    async with context.services.sessions.begin() as session:
        erased = await schedules.purge_ended(
            session, now=context.services.clock.now(), grace=HISTORY_GRACE
        )
    if erased:
        log.info("erased %d closeness records of couples that ended", erased)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the expectations map's handlers."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("expectations", expectations_command, filters=private))
    application.add_handler(ButtonHandler(OpenMap, open_map))
    application.add_handler(ButtonHandler(PlaceOnScale, map_button))
    application.add_handler(ButtonHandler(MapBack, map_button))
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        tick,
        interval=services_of(application).settings.nudge_tick_seconds,
        first=2.5,
        name="closeness-tick",
    )
    application.job_queue.run_repeating(purge, interval=3600, first=120, name="closeness-purge")

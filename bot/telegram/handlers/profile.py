"""Onboarding and /settings: name, time zone and nudge times, asked one step at a time."""

from __future__ import annotations

import asyncio
from datetime import time

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.content.locales import language_name
from bot.core.errors import DomainError
from bot.people import conversation, onboarding
from bot.people import profiles as people
from bot.people.buttons import (
    LanguageChoice,
    NewInvite,
    SettingsChoice,
    TimeChoice,
    UseTelegramName,
    ZoneChoice,
)
from bot.people.onboarding import ONBOARDING, SAFETY, SETTINGS
from bot.people.profiles import Profile, offered_name, profile_of
from bot.people.timezones import COMMON_TIMEZONES, parse_time_of_day, resolve_timezone
from bot.reading.buttons import FocusOpen
from bot.safety.buttons import SafetyCheckAnswer
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext
from bot.telegram.handlers.language import language_rows
from bot.telegram.handlers.replies import Button, echoed, refuse_button, reply, settle_button

TIME_CHOICES = {"morning": ("07:00", "08:00", "09:00"), "evening": ("19:00", "20:30", "21:30")}


async def ask(update: Update, context: BotContext, mode: str, step: str, profile: Profile) -> None:
    """Remember that one step's answer is expected, then ask its question."""
    async with context.services.sessions.begin() as session:
        await onboarding.ask(session, profile.user_id, mode, step, now=context.services.clock.now())
    await _question(update, context, mode, step, profile)


async def _question(
    update: Update, context: BotContext, mode: str, step: str, profile: Profile
) -> None:
    """Ask one step's question; the safety check's answers go to handlers/safety.py."""
    if step == "name":
        # Only a name that would be accepted is offered: a long one shortened to whole words.
        offered = offered_name(profile.telegram_name)
        rows = (
            [[Button("use_telegram_name", UseTelegramName(), values={"name": offered})]]
            if offered
            else []
        )
        await reply(update, context, f"{mode}.ask_name", rows=rows, telegram_name=offered)
    elif step == "timezone":
        rows = [
            [Button("timezone", ZoneChoice(zone), values={"zone": zone}) for zone in pair]
            for pair in _pairs(COMMON_TIMEZONES)
        ]
        await reply(update, context, f"{mode}.ask_timezone", rows=rows, current=profile.timezone)
    elif step == SAFETY:
        rows = [
            [Button(f"safety_{answer}", SafetyCheckAnswer(answer))]
            for answer in ("yes", "no", "skip")
        ]
        await reply(update, context, "safety.check", rows=rows)
    else:
        rows = [
            [
                Button("time", TimeChoice(step, time.fromisoformat(t)), values={"time": t})
                for t in TIME_CHOICES[step]
            ]
        ]
        current = profile.morning_time if step == "morning" else profile.evening_time
        await reply(update, context, f"{mode}.ask_{step}", rows=rows, current=current)


def _pairs(items: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [items[i : i + 2] for i in range(0, len(items), 2)]


async def continue_onboarding(
    update: Update, context: BotContext, user_id: int, *, safety_asked: bool = False
) -> None:
    """Ask the next unanswered step, or say that onboarding is done when all are answered."""
    async with context.services.sessions.begin() as session:
        progress = await onboarding.advance(
            session,
            user_id,
            now=context.services.clock.now(),
            rhythm=context.services.rhythm,
            safety_asked=safety_asked,
        )
    if progress.step is not None:
        await _question(update, context, ONBOARDING, progress.step, progress.profile)
        return
    done = progress.profile
    rows = [[Button("choose_focus", FocusOpen())]]
    if not done.couple_id:
        rows.insert(0, [Button("invite_partner", NewInvite())])
    await reply(
        update, context, "onboarding.done", rows=rows, profile=done, paired=bool(done.couple_id)
    )


async def show_settings(update: Update, context: BotContext) -> None:
    """Show the current settings with a button per thing that can change."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        profile = profile_of(await people.require(session, user.id))
        await conversation.forget(session, user.id)
    rows = [
        [
            Button("settings_name", SettingsChoice("name")),
            Button("settings_language", SettingsChoice("language")),
        ],
        [Button("settings_timezone", SettingsChoice("timezone"))],
        [
            Button("settings_morning", SettingsChoice("morning")),
            Button("settings_evening", SettingsChoice("evening")),
        ],
        [Button("settings_focus", FocusOpen())],
    ]
    await reply(
        update,
        context,
        "settings.overview",
        rows=rows,
        profile=profile,
        language=language_name(context.locale),
    )


async def settings_command(update: Update, context: BotContext) -> None:
    """Handle /settings."""
    await show_settings(update, context)


async def settings_button(update: Update, context: BotContext, pressed: SettingsChoice) -> None:
    """Handle a press on one of the /settings buttons."""
    assert update.effective_user is not None
    step = pressed.step
    if step == "open":
        await settle_button(update, context, keep=True)
        await show_settings(update, context)
        return
    await settle_button(update, context)
    if step == "language":
        # A button choice only: nothing is typed, so no step is waited for.
        await ask_language(update, context)
        return
    async with context.services.sessions.begin() as session:
        profile = profile_of(await people.require(session, update.effective_user.id))
    await ask(update, context, SETTINGS, step, profile)


async def _save(update: Update, context: BotContext, mode: str, step: str, value: str) -> None:
    user = update.effective_user
    assert user is not None
    now, rhythm = context.services.clock.now(), context.services.rhythm
    try:
        async with context.services.sessions.begin() as session:
            if step == "name":
                saved = await people.set_name(session, user.id, value, now=now)
            elif step == "timezone":
                saved = await people.set_timezone(session, user.id, value, now=now, rhythm=rhythm)
            else:
                at = parse_time_of_day(value)
                if at is None:
                    raise DomainError("onboarding.time_invalid", example=TIME_CHOICES[step][0])
                saved = await people.set_nudge_time(
                    session, user.id, step, at, now=now, rhythm=rhythm
                )
            profile = profile_of(saved)
    except DomainError as problem:
        # A choice button was answered already; a press can't get an alert after that.
        await reply(update, context, problem.key, **problem.values)
        return
    if mode == ONBOARDING:
        await continue_onboarding(update, context, profile.user_id)
    else:
        await reply(update, context, "settings.saved", step=step, profile=profile)
        await show_settings(update, context)


async def _choose_timezone(update: Update, context: BotContext, mode: str, typed: str) -> None:
    # Off the event loop: the first look-up may still be building the city index.
    matches = await asyncio.to_thread(resolve_timezone, typed)
    if not matches:
        await reply(update, context, "onboarding.timezone_not_found", typed=echoed(typed))
        return
    first = matches[0]
    same_zone = len({match.zone for match in matches}) == 1
    if same_zone or first.zone.lower() == typed.strip().lower().replace(" ", "_"):
        await _save(update, context, mode, "timezone", first.zone)
        return
    rows = [
        [Button("timezone_match", ZoneChoice(m.zone), values={"label": m.label, "zone": m.zone})]
        for m in matches
    ]
    await reply(update, context, "onboarding.timezone_choose", rows=rows, typed=echoed(typed))


async def on_text(update: Update, context: BotContext, mode: str, step: str) -> None:
    """Take a typed answer to an onboarding or settings step."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if step == "timezone":
        await _choose_timezone(update, context, mode, message.text)
    else:
        await _save(update, context, mode, step, message.text)


async def on_choice(
    update: Update, context: BotContext, pressed: UseTelegramName | ZoneChoice | TimeChoice
) -> None:
    """Take a button answer (name, zone or time) for the step this person is in."""
    user = update.effective_user
    assert user is not None
    if isinstance(pressed, ZoneChoice):
        step, value = "timezone", pressed.zone
    elif isinstance(pressed, TimeChoice):
        step, value = pressed.step, f"{pressed.at:%H:%M}"
    else:
        step, value = "name", ""
    async with context.services.sessions.begin() as session:
        answering = await onboarding.answering(session, user.id)
        profile = profile_of(await people.require(session, user.id))
    if step == "name":
        value = offered_name(profile.telegram_name) or ""
    if answering is None or answering[1] != step or not value:
        await refuse_button(update, context, "errors.stale_button")
        return
    mode = answering[0]
    await settle_button(update, context)
    await _save(update, context, mode, step, value)


async def cancel(update: Update, context: BotContext) -> None:
    """Handle /cancel: drop a half-finished settings change."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        cancelled = await onboarding.cancel(session, user.id)
    if cancelled is onboarding.Cancelled.ONBOARDING:
        await reply(update, context, "onboarding.cannot_cancel")
        await continue_onboarding(update, context, user.id)
        return
    had_something = cancelled is onboarding.Cancelled.DROPPED
    await reply(update, context, "help.cancelled", had_something=had_something)


async def ask_language(update: Update, context: BotContext) -> None:
    """Offer every language there is a folder for."""
    current = context.locale
    await reply(
        update,
        context,
        "settings.ask_language",
        rows=language_rows(context, current),
        current=language_name(current),
    )


async def choose_language(update: Update, context: BotContext, pressed: LanguageChoice) -> None:
    """Switch this person to the language they picked; every later message follows."""
    user = update.effective_user
    assert user is not None
    if pressed.locale not in context.services.texts.locales():
        await refuse_button(update, context, "errors.stale_button")
        return
    await settle_button(update, context)
    async with context.services.sessions.begin() as session:
        saved = await people.set_locale(
            session, user.id, pressed.locale, now=context.services.clock.now()
        )
        profile = profile_of(saved)
    context.resolved_locale = profile.locale
    await reply(
        update,
        context,
        "settings.saved",
        step="language",
        profile=profile,
        language=language_name(profile.locale),
    )
    if not profile.onboarded:
        # Someone who switched language half-way through onboarding carries on, in it.
        await continue_onboarding(update, context, profile.user_id)
        return
    # The settings menu follows, so its buttons are in the new language too.
    await show_settings(update, context)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the profile handlers."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("settings", settings_command, filters=private))
    application.add_handler(CommandHandler("cancel", cancel, filters=private))
    application.add_handler(ButtonHandler(SettingsChoice, settings_button))
    application.add_handler(ButtonHandler(LanguageChoice, choose_language))
    application.add_handler(ButtonHandler(UseTelegramName, on_choice))
    application.add_handler(ButtonHandler(ZoneChoice, on_choice))
    application.add_handler(ButtonHandler(TimeChoice, on_choice))

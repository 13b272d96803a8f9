"""The composition root: build the Application with its services and handlers."""

from __future__ import annotations

import contextlib
import gc
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot.billing.delivery import NoticeConfig, NoticeEngine
from bot.billing.entitlements import Policy
from bot.billing.pair_trials import pair_key
from bot.billing.payments import signing_key
from bot.checkins.engine import CheckinConfig, CheckinEngine
from bot.checkins.schedules import Plan
from bot.content.checkins import CheckinDeck
from bot.content.library import Library
from bot.content.texts import Texts
from bot.core.clock import Clock, FileClock, SystemClock
from bot.core.workers import Presence
from bot.db.engine import create_engine, create_sessions
from bot.inbox import effects
from bot.inbox.dispatch import FAST_CONCURRENCY
from bot.inbox.leader import PollingLock
from bot.inbox.store import InboxStore
from bot.inbox.store import Policy as InboxPolicy
from bot.nudges.engine import EngineConfig, NudgeEngine
from bot.nudges.schedules import Rhythm
from bot.outbox.outbox import Outbox
from bot.outbox.pacing import Pacer
from bot.safety.counsellor import Announcing
from bot.settings import Settings
from bot.telegram import handlers
from bot.telegram.context import BotContext, Services, attach_services
from bot.telegram.handlers.help import publish_commands
from bot.telegram.sender import TelegramSender
from bot.telegram.transport import api_request, updates_request

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


def rhythm_of(settings: Settings) -> Rhythm:
    """Return when excerpts and videos arrive, as the settings say."""
    return Rhythm(
        article_days=settings.article_weekdays,
        article_time=settings.article_time,
        video_days=settings.video_weekdays,
        video_time=settings.video_time,
    )


def policy_of(settings: Settings) -> Policy:
    """Return the entitlement policy the settings describe."""
    secret = settings.payment_signing_secret
    signing = signing_key(
        secret.get_secret_value() if secret is not None else None,
        settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else "",
    )
    return Policy(
        gated=settings.gated_feature_set,
        grace=timedelta(hours=settings.subscription_grace_hours),
        pair_key=pair_key(signing),
    )


def checkin_config_of(settings: Settings) -> CheckinConfig:
    """Return the check-in tick's knobs, as the settings say."""
    return CheckinConfig(
        default_plan=Plan(settings.checkin_weekday, settings.checkin_time),
        window=timedelta(hours=settings.checkin_window_hours),
        reminder_after=timedelta(hours=settings.checkin_reminder_hours),
        default_zone=settings.default_timezone,
        batch_size=settings.nudge_batch_size,
    )


def inbox_policy_of(settings: Settings) -> InboxPolicy:
    """Return how the inbox leases, retries and keeps updates, as the settings say."""
    return InboxPolicy(
        lease=timedelta(seconds=settings.inbox_lease_seconds),
        max_attempts=settings.inbox_max_attempts,
        keep_parked=timedelta(days=settings.inbox_keep_parked_days),
    )


def freeze_startup_objects() -> None:
    """Leave what start-up built out of every later garbage collection; call once it is built.

    Modules, templates, decks and python-telegram-bot's and SQLAlchemy's objects live as long
    as the process, yet each full collection walks them all: in a round at paid-broadcast speed
    that was a dozen collections of some 50 ms each (bench/README.md). Garbage already made is
    collected first, so only what is alive stays out.
    """
    gc.collect()
    gc.freeze()


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    clock: Clock | None = None,
) -> BotApplication:
    """Build the bot; tests pass their own settings, transport and clock."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is required to build the application")
    # Every update handled at once, the checkout lane, the poller and the ticks each need one.
    engine = create_engine(
        settings.database_url, pool_size=max(10, settings.inbox_concurrency + FAST_CONCURRENCY + 4)
    )
    effects.install()
    if clock is None:
        clock = FileClock(settings.clock_file) if settings.clock_file else SystemClock()

    presence: Presence | None = None

    async def dispose_engine(_: BotApplication) -> None:
        if presence is not None:
            with contextlib.suppress(SQLAlchemyError):
                await presence.leave()  # the other workers take up the whole rate at once
        await engine.dispose()

    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_file_url)
        .context_types(ContextTypes(context=BotContext))
        .post_init(publish_commands)
        .post_shutdown(dispose_engine)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:
        api, updates = api_request(settings), updates_request(settings)
        if api is not None and updates is not None:
            builder = builder.request(api).get_updates_request(updates)
    application: BotApplication = builder.build()
    sessions = create_sessions(engine)
    texts = Texts(settings.content_dir, default_locale=settings.default_locale)
    library = Library(settings.content_dir, default_locale=settings.default_locale)
    pacer = Pacer(
        per_second=settings.overall_send_rate,
        per_chat_interval=settings.per_chat_interval_seconds,
    )
    engine_config = EngineConfig(
        reminder_time=settings.answer_reminder_time,
        batch_size=settings.nudge_batch_size,
        lease=timedelta(seconds=settings.nudge_lease_seconds),
        video_base_url=settings.video_base_url,
    )
    rhythm, policy = rhythm_of(settings), policy_of(settings)
    # One carrier for the outbox and every engine, so all share one pace under Telegram's limits.
    sender = TelegramSender(application.bot, pacer)
    if engine.dialect.name == "postgresql":
        # Several workers may share one PostgreSQL database: they share the send rate too.
        presence = Presence(sessions, clock, on_count=pacer.share)
    attach_services(
        application,
        Services(
            settings=settings,
            sessions=sessions,
            texts=texts,
            library=library,
            clock=clock,
            rhythm=rhythm,
            policy=policy,
            staff_announcing=Announcing(
                every=timedelta(minutes=settings.counsellor_reannounce_minutes)
            ),
            nudges=NudgeEngine(
                sessions=sessions,
                texts=texts,
                library=library,
                clock=clock,
                sender=sender,
                rhythm=rhythm,
                policy=policy,
                config=engine_config,
            ),
            checkins=CheckinEngine(
                sessions=sessions,
                texts=texts,
                deck=CheckinDeck(settings.content_dir, default_locale=settings.default_locale),
                clock=clock,
                sender=sender,
                policy=policy,
                config=checkin_config_of(settings),
            ),
            notices=NoticeEngine(
                sessions=sessions,
                texts=texts,
                clock=clock,
                sender=sender,
                policy=policy,
                config=NoticeConfig(
                    price=settings.subscription_price_stars,
                    default_timezone=settings.default_timezone,
                ),
            ),
            outbox=Outbox(sessions=sessions, texts=texts, clock=clock, carrier=sender),
            inbox=InboxStore(sessions, clock, inbox_policy_of(settings)),
            polling_lock=PollingLock(engine),
            presence=presence,
        ),
    )
    handlers.register(application)
    return application

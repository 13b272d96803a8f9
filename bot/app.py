"""The composition root: build the Application with its services and handlers."""

from __future__ import annotations

import contextlib
import gc
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest, HTTPXRequest

from bot.billing.delivery import NoticeConfig, NoticeEngine
from bot.billing.entitlements import Policy
from bot.billing.pair_trials import pair_key
from bot.billing.payments import signing_key
from bot.billing.settlement import Settlement
from bot.checkins.engine import CheckinConfig, CheckinEngine
from bot.checkins.schedules import Plan
from bot.closeness.engine import ClosenessConfig, ClosenessEngine
from bot.content.checkins import CheckinDeck
from bot.content.closeness import ClosenessDecks
from bot.content.library import Library
from bot.content.texts import Texts
from bot.content.together import TogetherDeck
from bot.core.clock import Clock, FileClock, SystemClock
from bot.core.failures import Outage
from bot.core.workers import Presence
from bot.db.engine import create_engine, create_sessions, on_checkout
from bot.inbox import effects
from bot.inbox.dispatch import FAST_CONCURRENCY
from bot.inbox.leader import PollingLock
from bot.inbox.store import InboxStore
from bot.inbox.store import Policy as InboxPolicy
from bot.nudges.engine import EngineConfig, NudgeEngine
from bot.nudges.schedules import Rhythm
from bot.outbox.outbox import Outbox
from bot.outbox.pacing import Pacer
from bot.people.timezones import warm_timezone_index
from bot.safety.counsellor import Announcing
from bot.settings import Settings
from bot.telegram import handlers
from bot.telegram.answers import PatientBot
from bot.telegram.context import BotContext, Services, attach_services
from bot.telegram.handlers.help import publish_commands
from bot.telegram.sender import TelegramSender
from bot.telegram.transport import DEFAULT_POOL_SIZE, api_request, updates_request
from bot.together.engine import TogetherConfig, TogetherEngine
from bot.together.schedules import Cadence

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


def rhythm_of(settings: Settings) -> Rhythm:
    """Return when excerpts and videos arrive, as the settings say."""
    return Rhythm(
        article_days=settings.article_weekdays,
        article_time=settings.article_time,
        video_days=settings.video_weekdays,
        video_time=settings.video_time,
    )


def payment_key_of(settings: Settings) -> bytes:
    """Return the key invoice payloads are signed with (see PAYMENT_SIGNING_SECRET)."""
    secret = settings.payment_signing_secret
    return signing_key(
        secret.get_secret_value() if secret is not None else None,
        settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else "",
    )


def policy_of(settings: Settings) -> Policy:
    """Return the entitlement policy the settings describe."""
    signing = payment_key_of(settings)
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


def together_config_of(settings: Settings) -> TogetherConfig:
    """Return the together tick's knobs: the couple's weekly cadence, as the settings say."""
    return TogetherConfig(
        cadence=Cadence(
            weekday=settings.together_weekday,
            at=settings.together_time,
            reminder_at=settings.together_reminder_time,
        ),
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


async def start_up(application: BotApplication) -> None:
    """Publish the command menu, and build the city index without holding up updates."""
    # About two seconds of CPU: done in a thread, so the first person to type a city doesn't
    # wait for it and nobody else waits meanwhile.
    threading.Thread(target=warm_timezone_index, name="timezone-index", daemon=True).start()
    await publish_commands(application)


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
    # A connection handed out means the database answers: that ends an outage, in one line.
    outage = Outage()
    on_checkout(engine, outage.reached)

    async def dispose_engine(_: BotApplication) -> None:
        if presence is not None:
            with contextlib.suppress(SQLAlchemyError):
                await presence.leave()  # the other workers take up the whole rate at once
        await engine.dispose()

    if request is not None:
        api, updates = request, request
    else:
        api = api_request(settings) or HTTPXRequest(
            connection_pool_size=DEFAULT_POOL_SIZE,
            read_timeout=settings.telegram_read_timeout_seconds,
        )
        updates = updates_request(settings) or HTTPXRequest()
    bot = PatientBot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.bot_api_url,
        base_file_url=settings.bot_file_url,
        request=api,
        get_updates_request=updates,
    )
    builder = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(ContextTypes(context=BotContext))
        .post_init(start_up)
        .post_shutdown(dispose_engine)
    )
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
    outbox = Outbox(sessions=sessions, texts=texts, clock=clock, carrier=sender, outage=outage)
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
            outbox=outbox,
            settlement=Settlement(
                sessions=sessions,
                texts=texts,
                clock=clock,
                desk=outbox,
                key=payment_key_of(settings),
                default_zone=settings.default_timezone,
                policy=policy,
            ),
            together=TogetherEngine(
                sessions=sessions,
                texts=texts,
                deck=TogetherDeck(settings.content_dir, default_locale=settings.default_locale),
                clock=clock,
                sender=sender,
                policy=policy,
                config=together_config_of(settings),
            ),
            closeness=ClosenessEngine(
                sessions=sessions,
                texts=texts,
                decks=ClosenessDecks(settings.content_dir, default_locale=settings.default_locale),
                clock=clock,
                sender=sender,
                policy=policy,
                config=ClosenessConfig(
                    batch_size=settings.nudge_batch_size,
                    lease=timedelta(seconds=settings.nudge_lease_seconds),
                ),
            ),
            inbox=InboxStore(sessions, clock, inbox_policy_of(settings)),
            polling_lock=PollingLock(engine),
            presence=presence,
            outage=outage,
        ),
    )
    handlers.register(application)
    return application

"""Command line: `python -m bot run | web | migrate | content check | nudges | inbox | billing`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.core.workers import Presence
    from bot.nudges.engine import NudgeEngine, TickReport

NO_TOKEN = """\
Remainly's bot needs a Telegram bot token to start.

  1. In Telegram, open a chat with @BotFather and send /newbot.
  2. Choose a name and a username; BotFather replies with a token like 123456789:AA...
  3. Put it in a file named .env next to the Makefile:

       TELEGRAM_BOT_TOKEN=123456789:AA...

     (or export TELEGRAM_BOT_TOKEN in your shell), then run `make run` again.

See .env.example for every other setting."""


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _ready_to_start(settings: Settings) -> bool:
    if settings.telegram_bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return False
    from bot.content.check import check_content

    problems = check_content(settings.content_dir, default_locale=settings.default_locale)
    if problems:
        print("The content in content/ has problems; the bot will not start:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return False
    return True


def _run(settings: Settings) -> int:
    if not _ready_to_start(settings):
        return 1
    _configure_logging(settings)
    from bot.app import build_application, freeze_startup_objects
    from bot.telegram.inbound import serve_polling

    application = build_application(settings)
    freeze_startup_objects()
    logging.getLogger("bot").info("starting with long polling")
    asyncio.run(serve_polling(application))
    return 0


def _web(settings: Settings) -> int:
    if settings.webhook_url is None or settings.webhook_secret is None:
        print(
            "Webhook mode needs WEBHOOK_URL (the public https:// address Telegram posts to) and "
            "WEBHOOK_SECRET (16 to 256 characters of A-Z, a-z, 0-9, _ and -); see .env.example.",
            file=sys.stderr,
        )
        return 1
    if not _ready_to_start(settings):
        return 1
    _configure_logging(settings)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    from bot.app import build_application, freeze_startup_objects
    from bot.telegram.webhook import serve_webhook

    application = build_application(settings)
    freeze_startup_objects()
    logging.getLogger("bot").info(
        "starting with a webhook on %s:%s%s",
        settings.webhook_host,
        settings.webhook_port,
        settings.webhook_path,
    )
    asyncio.run(serve_webhook(application))
    return 0


def _inbox(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_inbox_async(settings, args))


async def _inbox_async(settings: Settings, args: argparse.Namespace) -> int:
    """List, retry or drop parked updates (`python -m bot inbox list | retry ID | drop ID`)."""
    from bot.app import inbox_policy_of
    from bot.core.clock import SystemClock
    from bot.db.engine import create_engine, create_sessions
    from bot.inbox.store import InboxStore

    engine = create_engine(settings.database_url)
    store = InboxStore(create_sessions(engine), SystemClock(), inbox_policy_of(settings))
    try:
        if args.inbox_command == "list":
            parked = await store.parked()
            waiting = await store.pending()
            print(f"{waiting} update(s) waiting to be handled, {len(parked)} parked.")
            for row in parked:
                parked_at = f"{row.parked_at:%Y-%m-%d %H:%M} UTC" if row.parked_at else "-"
                print(
                    f"  #{row.id}  update {row.update_id}  {row.kind}  chat {row.chat_key}  "
                    f"parked {parked_at} after {row.attempts} attempt(s): {row.reason}"
                )
            return 0
        if args.inbox_command == "retry":
            if await store.retry(args.id):
                print(f"Update #{args.id} goes back in line; a running bot handles it shortly.")
                return 0
        elif await store.drop(args.id):
            print(f"Update #{args.id} is dropped and erased.")
            return 0
        print(f"There is no parked update #{args.id} (see `python -m bot inbox list`).")
        return 1
    finally:
        await engine.dispose()


def _migrate(settings: Settings) -> int:
    from bot.db.migrate import upgrade

    upgrade(settings.database_url)
    print("The database schema is up to date.")
    return 0


def _content_check(settings: Settings) -> int:
    from bot.content.check import check_content
    from bot.content.parity import parity

    # What each locale translates, and what falls back to the default locale item by item.
    for report in parity(settings.content_dir, default_locale=settings.default_locale):
        for line in report.lines():
            print(line)
    problems = check_content(settings.content_dir, default_locale=settings.default_locale)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found in {settings.content_dir}")
        return 1
    print(f"Content in {settings.content_dir} is valid.")
    return 0


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time like 2026-03-02T21:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _nudges(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_nudges_async(settings, args))


async def _tick_among_workers(engine: NudgeEngine, presence: Presence) -> TickReport:
    """Run one tick while saying this worker is alive, so running bots share the rate with it."""
    from bot.core.workers import BEAT_INTERVAL

    async def keep_beating() -> None:
        while True:
            await asyncio.sleep(BEAT_INTERVAL.total_seconds())
            await presence.beat()

    await presence.beat()
    beating = asyncio.create_task(keep_beating())
    try:
        return await engine.tick()
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def _nudges_async(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_application, freeze_startup_objects
    from bot.core.clock import FixedClock, SystemClock
    from bot.telegram.context import services_of

    offline = args.nudges_command == "preview" or args.dry_run
    if not offline and settings.telegram_bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 1
    now = getattr(args, "now", None)
    clock = FixedClock(now) if now is not None else SystemClock()
    if offline and settings.telegram_bot_token is None:
        # Nothing is sent offline; the application only needs a well-formed token.
        settings = settings.model_copy(update={"telegram_bot_token": SecretStr("0:offline")})
    application = build_application(settings, clock=clock)
    engine = services_of(application).nudges
    try:
        if args.nudges_command == "preview":
            previews = await engine.preview(args.user)
        elif args.dry_run:
            previews = await engine.due(clock.now(), limit=args.limit)
        else:
            presence = services_of(application).presence
            freeze_startup_objects()
            async with application:
                if presence is None:
                    report = await engine.tick()
                else:
                    report = await _tick_among_workers(engine, presence)
            print(
                f"claimed {report.claimed}, sent {report.sent}, already sent "
                f"{report.already_sent}, dropped {report.dropped}, blocked {report.blocked}, "
                f"retried {report.retried}"
            )
            return 0
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
    if not previews:
        print("Nothing scheduled." if args.nudges_command == "preview" else "Nothing is due.")
    for preview in previews:
        print(f"--- user {preview.user_id} · {preview.kind} · {preview.run_at:%Y-%m-%d %H:%M} UTC")
        print(preview.text or "(nothing would be sent)")
    return 0


def _billing(settings: Settings, args: argparse.Namespace) -> int:
    if settings.telegram_bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 1
    _configure_logging(settings)
    if args.billing_command == "reconcile":
        return asyncio.run(_reconcile(settings))
    return asyncio.run(_refund(settings, args.charge_id))


async def _reconcile(settings: Settings) -> int:
    """Check Telegram's Stars ledger once (`python -m bot billing reconcile`)."""
    from bot.app import build_application
    from bot.telegram.context import services_of

    application = build_application(settings)
    try:
        async with application:
            report = await services_of(application).settlement.reconcile()
            if report.failed:
                print("Telegram's Stars ledger could not be read in full; see the log.")
                return 1
            print(
                f"Read {report.read} ledger entries: recorded {report.recorded} missed "
                f"charge(s), refunded {report.refunded}."
            )
            return 0
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def _refund(settings: Settings, charge_id: str) -> int:
    """Refund a charge for an operator (`python -m bot billing refund CHARGE_ID`)."""
    from bot.app import build_application
    from bot.billing.payments import RefundRefused
    from bot.telegram.handlers.billing import notify_refund, refund

    application = build_application(settings)
    try:
        async with application:
            try:
                done = await refund(application, charge_id)
            except RefundRefused as refused:
                print(f"Not refunded: {refused}")
                return 1
            if done is None:
                print("Telegram did not accept the refund; see the log. Nothing was recorded.")
                return 1
            if done.payer is not None:
                await notify_refund(application, done)
            print(f"Refunded {done.amount} Stars for charge {charge_id}.")
            return 0
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


def parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    root = argparse.ArgumentParser(prog="python -m bot", description="Remainly's Telegram bot.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="start the bot with long polling")
    commands.add_parser("web", help="start the bot behind Telegram's webhook")
    commands.add_parser("migrate", help="apply database migrations")
    content = commands.add_parser("content", help="work with the texts in content/")
    content_commands = content.add_subparsers(dest="content_command", required=True)
    content_commands.add_parser("check", help="validate every template, deck, article and video")
    nudges = commands.add_parser("nudges", help="operate the daily nudges")
    nudge_commands = nudges.add_subparsers(dest="nudges_command", required=True)
    due = nudge_commands.add_parser("due", help="run one tick as if it were --now")
    due.add_argument("--now", type=_instant, help="ISO time (default: now)")
    due.add_argument("--dry-run", action="store_true", help="only show what would be sent")
    due.add_argument("--limit", type=int, default=50, help="how many due rows to show")
    preview = nudge_commands.add_parser("preview", help="show what a person gets next")
    preview.add_argument("user", type=int, help="the person's Telegram user id")
    inbox = commands.add_parser("inbox", help="look at and act on updates that failed")
    inbox_commands = inbox.add_subparsers(dest="inbox_command", required=True)
    inbox_commands.add_parser("list", help="show the parked updates (never their words)")
    retry = inbox_commands.add_parser("retry", help="put a parked update back in line")
    retry.add_argument("id", type=int, help="the update's # as `inbox list` shows it")
    drop = inbox_commands.add_parser("drop", help="give up on a parked update and erase it")
    drop.add_argument("id", type=int, help="the update's # as `inbox list` shows it")
    billing = commands.add_parser("billing", help="operate subscriptions paid in Telegram Stars")
    billing_commands = billing.add_subparsers(dest="billing_command", required=True)
    refund = billing_commands.add_parser("refund", help="refund a charge and update the couple")
    refund.add_argument("charge_id", help="the telegram_payment_charge_id of the charge")
    billing_commands.add_parser(
        "reconcile", help="record, or refund, charges in Telegram's Stars ledger the bot missed"
    )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command and return its exit status."""
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    if args.command == "run":
        return _run(settings)
    if args.command == "web":
        return _web(settings)
    if args.command == "inbox":
        return _inbox(settings, args)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "nudges":
        return _nudges(settings, args)
    if args.command == "billing":
        return _billing(settings, args)
    return _content_check(settings)


if __name__ == "__main__":
    sys.exit(main())

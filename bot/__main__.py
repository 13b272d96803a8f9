"""Command line: `python -m bot run | migrate | content check`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError, load_settings

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


def _run(settings: Settings) -> int:
    if settings.telegram_bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 1
    from bot.content import check_content

    problems = check_content(settings.content_dir)
    if problems:
        print("The content in content/ has problems; the bot will not start:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    _configure_logging(settings)
    from telegram import Update

    from bot.app import build_application

    application = build_application(settings)
    logging.getLogger("bot").info("starting with long polling")
    application.run_polling(
        allowed_updates=Update.ALL_TYPES,
        timeout=settings.polling_timeout_seconds,
        drop_pending_updates=False,
    )
    return 0


def _migrate(settings: Settings) -> int:
    from bot.db.migrate import upgrade

    upgrade(settings.database_url)
    print("The database schema is up to date.")
    return 0


def _content_check(settings: Settings) -> int:
    from bot.content import check_content

    problems = check_content(settings.content_dir)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found in {settings.content_dir}")
        return 1
    print(f"Content in {settings.content_dir} is valid.")
    return 0


def parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    root = argparse.ArgumentParser(prog="python -m bot", description="Remainly's Telegram bot.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="start the bot with long polling")
    commands.add_parser("migrate", help="apply database migrations")
    content = commands.add_parser("content", help="work with the texts in content/")
    content_commands = content.add_subparsers(dest="content_command", required=True)
    content_commands.add_parser("check", help="validate every template, deck, article and video")
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
    if args.command == "migrate":
        return _migrate(settings)
    return _content_check(settings)


if __name__ == "__main__":
    sys.exit(main())

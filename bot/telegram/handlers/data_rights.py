"""/mydata (a JSON file of everything stored about a person) and /deleteme (erase it all)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.outbox.messages import Attachment
from bot.people import data_rights
from bot.people.buttons import DeleteAnswer
from bot.people.profiles import partner_of, profile_of
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext
from bot.telegram.handlers.replies import (
    Button,
    reply,
    settle_button,
)
from bot.telegram.handlers.safety import notify

log = logging.getLogger(__name__)


async def mydata(update: Update, context: BotContext) -> None:
    """Handle /mydata: send everything stored about this person as a JSON file."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    now = context.services.clock.now()
    async with context.services.sessions.begin() as session:
        exported = await data_rights.export(session, user.id, now=now)
    document = Attachment(
        data_rights.export_json(exported), filename=f"remainly-my-data-{now:%Y-%m-%d}.json"
    )
    await reply(update, context, "data.export_caption", attachment=document)
    log.info("sent a data export (%d tables)", len(exported["tables"]))


async def deleteme(update: Update, context: BotContext) -> None:
    """Handle /deleteme: explain what goes and ask for confirmation."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        stored = await data_rights.ask_to_erase(session, user.id, now=context.services.clock.now())
        partner = await partner_of(session, stored)
    rows = [
        [Button("delete_confirm", DeleteAnswer("yes"))],
        [Button("delete_keep", DeleteAnswer("no"))],
    ]
    await reply(
        update,
        context,
        "data.delete_confirm",
        rows=rows,
        partner=profile_of(partner).name if partner else None,
    )


async def delete_button(update: Update, context: BotContext, pressed: DeleteAnswer) -> None:
    """Handle the confirmation buttons of /deleteme."""
    user = update.effective_user
    assert user is not None
    if pressed.answer == "yes":
        async with context.services.sessions() as session:
            await data_rights.check_erasing(session, user.id)
        # A subscription stops renewing first: once erased, no renewal could be matched to them.
        if not await context.services.settlement.stop_renewals_of(user.id):
            await settle_button(update, context)
            await reply(update, context, "data.delete_renewal_not_stopped")
            return
    async with context.services.sessions.begin() as session:
        if pressed.answer == "no":
            await data_rights.keep(session, user.id)
            erased = None
        else:
            erased = await data_rights.erase(
                session,
                user.id,
                now=context.services.clock.now(),
                rhythm=context.services.rhythm,
            )
    await settle_button(update, context)
    if erased is None:
        await reply(update, context, "data.delete_kept")
        return
    log.info("a person erased their data")
    await reply(update, context, "data.deleted")
    if erased.partner is not None:
        await notify(context, erased.partner, "pairing.unpaired_notice")


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the data-rights handlers."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("mydata", mydata, filters=private))
    application.add_handler(CommandHandler("deleteme", deleteme, filters=private))
    application.add_handler(ButtonHandler(DeleteAnswer, delete_button))

"""The one path out: every message, edit, deletion, invoice link and Stars call the bot makes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.content.texts import Texts
from bot.core.clock import Clock
from bot.core.failures import Outage, is_unavailable
from bot.db.engine import Sessions
from bot.db.models import User
from bot.nudges.engine import mark_unreachable
from bot.outbox.discreet import keep_back
from bot.outbox.messages import (
    Buttons,
    Carrier,
    Edit,
    Invoice,
    Outcome,
    Outgoing,
    Priority,
    SendResult,
    StarTransaction,
)
from bot.safety import signals as safety
from bot.safety.signals import Recipient

log = logging.getLogger(__name__)


class Outbox:
    """Send through the one paced, retrying carrier, and keep what discreet mode needs.

    Scheduled rounds hand their messages to `carrier` directly: they record message ids in
    their own ledger, in groups. Everything else comes through `send`, which records the id of
    each message to a private chat so `/hide` can delete it, holds a notification's words back
    for a person in discreet mode, and stops scheduling a person who blocked the bot.
    """

    def __init__(
        self,
        *,
        sessions: Sessions,
        texts: Texts,
        clock: Clock,
        carrier: Carrier,
        outage: Outage | None = None,
    ) -> None:
        self.sessions = sessions
        self.texts = texts
        self.clock = clock
        self.carrier = carrier
        self.outage = outage or Outage()

    async def send(
        self,
        message: Outgoing,
        *,
        notify: Recipient | None = None,
        about: int | None = None,
        copy_from: tuple[int, int] | None = None,
    ) -> SendResult:
        """Send a message; `notify` names the person a notification is for (discreet-aware).

        `about` names whose words a notification carries, so a held copy goes with them;
        `copy_from` (chat id, message id) is a message whose words follow this one as a copy,
        so discreet mode keeps only where they are, never the words.
        """
        held = notify is not None and notify.discreet
        if notify is not None and notify.discreet:
            async with self.sessions.begin() as session:
                message = await keep_back(
                    session,
                    self.texts,
                    message,
                    user_id=notify.user_id,
                    locale=notify.locale,
                    now=self.clock.now(),
                    about=about,
                    copy_from=copy_from,
                )
        result = await self.carrier.send(message)
        if result.outcome is Outcome.SENT and result.message_id is not None:
            await self._remember(message.chat_id, result.message_id)
            if copy_from is not None and not held:
                copied = await self.copy(message.chat_id, copy_from, priority=message.priority)
                if copied.outcome is not Outcome.SENT:
                    return copied
        elif result.outcome is Outcome.BLOCKED:
            await self._park(message.chat_id)
        return result

    async def copy(
        self,
        chat_id: int,
        copy_from: tuple[int, int],
        *,
        buttons: Buttons = (),
        priority: Priority = Priority.REPLY,
    ) -> SendResult:
        """Copy a message from another chat into this one, and note it for /hide."""
        result = await self.carrier.copy(
            chat_id, copy_from[0], copy_from[1], buttons=buttons, priority=priority
        )
        if result.outcome is Outcome.SENT and result.message_id is not None:
            await self._remember(chat_id, result.message_id)
        return result

    async def edit(self, edit: Edit) -> SendResult:
        """Change a message the bot sent (its text, its buttons, or both)."""
        return await self.carrier.edit(edit)

    async def delete(self, chat_id: int, message_ids: Sequence[int]) -> SendResult:
        """Delete messages in one chat."""
        return await self.carrier.delete(chat_id, message_ids)

    async def invoice_link(self, invoice: Invoice, *, chat_id: int) -> str | None:
        """Create an invoice link for someone in this chat (None if Telegram would not)."""
        return await self.carrier.invoice_link(invoice, chat_id=chat_id)

    async def refund_stars(self, user_id: int, charge_id: str) -> bool:
        """Pay a Stars charge back; True once Telegram has (or had already) paid it back."""
        return await self.carrier.refund_stars(user_id, charge_id) is Outcome.SENT

    async def cancel_stars_subscription(self, user_id: int, charge_id: str) -> Outcome:
        """Stop a Stars subscription renewing: SENT once Telegram confirmed it, REJECTED if
        Telegram knows no such subscription to stop, RETRY if it could not be asked."""
        return await self.carrier.cancel_star_subscription(user_id, charge_id)

    async def star_transactions(
        self, *, offset: int, limit: int
    ) -> Sequence[StarTransaction] | None:
        """Read one page of the bot's Stars ledger (None if Telegram did not answer)."""
        return await self.carrier.star_transactions(offset=offset, limit=limit)

    async def _remember(self, chat_id: int, message_id: int) -> None:
        if chat_id <= 0:
            return  # a group (the staff chat): nothing to hide there
        try:
            async with self.sessions.begin() as session:
                await safety.record_sent(session, chat_id, message_id, now=self.clock.now())
        except (SQLAlchemyError, OSError) as error:
            # The message is out already; failing the caller over this would help nobody.
            if is_unavailable(error):
                self.outage.failed(error)
                return
            log.warning("could not note a sent message for discreet mode: %s", type(error).__name__)

    async def _park(self, chat_id: int) -> None:
        if chat_id <= 0:
            return
        try:
            async with self.sessions.begin() as session:
                # In a private chat the chat id is the person's id.
                user = await session.get(User, chat_id)
                if user is not None:
                    await mark_unreachable(session, user, now=self.clock.now())
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not park a person who blocked the bot: %s", type(error).__name__)

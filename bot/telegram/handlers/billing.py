"""/subscribe, /subscription, Telegram Stars checkout and payments, and the notice tick."""

from __future__ import annotations

import html
import logging
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot.billing import entitlements
from bot.billing import payments as billing
from bot.billing.buttons import ConfirmStop, KeepRenewal, StopRenewal, Subscribe
from bot.billing.settlement import messages_for
from bot.core.errors import DomainError
from bot.outbox.messages import Invoice
from bot.settings import Settings
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers.replies import (
    Button,
    locale_of,
    reply,
    send,
    settle_button,
    text,
)

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def signing_key(settings: Settings) -> bytes:
    """Return the key invoice payloads are signed with (see PAYMENT_SIGNING_SECRET)."""
    assert settings.telegram_bot_token is not None
    secret = settings.payment_signing_secret
    return billing.signing_key(
        secret.get_secret_value() if secret is not None else None,
        settings.telegram_bot_token.get_secret_value(),
    )


def _plain(context: BotContext, key: str, *, locale: str | None, **values: Any) -> str:
    # Invoice fields and checkout errors are plain text for Telegram, so undo the escaping.
    return html.unescape(text(context, key, locale=locale, **values))


async def subscribe(update: Update, context: BotContext, _: Subscribe | None = None) -> None:
    """Handle /subscribe and the Subscribe buttons: offer a Stars invoice for the couple."""
    if update.callback_query is not None:
        await settle_button(update, context)
    user = update.effective_user
    assert user is not None
    settings = context.services.settings
    try:
        async with context.services.sessions.begin() as session:
            offer = await billing.offer(
                session,
                user.id,
                now=context.services.clock.now(),
                price=settings.subscription_price_stars,
                key=signing_key(settings),
                default_zone=settings.default_timezone,
                policy=context.services.policy,
            )
    except DomainError as problem:
        # The button was answered above; a press can't get an alert after that.
        await reply(update, context, problem.key, **problem.values)
        return
    locale = locale_of(context)
    chat = update.effective_chat
    assert chat is not None
    invoice = Invoice(
        title=_plain(context, "billing.invoice_title", locale=locale),
        description=_plain(
            context,
            "billing.invoice_description",
            locale=locale,
            partner=offer.partner,
            price=offer.amount,
        ),
        payload=offer.payload,
        price_label=_plain(context, "billing.price_label", locale=locale),
        amount=offer.amount,
        currency=billing.CURRENCY,
        subscription_period=billing.PERIOD_SECONDS,
    )
    link = await context.services.outbox.invoice_link(invoice, chat_id=chat.id)
    if link is None:
        await reply(update, context, "billing.offer_failed")
        return
    await reply(
        update,
        context,
        "billing.offer",
        rows=[[Button("pay_stars", url=link, values={"price": offer.amount})]],
        partner=offer.partner,
        price=offer.amount,
        trial_days_left=offer.trial_days_left,
    )


async def subscription(update: Update, context: BotContext) -> None:
    """Handle /subscription: the trial or subscription, and stopping renewal."""
    user = update.effective_user
    assert user is not None
    settings = context.services.settings
    async with context.services.sessions.begin() as session:
        view = await billing.overview(
            session,
            user.id,
            now=context.services.clock.now(),
            price=settings.subscription_price_stars,
            default_zone=settings.default_timezone,
            policy=context.services.policy,
        )
    rows: list[list[Button]] = []
    if view.paired and view.state != entitlements.State.PAID:
        rows.append([Button("subscribe", Subscribe(), values={"price": view.price})])
    if view.own_subscription_id is not None and view.own_renewing:
        rows.append([Button("stop_renewal", StopRenewal(view.own_subscription_id))])
    await reply(update, context, "billing.overview", rows=rows, view=view)


async def ask_stop(update: Update, context: BotContext, pressed: StopRenewal) -> None:
    """Handle Stop renewal: ask before stopping."""
    user = update.effective_user
    assert user is not None
    subscription_id = pressed.subscription_id
    async with context.services.sessions.begin() as session:
        target = await billing.renewal_to_stop(
            session,
            user.id,
            subscription_id,
            now=context.services.clock.now(),
            default_zone=context.services.settings.default_timezone,
        )
    await settle_button(update, context)
    rows = [
        [Button("stop_renewal_confirm", ConfirmStop(subscription_id))],
        [Button("keep_renewal", KeepRenewal())],
    ]
    await reply(update, context, "billing.stop_confirm", rows=rows, until=target.paid_until)


async def stop(update: Update, context: BotContext, pressed: ConfirmStop) -> None:
    """Handle Yes, stop renewal: Telegram is asked first, then it is recorded."""
    user = update.effective_user
    assert user is not None
    subscription_id = pressed.subscription_id
    async with context.services.sessions.begin() as session:
        await billing.renewal_to_stop(
            session,
            user.id,
            subscription_id,
            now=context.services.clock.now(),
            default_zone=context.services.settings.default_timezone,
        )
    await settle_button(update, context)
    until = await context.services.settlement.stop_renewal(user.id, subscription_id)
    if until is None:
        await reply(update, context, "billing.stop_failed")
        return
    await reply(update, context, "billing.renewal_stopped", until=until)


async def keep(update: Update, context: BotContext, _: KeepRenewal) -> None:
    """Handle Keep it: nothing changes."""
    await settle_button(update, context)
    await reply(update, context, "billing.renewal_kept")


async def pre_checkout(update: Update, context: BotContext) -> None:
    """Approve or decline a payment within Telegram's 10 seconds."""
    query = update.pre_checkout_query
    assert query is not None
    settings = context.services.settings
    try:
        async with context.services.sessions.begin() as session:
            await billing.check_checkout(
                session,
                query.from_user.id,
                query.invoice_payload,
                query.currency,
                query.total_amount,
                now=context.services.clock.now(),
                key=signing_key(settings),
                default_zone=settings.default_timezone,
                policy=context.services.policy,
            )
    except DomainError as problem:
        # Checkout has no chat to answer in: Telegram shows the reason on the payment form.
        locale = locale_of(context)
        reason = _plain(context, problem.key, locale=locale, **problem.values)
        await query.answer(ok=False, error_message=reason)
        return
    await query.answer(ok=True)


async def paid(update: Update, context: BotContext) -> None:
    """Record a successful payment once, then thank the payer and tell the partner."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.successful_payment is not None and user is not None
    payment = message.successful_payment
    charge = billing.Charge(
        currency=payment.currency,
        amount=payment.total_amount,
        payload=payment.invoice_payload,
        charge_id=payment.telegram_payment_charge_id,
        provider_charge_id=payment.provider_payment_charge_id,
        expires_at=payment.subscription_expiration_date,
        recurring=bool(payment.is_recurring),
        first_recurring=bool(payment.is_first_recurring),
    )
    settled = await context.services.settlement.record(user.id, charge)
    recorded = settled.recorded
    if recorded.outcome == billing.Outcome.REPLAYED:
        log.info("update %s: payment %s is already recorded", update.update_id, charge.charge_id)
        return
    if recorded.outcome == billing.Outcome.REJECTED:
        log.error(
            "update %s: payment %s was not accepted (%s)",
            update.update_id,
            charge.charge_id,
            recorded.reason,
        )
    chat = update.effective_chat
    assert chat is not None
    for say in messages_for(settled, chat_id=chat.id, locale=locale_of(context)):
        await send(
            context, say.chat_id, say.key, locale=say.locale, notify=say.notify, **say.values
        )


async def refund(application: AnyApplication, charge_id: str) -> billing.Refunded | None:
    """Refund a recorded charge for an operator; None if Telegram would not."""
    return await services_of(application).settlement.refund(charge_id)


async def notify_refund(application: AnyApplication, done: billing.Refunded) -> None:
    """Tell the payer a refund was made (for an operator's refund)."""
    await services_of(application).settlement.tell_refunded(done)


async def reconcile(context: BotContext) -> None:
    """Record, or pay back, Stars charges the bot never heard of (at start, then regularly)."""
    report = await context.services.settlement.reconcile()
    log.info(
        "Stars ledger checked: %d entries read, %d recorded, %d refunded%s",
        report.read,
        report.recorded,
        report.refunded,
        " (incomplete)" if report.failed else "",
    )


async def tick(context: BotContext) -> None:
    """Send the trial and subscription notices that are due."""
    report = await context.services.notices.tick()
    if report.claimed or report.planned:
        log.info(
            "billing notices: planned %d, claimed %d, sent %d, dropped %d, postponed %d",
            report.planned,
            report.claimed,
            report.sent,
            report.dropped,
            report.postponed,
        )


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the billing handlers and start the notice tick."""
    services = services_of(application)
    private = filters.ChatType.PRIVATE
    # Checkout answers can't wait behind anything else: Telegram gives them 10 seconds.
    application.add_handler(PreCheckoutQueryHandler(pre_checkout))
    application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT & private, paid))
    application.add_handler(CommandHandler("subscribe", subscribe, filters=private))
    application.add_handler(CommandHandler("subscription", subscription, filters=private))
    application.add_handler(ButtonHandler(Subscribe, subscribe))
    application.add_handler(ButtonHandler(StopRenewal, ask_stop))
    application.add_handler(ButtonHandler(ConfirmStop, stop))
    application.add_handler(ButtonHandler(KeepRenewal, keep))
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        tick, interval=services.settings.nudge_tick_seconds, first=1.5, name="billing-notices"
    )
    # Payments that arrived while the bot was down, or whose update was lost, are found here.
    every = services.settings.stars_reconcile_seconds
    if every:
        application.job_queue.run_repeating(reconcile, interval=every, first=2, name="stars-ledger")
    else:
        application.job_queue.run_once(reconcile, when=2, name="stars-ledger")

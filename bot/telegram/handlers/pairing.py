"""/start, invites, accepting or declining them, and /unpair."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot.core.errors import DomainError
from bot.people import conversation, pairing
from bot.people import profiles as people
from bot.people.buttons import (
    InviteAnswer,
    NewInvite,
    RevokeInvite,
    SettingsChoice,
    UnpairConfirm,
    UnpairKeep,
)
from bot.people.profiles import profile_of
from bot.safety import signals as safety
from bot.safety.signals import recipient_of
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext
from bot.telegram.handlers.help import OpenHelp
from bot.telegram.handlers.profile import continue_onboarding
from bot.telegram.handlers.replies import (
    Button,
    locale_of,
    reply,
    settle_button,
    text,
)
from bot.telegram.handlers.safety import notify, notify_if_reachable


async def _register(update: Update, context: BotContext) -> people.Profile:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    async with context.services.sessions.begin() as session:
        stored = await people.register(
            session,
            user_id=user.id,
            chat_id=chat.id,
            telegram_name=user.full_name,
            username=user.username,
            locale=locale_of(context),
            now=context.services.clock.now(),
            rhythm=context.services.rhythm,
        )
        return profile_of(stored)


async def start(update: Update, context: BotContext) -> None:
    """Handle /start, with or without an invite in the deep link."""
    profile = await _register(update, context)
    payload = context.args[0] if context.args else ""
    if pairing.is_invite_payload(payload):
        opened = await _open_invite(update, context, profile, payload)
        if opened or profile.onboarded:
            return
        # A newcomer whose link didn't work still gets to know the bot.
    if not profile.onboarded:
        await reply(update, context, "start.welcome", name=profile.telegram_name)
        await continue_onboarding(update, context, profile.user_id)
        return
    async with context.services.sessions.begin() as session:
        await conversation.forget(session, profile.user_id)
        paused = await safety.exercises_paused(session, profile.couple_id)
    rows = [[Button("settings", SettingsChoice("open"))], [Button("help", OpenHelp())]]
    if profile.couple_id is None:
        rows.insert(0, [Button("invite_partner", NewInvite())])
    await reply(
        update,
        context,
        "start.welcome_back",
        rows=rows,
        profile=profile,
        paired=profile.couple_id is not None,
    )
    if paused:
        # Neutral on purpose: either partner sees the same words, and never the reason.
        await reply(update, context, "safety.paused_notice")


async def _open_invite(
    update: Update, context: BotContext, profile: people.Profile, payload: str
) -> bool:
    """Show the invite behind a link with Accept and Decline; tell whether there was one."""
    settings, now = context.services.settings, context.services.clock.now()
    async with context.services.sessions.begin() as session:
        # A bad code is counted towards the throttle, so this transaction commits even
        # when the invite cannot be used.
        try:
            preview = await pairing.open_invite(
                session,
                profile.user_id,
                payload,
                now=now,
                bad_code_limit=settings.bad_code_limit,
                bad_code_window=timedelta(minutes=settings.bad_code_window_minutes),
            )
            problem = None
        except DomainError as error:
            problem = error
    if problem is not None:
        await reply(update, context, problem.key, **problem.values)
        return False
    rows = [
        [Button("accept", InviteAnswer("acc", preview.invite_id))],
        [Button("decline", InviteAnswer("dec", preview.invite_id))],
    ]
    await reply(update, context, "pairing.invite_preview", rows=rows, inviter=preview.inviter_name)
    return True


def invite_link(bot_username: str, payload: str) -> str:
    """Build the deep link that opens the bot with an invite."""
    return f"https://t.me/{bot_username}?start={payload}"


async def invite(update: Update, context: BotContext, _: NewInvite | None = None) -> None:
    """Make a new invite link (via /invite or the button)."""
    if update.callback_query is not None:
        await settle_button(update, context, keep=True)
    user = update.effective_user
    assert user is not None
    settings = context.services.settings
    try:
        async with context.services.sessions.begin() as session:
            made = await pairing.create_invite(
                session,
                user.id,
                now=context.services.clock.now(),
                ttl=timedelta(hours=settings.invite_ttl_hours),
            )
    except DomainError as problem:
        # The button was answered above; a press can't get an alert after that.
        await reply(update, context, problem.key, **problem.values)
        return
    link = invite_link(context.bot.username, made.payload)
    share_text = text(context, "pairing.share_text", locale=locale_of(context))
    share = f"https://t.me/share/url?url={quote(link, safe='')}&text={quote(share_text)}"
    rows = [[Button("share_invite", url=share)], [Button("revoke_invite", RevokeInvite())]]
    await reply(
        update,
        context,
        "pairing.invite_created",
        rows=rows,
        link=link,
        hours=settings.invite_ttl_hours,
    )


async def revoke(update: Update, context: BotContext, _: RevokeInvite | None = None) -> None:
    """Cancel the open invite (via /revoke or the button)."""
    if update.callback_query is not None:
        await settle_button(update, context)
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        had = await pairing.revoke_invite(session, user.id, now=context.services.clock.now())
    await reply(update, context, "pairing.invite_revoked_by_you", had=had)


async def answer_invite(update: Update, context: BotContext, pressed: InviteAnswer) -> None:
    """Handle Accept or Decline on an invite preview."""
    user = update.effective_user
    assert user is not None
    now, invite_id = context.services.clock.now(), pressed.invite_id
    async with context.services.sessions.begin() as session:
        if pressed.answer == "acc":
            result: pairing.Paired | pairing.Declined = await pairing.accept(
                session, user.id, invite_id, now=now, rhythm=context.services.rhythm
            )
        else:
            result = await pairing.decline(session, user.id, invite_id, now=now)
    await settle_button(update, context)
    # The person who pressed hears first; an inviter who blocked the bot since making the
    # invite is parked by the outbox and changes nothing for them.
    if isinstance(result, pairing.Declined):
        await reply(update, context, "pairing.declined_by_you")
        await notify_if_reachable(context, recipient_of(result.inviter), "pairing.declined_notice")
        return
    inviter, invitee = profile_of(result.inviter), profile_of(result.invitee)
    # "Your nudges start at your next morning time" only for someone who has chosen one.
    await reply(update, context, "pairing.paired", partner=inviter.name, ready=invitee.onboarded)
    await notify_if_reachable(
        context,
        recipient_of(result.inviter),
        "pairing.paired",
        partner=invitee.name,
        ready=inviter.onboarded,
    )
    if not invitee.onboarded:
        await continue_onboarding(update, context, invitee.user_id)


async def unpair(update: Update, context: BotContext) -> None:
    """Handle /unpair: ask for confirmation first."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        stored = await people.require(session, user.id)
        partner = await people.partner_of(session, stored)
    if stored.couple_id is None or partner is None:
        await reply(
            update, context, "pairing.not_paired", rows=[[Button("invite_partner", NewInvite())]]
        )
        return
    rows = [
        [Button("unpair_confirm", UnpairConfirm(stored.couple_id))],
        [Button("unpair_keep", UnpairKeep())],
    ]
    await reply(
        update, context, "pairing.unpair_confirm", rows=rows, partner=profile_of(partner).name
    )


async def keep_couple(update: Update, context: BotContext, _: UnpairKeep) -> None:
    """Handle "keep" on the /unpair confirmation."""
    await settle_button(update, context)
    await reply(update, context, "pairing.unpair_kept")


async def confirm_unpair(update: Update, context: BotContext, pressed: UnpairConfirm) -> None:
    """Handle "yes, unpair" on the /unpair confirmation."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        partner = await pairing.unpair(
            session,
            user.id,
            pressed.couple_id,
            now=context.services.clock.now(),
            rhythm=context.services.rhythm,
        )
    await settle_button(update, context)
    await reply(update, context, "pairing.unpaired", rows=[[Button("invite_partner", NewInvite())]])
    if partner is not None:
        await notify(context, recipient_of(partner), "pairing.unpaired_notice")


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the pairing handlers."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("start", start, filters=private))
    application.add_handler(CommandHandler("invite", invite, filters=private))
    application.add_handler(CommandHandler("revoke", revoke, filters=private))
    application.add_handler(CommandHandler("unpair", unpair, filters=private))
    application.add_handler(ButtonHandler(NewInvite, invite))
    application.add_handler(ButtonHandler(RevokeInvite, revoke))
    application.add_handler(ButtonHandler(InviteAnswer, answer_invite))
    application.add_handler(ButtonHandler(UnpairConfirm, confirm_unpair))
    application.add_handler(ButtonHandler(UnpairKeep, keep_couple))

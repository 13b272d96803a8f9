"""/counsellor intake, /requests, and the counsellors' staff chat: claim, resolve, reply."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Message, Update
from telegram.ext import (
    Application,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.content.safety import load_topics
from bot.core.errors import DomainError
from bot.db.safety import PostKind, RequestStatus
from bot.outbox.messages import Edit, Outgoing, Priority
from bot.outbox.runner import Runner, Sent, each
from bot.people.conversation import Awaiting
from bot.people.profiles import require
from bot.safety import counsellor
from bot.safety.buttons import (
    CounsellorReply,
    CounsellorStart,
    CounsellorStartForMe,
    IntakeCancel,
    IntakeChoice,
    IntakeSend,
    IntakeSkip,
    StaffAction,
)
from bot.safety.counsellor import Card, Due, IntakeStep, Thread
from bot.safety.signals import Recipient
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers.replies import (
    Button,
    Rows,
    Undelivered,
    keyboard,
    locale_of,
    reply,
    send,
    settle_button,
    text,
)
from bot.telegram.handlers.safety import crisis_values, notify

log = logging.getLogger(__name__)
# The conversation states whose typed messages on_text takes.
STATES = (counsellor.INTAKE, counsellor.REPLYING)
# Room for the label around a counsellor's words within Telegram's 4096 characters.
STAFF_TEXT_MAX_LENGTH = 3500


def _topics(context: BotContext, locale: str | None) -> dict[str, str]:
    settings = context.services.settings
    loaded = load_topics(settings.content_dir, locale, settings.default_locale)
    return {topic.id: topic.label for topic in loaded.topics}


def _label(context: BotContext, step: str, value: str | None, locale: str | None) -> str:
    if value is None:
        return ""
    if step == "topic":
        return _topics(context, locale).get(value, value)
    return text(context, f"buttons.counsellor_{step}", locale=locale, value=value)


def _local_time(context: BotContext, zone: str | None) -> tuple[str | None, str | None]:
    """Return the requester's time now and its offset from UTC, e.g. ("21:05", "UTC+1")."""
    if zone is None:
        return None, None
    try:
        local = context.services.clock.now().astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return None, None
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return local.strftime("%H:%M"), f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _card_values(context: BotContext, card: Card) -> dict[str, Any]:
    locale = context.services.settings.staff_locale
    # Only the time and offset, not the zone's name: an anonymous request stays hard to place.
    local_time, utc_offset = _local_time(context, card.timezone)
    return {
        "local_time": local_time,
        "utc_offset": utc_offset,
        "number": card.request_id,
        "topic": _label(context, "topic", card.topic, locale),
        "for_us": card.for_whom == "us",
        "tell_partner": card.tell_partner,
        "urgency": _label(context, "urgency", card.urgency, locale),
        "way": _label(context, "way", card.contact_way, locale),
        "time": _label(context, "time", card.contact_time, locale),
        "message": card.message,
        "name": card.name,
        "username": card.username,
        "status": card.status,
        "claimed_by": card.claimed_by,
        "resolved_by": card.resolved_by,
        "created_at": card.created_at,
    }


def _card_rows(card: Card) -> Rows:
    claim = Button("counsellor_claim", StaffAction("claim", card.request_id, card.stamp))
    resolve = Button("counsellor_resolve", StaffAction("resolve", card.request_id, card.stamp))
    if card.status == RequestStatus.OPEN:
        return [[claim, resolve]]
    if card.status == RequestStatus.CLAIMED:
        return [[resolve]]
    return []


async def _post_staff(
    context: BotContext,
    chat_id: int,
    key: str,
    *,
    rows: Rows | None = None,
    reply_to: int | None = None,
    **values: Any,
) -> int:
    locale = context.services.settings.staff_locale
    return await send(context, chat_id, key, rows=rows, locale=locale, reply_to=reply_to, **values)


async def _refresh_card(context: BotContext, card: Card) -> None:
    """Show a request's new state on its card in the staff chat."""
    if card.staff_chat_id is None or card.staff_message_id is None:
        return
    locale = context.services.settings.staff_locale
    rows = _card_rows(card)
    body = text(context, "counsellor.staff_card", locale=locale, **_card_values(context, card))
    await context.services.outbox.edit(
        Edit(
            card.staff_chat_id,
            card.staff_message_id,
            text=body,
            buttons=keyboard(context, rows, locale=locale) if rows else (),
        )
    )
    if card.status == RequestStatus.OPEN:
        return
    # Reminders offer Claim and Resolve too: once someone acted, only the card keeps buttons.
    async with context.services.sessions.begin() as session:
        reminders = await counsellor.reminders_of(session, card.request_id)
    for chat_id, message_id in reminders:
        await context.services.outbox.edit(Edit(chat_id, message_id, text=None, buttons=()))


# The intake -------------------------------------------------------------------------------


async def _ask(update: Update, context: BotContext, step: IntakeStep) -> None:
    locale = locale_of(context)
    cancel = [Button("counsellor_cancel", IntakeCancel())]
    if step.step == "topic":
        topics = _topics(context, locale)
        rows: list[list[Button]] = [
            [Button("counsellor_topic", IntakeChoice("topic", topic_id), values={"label": label})]
            for topic_id, label in topics.items()
        ]
        await reply(update, context, "counsellor.ask_topic", rows=[*rows, cancel])
    elif step.step in counsellor.CHOICES:
        rows = [
            [
                Button(
                    f"counsellor_{step.step}",
                    IntakeChoice(step.step, value),
                    values={"value": value},
                )
                for value in counsellor.CHOICES[step.step]
            ]
        ]
        if step.step in ("time", "urgency"):
            rows = [[button] for button in rows[0]]
        await reply(
            update,
            context,
            f"counsellor.ask_{step.step}",
            rows=[*rows, cancel],
            partner=step.partner_name or "",
        )
    elif step.step == "message":
        await reply(
            update,
            context,
            "counsellor.ask_message",
            rows=[[Button("counsellor_skip_message", IntakeSkip())], cancel],
            limit=counsellor.MESSAGE_MAX_LENGTH,
        )
    else:
        await _review(update, context, step)


async def _review(update: Update, context: BotContext, step: IntakeStep) -> None:
    user = update.effective_user
    assert user is not None
    locale = locale_of(context)
    answers = step.answers
    async with context.services.sessions.begin() as session:
        zone = (await require(session, user.id)).timezone
    rows = [
        [Button("counsellor_send_named", IntakeSend("named"))],
        [Button("counsellor_send_anon", IntakeSend("anon"))],
        [Button("counsellor_cancel", IntakeCancel())],
    ]
    await reply(
        update,
        context,
        "counsellor.review",
        rows=rows,
        topic=_label(context, "topic", answers.get("topic"), locale),
        for_us=answers.get("for") == "us",
        tell=answers.get("tell") == "yes",
        partner=step.partner_name or "",
        urgency=_label(context, "urgency", answers.get("urgency"), locale),
        way=_label(context, "way", answers.get("way"), locale),
        time=_label(context, "time", answers.get("time"), locale),
        message=answers.get("message"),
        **crisis_values(context, zone),
    )


async def start_intake(
    update: Update,
    context: BotContext,
    pressed: CounsellorStart | CounsellorStartForMe | None = None,
) -> None:
    """Handle /counsellor and the "Talk to a counsellor" buttons."""
    user = update.effective_user
    assert user is not None
    for_whom = "me" if isinstance(pressed, CounsellorStartForMe) else None
    if update.callback_query is not None:
        # Offered in menus (/help, /safety): the other entries stay usable.
        await settle_button(update, context, keep=True)
    try:
        async with context.services.sessions.begin() as session:
            step = await counsellor.begin_intake(
                session, user.id, now=context.services.clock.now(), for_whom=for_whom
            )
    except DomainError as problem:
        # The button was answered above; a press can't get an alert after that.
        await reply(update, context, problem.key, **problem.values)
        return
    await reply(update, context, "counsellor.intro", for_me=for_whom == "me")
    await _ask(update, context, step)


async def intake_choice(update: Update, context: BotContext, pressed: IntakeChoice) -> None:
    """Take a button answer to an intake question."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        asked = await counsellor.choose(
            session,
            user.id,
            pressed.step,
            pressed.value,
            topics=_topics(context, locale_of(context)).keys(),
            now=context.services.clock.now(),
        )
    await settle_button(update, context)
    await _ask(update, context, asked)


async def intake_skip(update: Update, context: BotContext, _: IntakeSkip) -> None:
    """Skip the optional short message."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        asked = await counsellor.set_message(
            session, user.id, None, now=context.services.clock.now()
        )
    await settle_button(update, context)
    await _ask(update, context, asked)


async def intake_cancel(update: Update, context: BotContext, _: IntakeCancel) -> None:
    """Drop the intake; nothing is stored."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        await counsellor.cancel_intake(session, user.id)
    await settle_button(update, context)
    await reply(update, context, "counsellor.cancelled")


async def submit(update: Update, context: BotContext, pressed: IntakeSend) -> None:
    """Store the request (the press is the consent) and post it to the staff chat."""
    user = update.effective_user
    assert user is not None
    settings, now = context.services.settings, context.services.clock.now()
    chat_id = settings.counsellor_chat_id
    async with context.services.sessions.begin() as session:
        submitted = await counsellor.submit(
            session,
            user.id,
            share_identity=pressed.identity == "named",
            topics=_topics(context, locale_of(context)).keys(),
            now=now,
            announce_at=context.services.staff_announcing.first_at(
                now, staff_chat=chat_id is not None
            ),
        )
        card = await counsellor.card(session, submitted.request_id)
    await settle_button(update, context)
    log.info("counsellor request %d submitted", submitted.request_id)
    if chat_id is not None and card is not None:
        await _announce(context, chat_id, [Due(card, posted_here=False)], Priority.REPLY)
    await reply(
        update,
        context,
        "counsellor.submitted",
        number=submitted.request_id,
        staff_chat=chat_id is not None,
        contact=settings.remainly_contact,
    )
    if submitted.tell is not None:
        await notify(
            context, submitted.tell, "counsellor.partner_told", name=submitted.requester_name
        )


def _announcement(context: BotContext, chat_id: int, due: Due, priority: Priority) -> Outgoing:
    """Compose a request's card for the staff chat, or a reminder under the card posted there."""
    locale = context.services.settings.staff_locale
    card, rows = due.card, _card_rows(due.card)
    if due.posted_here:
        waited = due.waited_minutes
        key, reply_to = "counsellor.staff_reminder", card.staff_message_id
        values: dict[str, Any] = {
            "number": card.request_id,
            "hours": waited // 60,
            "minutes": waited % 60,
        }
    else:
        key, reply_to, values = "counsellor.staff_card", None, _card_values(context, card)
    return Outgoing(
        chat_id,
        text(context, key, locale=locale, **values),
        keyboard(context, rows, locale=locale) if rows else (),
        reply_to=reply_to,
        priority=priority,
    )


async def _announce(
    context: BotContext, chat_id: int, due: Sequence[Due], priority: Priority = Priority.BULK
) -> None:
    """Post requests' cards (or reminders) through the outbox's runner and record each post."""
    now, announcing = context.services.clock.now(), context.services.staff_announcing

    async def record(session: AsyncSession, posts: Sequence[Sent[Due]]) -> None:
        for post in posts:
            request_id = post.item.card.request_id
            if post.result.sent and post.result.message_id is not None:
                await counsellor.mark_announced(
                    session,
                    post.item,
                    chat_id=chat_id,
                    message_id=post.result.message_id,
                    now=now,
                    announcing=announcing,
                )
                continue
            log.warning(
                "could not post request %d to the staff chat: %s",
                request_id,
                post.result.outcome.value,
            )
            await counsellor.announce_later(session, request_id, now=now, announcing=announcing)

    runner: Runner[Due] = Runner(
        sessions=context.services.sessions,
        sender=context.services.outbox.carrier,
        message_of=lambda item: _announcement(context, chat_id, item, priority),
        record=record,
        what="staff announcement",
    )
    await runner.run(each(due))


async def announce(context: BotContext) -> None:
    """Post never-posted requests to the staff chat, and remind it of unclaimed ones."""
    settings = context.services.settings
    chat_id = settings.counsellor_chat_id
    if chat_id is None:
        return
    async with context.services.sessions.begin() as session:
        due = await counsellor.claim_due(
            session,
            chat_id=chat_id,
            now=context.services.clock.now(),
            announcing=context.services.staff_announcing,
        )
    if due:
        await _announce(context, chat_id, due)


async def on_text(update: Update, context: BotContext, waiting: Awaiting) -> None:
    """Take typed text for the intake's message, or a reply to the counsellor team."""
    if waiting.state == counsellor.REPLYING:
        await _requester_reply(update, context)
        return
    if waiting.data.get("step") != "message":
        await reply(update, context, "counsellor.intake.typed_instead")
        return
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    async with context.services.sessions.begin() as session:
        asked = await counsellor.set_message(
            session, user.id, message.text, now=context.services.clock.now()
        )
    await _ask(update, context, asked)


# /requests and the requester's side of the thread -----------------------------------------


async def requests_command(update: Update, context: BotContext) -> None:
    """Handle /requests: this person's own requests and where each stands."""
    user = update.effective_user
    assert user is not None
    async with context.services.sessions.begin() as session:
        await require(session, user.id)
        mine = await counsellor.requests_of(session, user.id)
    locale = locale_of(context)
    items = [
        {
            "number": item.request_id,
            "topic": _label(context, "topic", item.topic, locale),
            "for_us": item.for_whom == "us",
            "status": item.status,
            "created_at": item.created_at,
        }
        for item in mine
    ]
    rows = [
        [
            Button(
                "counsellor_reply",
                CounsellorReply(item.request_id),
                values={"number": item.request_id},
            )
        ]
        for item in mine
        if item.status == RequestStatus.CLAIMED
    ]
    rows.append([Button("counsellor", CounsellorStart())])
    await reply(update, context, "counsellor.requests", rows=rows, items=items)


async def reply_button(update: Update, context: BotContext, pressed: CounsellorReply) -> None:
    """Handle "Reply to the counsellor": the next typed message goes to the thread."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    number = pressed.request_id
    async with context.services.sessions.begin() as session:
        await counsellor.begin_reply(session, user.id, number, now=context.services.clock.now())
    await query.answer()
    await reply(
        update, context, "counsellor.ask_reply", number=number, limit=counsellor.REPLY_MAX_LENGTH
    )


async def _requester_reply(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    async with context.services.sessions.begin() as session:
        thread = await counsellor.take_reply(
            session, user.id, message.text, now=context.services.clock.now()
        )
    await _relay_to_team(update, context, thread, message.text)


async def write_to_team(update: Update, context: BotContext) -> bool:
    """Send a requester's typed message to the team, if it is meant for them; tell if it was.

    A reply (swipe) to one of the team's messages goes to that request's thread; any other
    text from someone with a request still open goes to their newest one.
    """
    message, user = update.effective_message, update.effective_user
    if message is None or message.text is None or user is None:
        return False
    replied = message.reply_to_message
    async with context.services.sessions.begin() as session:
        request_id = None
        if replied is not None:
            request_id = await counsellor.thread_of_post(
                session, user.id, message.chat_id, replied.message_id
            )
        if request_id is None and not (replied is not None and _is_ours(context, replied)):
            request_id = await counsellor.active_request_of(session, user.id)
        if request_id is None:
            return False
        thread = await counsellor.take_message(session, user.id, request_id, message.text)
    await _relay_to_team(update, context, thread, message.text)
    return True


def _is_ours(context: BotContext, message: Message) -> bool:
    sender = message.from_user
    return sender is not None and sender.id == context.bot.id


async def _relay_to_team(update: Update, context: BotContext, thread: Thread, words: str) -> None:
    settings, now = context.services.settings, context.services.clock.now()
    chat_id = settings.counsellor_chat_id
    if chat_id is None:
        await reply(update, context, "counsellor.reply_not_sent", contact=settings.remainly_contact)
        return
    same_chat = thread.staff_chat_id == chat_id
    posted = await _post_staff(
        context,
        chat_id,
        "counsellor.from_requester",
        reply_to=thread.staff_message_id if same_chat else None,
        number=thread.request_id,
        text=words.strip(),
    )
    async with context.services.sessions.begin() as session:
        await counsellor.record_post(
            session,
            thread.request_id,
            PostKind.FROM_REQUESTER,
            chat_id=chat_id,
            message_id=posted,
            now=now,
        )
    await reply(
        update,
        context,
        "counsellor.reply_sent",
        rows=[
            [
                Button(
                    "counsellor_reply",
                    CounsellorReply(thread.request_id),
                    values={"number": thread.request_id},
                )
            ]
        ],
    )


# The staff chat ---------------------------------------------------------------------------


async def staff_button(update: Update, context: BotContext, press: StaffAction) -> None:
    """Handle Claim and Resolve; only configured staff may press them, wherever they are."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    action = press.action
    settings = context.services.settings
    act = counsellor.claim if action == "claim" else counsellor.resolve
    async with context.services.sessions.begin() as session:
        changed = await act(
            session,
            press.request_id,
            stamp=press.stamp,
            staff_id=user.id,
            staff_name=user.full_name,
            staff=settings.counsellor_staff,
            now=context.services.clock.now(),
        )
    log.info(
        "counsellor request %d: %s",
        press.request_id,
        "claimed" if action == "claim" else "resolved",
    )
    card = changed.card
    pressed = query.message
    if isinstance(pressed, Message) and pressed.message_id != card.staff_message_id:
        await settle_button(update, context)
    else:
        await query.answer()
    await _refresh_card(context, card)
    key = "counsellor.picked_up" if action == "claim" else "counsellor.resolved_notice"
    await _tell_requester(context, changed.requester, key, number=card.request_id)


async def _tell_requester(context: BotContext, to: Recipient, key: str, **values: Any) -> bool:
    try:
        await notify(context, to, key, **values)
    except Undelivered:
        return False
    return True


async def staff_reply(update: Update, context: BotContext) -> None:
    """Relay a counsellor's reply to a request's message in the staff chat to the requester."""
    message, user = update.effective_message, update.effective_user
    settings = context.services.settings
    if message is None or user is None or message.chat_id != settings.counsellor_chat_id:
        return
    replied = message.reply_to_message
    if replied is None or message.text is None:
        return
    async with context.services.sessions.begin() as session:
        request_id = await counsellor.request_of_post(session, message.chat_id, replied.message_id)
    if request_id is None:
        if _is_ours(context, replied) and user.id in settings.counsellor_staff:
            # Every bot message here belonged to a request; its thread went with its requester.
            await _post_staff(
                context, message.chat_id, "counsellor.requester_left", reply_to=message.message_id
            )
        return  # a reply to something else in the staff chat: not ours to relay
    now = context.services.clock.now()
    try:
        if len(message.text) > STAFF_TEXT_MAX_LENGTH:
            raise DomainError("counsellor.staff_too_long", limit=STAFF_TEXT_MAX_LENGTH)
        async with context.services.sessions.begin() as session:
            changed = await counsellor.staff_reply(
                session,
                request_id,
                staff_id=user.id,
                staff_name=user.full_name,
                staff=settings.counsellor_staff,
                now=now,
            )
    except DomainError as problem:
        # Said to the counsellor in the staff chat, under the reply that met the problem.
        said = await _post_staff(
            context, message.chat_id, problem.key, reply_to=message.message_id, **problem.values
        )
        # Part of the thread, so a reply to it is not taken for one to a request that left.
        async with context.services.sessions.begin() as session:
            await counsellor.record_post(
                session,
                request_id,
                PostKind.NOTE,
                chat_id=message.chat_id,
                message_id=said,
                now=now,
            )
        return
    if changed.newly_claimed:
        await _refresh_card(context, changed.card)
    number = changed.card.request_id
    rows = [[Button("counsellor_reply", CounsellorReply(number), values={"number": number})]]
    # Discreet mode holds a notification back until Show; a counsellor's words are then kept
    # only as where they are (this staff message), and copied from there on Show.
    discreet = changed.requester.discreet
    try:
        delivered = await notify(
            context,
            changed.requester,
            "counsellor.from_team",
            rows=rows,
            number=number,
            text=None if discreet else message.text,
            copy_from=(message.chat_id, message.message_id) if discreet else None,
        )
        key = "counsellor.relayed"
    except Undelivered:
        key, delivered = "counsellor.relay_failed", None
    if delivered is not None:
        # A swipe-reply to this message in the requester's chat finds its way back here.
        async with context.services.sessions.begin() as session:
            await counsellor.record_post(
                session,
                number,
                PostKind.TO_REQUESTER,
                chat_id=changed.requester.chat_id,
                message_id=delivered,
                now=now,
            )
    log.info("counsellor request %d: a counsellor's reply was relayed", number)
    note = await _post_staff(
        context, message.chat_id, key, reply_to=message.message_id, number=number
    )
    async with context.services.sessions.begin() as session:
        await counsellor.record_post(
            session,
            number,
            PostKind.NOTE,
            chat_id=message.chat_id,
            message_id=note,
            now=now,
        )


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the counsellor handlers and the job that (re)announces requests."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("counsellor", start_intake, filters=private))
    application.add_handler(CommandHandler("requests", requests_command, filters=private))
    application.add_handler(ButtonHandler(CounsellorStart, start_intake))
    application.add_handler(ButtonHandler(CounsellorStartForMe, start_intake))
    application.add_handler(ButtonHandler(IntakeChoice, intake_choice))
    application.add_handler(ButtonHandler(IntakeSkip, intake_skip))
    application.add_handler(ButtonHandler(IntakeCancel, intake_cancel))
    application.add_handler(ButtonHandler(IntakeSend, submit))
    application.add_handler(ButtonHandler(CounsellorReply, reply_button))
    application.add_handler(ButtonHandler(StaffAction, staff_button, anyone=True))
    # Replies in the staff chat; the chat and the sender are checked in the handler.
    application.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & filters.REPLY & filters.TEXT & ~filters.COMMAND,
            staff_reply,
        )
    )
    settings = services_of(application).settings
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        announce, interval=settings.nudge_tick_seconds, first=2.0, name="counsellor-announce"
    )

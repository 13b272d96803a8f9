"""People: who they are, what they like to be called, and when and where they live."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.errors import DomainError, StaleAction
from bot.db.models import User
from bot.nudges import schedules
from bot.nudges.schedules import Rhythm
from bot.nudges.timing import local_date_of
from bot.people.timezones import is_valid_timezone

NAME_MAX_LENGTH = 32
# Characters that reorder the text around them: in a name they can make the partner's
# messages read backwards, or disguise one name as another.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters that draw nothing (Hangul fillers, the blank Braille pattern): a name of these alone
# looks empty although it is not.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
TELEGRAM_NAME_MAX_LENGTH = 128
MAX_PAUSE_DAYS = 365


@dataclass(frozen=True)
class Profile:
    """The plain facts about a person that handlers render."""

    user_id: int
    chat_id: int
    name: str
    telegram_name: str
    chosen_name: bool
    username: str | None
    locale: str
    timezone: str | None
    morning_time: time | None
    evening_time: time | None
    couple_id: int | None
    onboarded: bool


def name_of(user: User) -> str:
    """Return what the bot and the partner call this person: the chosen name, else Telegram's."""
    return user.display_name or user.telegram_name


def zone_of(user: User, *, default: str) -> ZoneInfo:
    """Return this person's time zone, or `default` (DEFAULT_TIMEZONE) until they choose one.

    Everything shown or planned for someone without a zone yet (a partner who paired before
    finishing onboarding) uses the same configured default, never UTC in one place and the
    default in another.
    """
    return ZoneInfo(user.timezone or default)


async def partner_of(session: AsyncSession, user: User) -> User | None:
    """Return the partner of this person's current couple, if they have one."""
    if user.couple_id is None:
        return None
    result = await session.exec(
        select(User).where(User.couple_id == user.couple_id, User.id != user.id)
    )
    return result.first()


def profile_of(user: User) -> Profile:
    """Describe a stored person as plain values."""
    return Profile(
        user_id=user.id,
        chat_id=user.chat_id,
        name=name_of(user),
        telegram_name=user.telegram_name,
        chosen_name=user.display_name is not None,
        username=user.username,
        locale=user.locale,
        timezone=user.timezone,
        morning_time=user.morning_time,
        evening_time=user.evening_time,
        couple_id=user.couple_id,
        onboarded=user.onboarded_at is not None,
    )


def _visible(character: str) -> bool:
    category = unicodedata.category(character)
    return not (
        character.isspace() or category in ("Cc", "Cf", "Zl", "Zp") or character in BLANK_LETTERS
    )


def clean_name(text: str) -> str:
    """Return a display name typed by a person, or raise a friendly error."""
    name = " ".join(text.split())
    if any(character in BIDI_CONTROLS for character in name):
        raise DomainError("onboarding.name_direction", limit=NAME_MAX_LENGTH)
    if any(unicodedata.category(character) == "Cc" for character in name):
        raise DomainError("onboarding.name_invalid", limit=NAME_MAX_LENGTH)
    if not any(_visible(character) for character in name):
        # Empty, or only zero-width joiners, marks and fillers: nothing anyone could read.
        raise DomainError("onboarding.name_invisible", limit=NAME_MAX_LENGTH)
    if name.startswith("/"):
        raise DomainError("onboarding.name_invalid", limit=NAME_MAX_LENGTH)
    if len(name) > NAME_MAX_LENGTH:
        raise DomainError("onboarding.name_too_long", limit=NAME_MAX_LENGTH)
    return name


def offered_name(telegram_name: str) -> str | None:
    """Return the Telegram name to offer as a display name, shortened to whole words if long.

    None when no part of it would be accepted as typed (too long a first word, say).
    """
    try:
        return clean_name(telegram_name)
    except DomainError:
        pass
    words = telegram_name.split()
    for count in range(len(words) - 1, 0, -1):
        try:
            return clean_name(" ".join(words[:count]))
        except DomainError:
            continue
    return None


async def register(
    session: AsyncSession,
    *,
    user_id: int,
    chat_id: int,
    telegram_name: str,
    username: str | None,
    locale: str,
    now: datetime,
    rhythm: Rhythm,
) -> User:
    """Create or refresh the person behind a Telegram account."""
    user = await session.get(User, user_id)
    # Direction controls are dropped: the name is shown to the partner and to staff.
    shown = " ".join("".join(c for c in telegram_name if c not in BIDI_CONTROLS).split())
    if not any(_visible(character) for character in shown):
        shown = "friend"  # nothing anyone could read
    telegram_name = shown[:TELEGRAM_NAME_MAX_LENGTH]
    if user is None:
        user = User(
            id=user_id,
            chat_id=chat_id,
            telegram_name=telegram_name,
            username=username,
            locale=locale,
            created_at=now,
            updated_at=now,
        )
    else:
        user.chat_id, user.telegram_name, user.username = chat_id, telegram_name, username
        user.updated_at = now
    session.add(user)
    await session.flush()
    if user.unreachable_since is not None:
        # They are talking to us again, so they unblocked the bot: nudges resume.
        user.unreachable_since = None
        await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    return user


async def require(session: AsyncSession, user_id: int) -> User:
    """Return a known person, or ask them to start over with /start."""
    user = await session.get(User, user_id)
    if user is None:
        raise DomainError("errors.unknown_person")
    return user


async def with_partners(
    session: AsyncSession, user_ids: Collection[int]
) -> tuple[dict[int, User], dict[int, User]]:
    """Load these people and each one's current partner, in one query, by person id."""
    if not user_ids:
        return {}, {}
    wanted = set(user_ids)
    their_couples = select(User.couple_id).where(
        col(User.id).in_(wanted), col(User.couple_id).is_not(None)
    )
    result = await session.exec(
        select(User).where(or_(col(User.id).in_(wanted), col(User.couple_id).in_(their_couples)))
    )
    members: dict[int, list[User]] = {}
    people = {}
    for person in result.all():
        if person.id in wanted:
            people[person.id] = person
        if person.couple_id is not None:
            members.setdefault(person.couple_id, []).append(person)
    partners = {}
    for person in people.values():
        others = [m for m in members.get(person.couple_id or 0, []) if m.id != person.id]
        if others:
            partners[person.id] = others[0]
    return people, partners


async def existing_ids(session: AsyncSession, user_ids: Collection[int]) -> set[int]:
    """Return which of these people still exist, in one query."""
    if not user_ids:
        return set()
    result = await session.exec(select(User.id).where(col(User.id).in_(set(user_ids))))
    return set(result.all())


async def set_name(session: AsyncSession, user_id: int, name: str, *, now: datetime) -> User:
    """Change what the bot and the partner call this person."""
    user = await require(session, user_id)
    user.display_name, user.updated_at = clean_name(name), now
    session.add(user)
    return user


async def set_locale(session: AsyncSession, user_id: int, locale: str, *, now: datetime) -> User:
    """Change the language this person reads everything in."""
    user = await require(session, user_id)
    user.locale, user.updated_at = locale, now
    session.add(user)
    return user


async def set_timezone(
    session: AsyncSession, user_id: int, zone: str, *, now: datetime, rhythm: Rhythm
) -> User:
    """Change this person's IANA time zone."""
    if not is_valid_timezone(zone):
        raise DomainError("onboarding.timezone_unknown")
    user = await require(session, user_id)
    user.timezone, user.updated_at = zone, now
    session.add(user)
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    return user


async def set_nudge_time(
    session: AsyncSession, user_id: int, slot: str, at: time, *, now: datetime, rhythm: Rhythm
) -> User:
    """Change when this person's morning or evening nudge arrives (local time)."""
    user = await require(session, user_id)
    at = at.replace(second=0, microsecond=0)
    if slot == "morning":
        user.morning_time = at
    elif slot == "evening":
        user.evening_time = at
    else:
        raise ValueError(f"unknown nudge slot {slot!r}")
    user.updated_at = now
    session.add(user)
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    return user


async def finish_onboarding(
    session: AsyncSession, user_id: int, *, now: datetime, rhythm: Rhythm
) -> User:
    """Mark this person as set up, once."""
    user = await require(session, user_id)
    if user.onboarded_at is None:
        user.onboarded_at = now
    user.updated_at = now
    session.add(user)
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    return user


async def pause(
    session: AsyncSession, user_id: int, *, days: int | None, now: datetime, rhythm: Rhythm
) -> User:
    """Pause this person's nudges for some days, or until they resume (`days=None`)."""
    if days is not None and not 1 <= days <= MAX_PAUSE_DAYS:
        raise DomainError("nudges.pause_invalid", limit=MAX_PAUSE_DAYS)
    user = await require(session, user_id)
    user.paused_until = schedules.INDEFINITELY if days is None else now + timedelta(days=days)
    user.updated_at = now
    session.add(user)
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    return user


async def resume(session: AsyncSession, user_id: int, *, now: datetime, rhythm: Rhythm) -> bool:
    """Lift a pause; tell whether there was one."""
    user = await require(session, user_id)
    was_paused = user.paused_until is not None and user.paused_until > now
    user.paused_until, user.updated_at = None, now
    session.add(user)
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    return was_paused


async def skip_today(
    session: AsyncSession, user_id: int, *, now: datetime, rhythm: Rhythm, default_zone: str
) -> date:
    """Skip the rest of today's nudges (in this person's time zone); return that date."""
    user = await require(session, user_id)
    today = local_date_of(now, zone_of(user, default=default_zone))
    user.skip_date, user.updated_at = today, now
    session.add(user)
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    return today


async def toggle_day(
    session: AsyncSession, user_id: int, weekday: int, *, now: datetime, rhythm: Rhythm
) -> User:
    """Switch nudges on or off for one weekday (Monday = 0); at least one day stays on."""
    if not 0 <= weekday <= 6:
        raise StaleAction()
    user = await require(session, user_id)
    mask = user.nudge_days ^ (1 << weekday)
    if mask == 0:
        raise DomainError("nudges.last_day")
    user.nudge_days, user.updated_at = mask, now
    session.add(user)
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    return user

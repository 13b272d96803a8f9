"""The nudge engine: claim due schedule rows, compose each message once, send, record it."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import notices as billing_notices
from bot.billing.entitlements import Policy
from bot.closeness import expectations, leaning
from bot.content.library import Library
from bot.content.texts import Texts
from bot.core.clock import Clock
from bot.core.errors import StaleAction
from bot.db.engine import Sessions, dialect_insert, table_of
from bot.db.models import (
    CoupleQuestion,
    Delivery,
    DeliveryStatus,
    NudgeKind,
    NudgeSchedule,
    User,
)
from bot.nudges import questions, rotation, schedules
from bot.nudges.buttons import AnswerQuestion
from bot.nudges.schedules import Claim, Rhythm
from bot.outbox.messages import Outcome, Outgoing, Sender
from bot.outbox.runner import Runner, RunnerConfig, Sent
from bot.people import profiles as people
from bot.reading import library
from bot.safety import signals as safety
from bot.safety.buttons import ShowHeld

log = logging.getLogger(__name__)

DECK_OF = {NudgeKind.MORNING: "affirmations", NudgeKind.EVENING: "curiosity"}


@dataclass(frozen=True)
class EngineConfig:
    """Knobs of the engine, from settings."""

    reminder_time: time = time(12, 0)
    batch_size: int = 500
    # Rows composed per transaction before they are handed to the senders.
    compose_group: int = 100
    # Results are recorded together while they keep arriving within `record_gap` of each
    # other, up to `record_group` of them or `record_linger` after the first: at a slow pace
    # every result is committed at once, at a fast one a commit serves many.
    record_group: int = 200
    record_gap: timedelta = timedelta(milliseconds=2)
    record_linger: timedelta = timedelta(milliseconds=20)
    concurrency: int = 64
    lease: timedelta = timedelta(minutes=10)
    max_lateness: timedelta = timedelta(hours=3)
    max_attempts: int = 5
    retry_delay: timedelta = timedelta(minutes=1)
    video_base_url: str = "https://videos.remainly.example"


@dataclass
class TickReport:
    """What one tick did."""

    claimed: int = 0
    sent: int = 0
    already_sent: int = 0
    dropped: int = 0
    blocked: int = 0
    retried: int = 0

    def add(self, other: TickReport) -> None:
        """Add another report's counts to this one."""
        for name in ("claimed", "sent", "already_sent", "dropped", "blocked", "retried"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Prepared:
    """A claimed row with its ledger entry and the message to send."""

    claim: Claim
    delivery_id: int
    attempts: int
    message: Outgoing
    # Worked out while composing, so recording needs no second look at the person: the run
    # after this one, and the zone a reminder is planned in.
    upcoming: tuple[date, datetime] | None
    timezone: str | None


@dataclass(frozen=True)
class Preview:
    """What a person will get: kind, when (UTC) and the text as it would be sent."""

    user_id: int
    kind: str
    run_at: datetime
    text: str


@dataclass(slots=True)
class Entry:
    """A ledger row as composing reads and changes it: plain values, not an ORM object."""

    id: int
    status: str = DeliveryStatus.PENDING
    attempts: int = 0
    prompt_id: str | None = None
    question_id: int | None = None


@dataclass(frozen=True)
class _Known:
    """What a group of rows shares, loaded once: rotation histories and couples' questions."""

    histories: Mapping[int, list[str]]
    questions: Mapping[tuple[int, date], CoupleQuestion]
    # The question topics each couple's expectations map points at (only couples with some).
    map_topics: Mapping[int, frozenset[str]] = field(default_factory=dict)


def _quiet(claim: Claim, user: User, now: datetime) -> bool:
    """Tell whether this person should not get this run (paused, day off, unpaired, …)."""
    if claim.kind in schedules.RECURRING_KINDS:
        return not schedules.is_schedulable(user)
    return schedules.is_quiet(user, now=now)


async def _histories(
    session: AsyncSession, user_ids: Collection[int], kind: str
) -> dict[int, list[str]]:
    """Return the prompts each of these people got of one kind, oldest first."""
    if not user_ids:
        return {}
    result = await session.exec(
        select(Delivery.user_id, Delivery.prompt_id)
        .where(
            col(Delivery.user_id).in_(set(user_ids)),
            Delivery.kind == kind,
            col(Delivery.prompt_id).is_not(None),
        )
        .order_by(col(Delivery.local_date))
    )
    histories: dict[int, list[str]] = {}
    for user_id, prompt_id in result.all():
        if prompt_id:
            histories.setdefault(user_id, []).append(prompt_id)
    return histories


_DELIVERIES = table_of(Delivery)
# How a send ended, written for a whole group of ledger rows in one executemany.
_SETTLE = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("delivery_id"))
    .values(
        status=bindparam("new_status"),
        sent_at=bindparam("accepted_at"),
        message_id=bindparam("telegram_id"),
    )
)


# What composing changed, written for a group's ledger rows in one executemany per shape:
# a message on its way counts an attempt, one dropped is settled; each keeps its prompt.
_COMPOSED = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("entry_id"))
    .values(
        attempts=bindparam("new_attempts"),
        prompt_id=bindparam("new_prompt_id"),
        question_id=bindparam("new_question_id"),
    )
)
_DROPPED = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("entry_id"))
    .values(
        status=bindparam("new_status"),
        prompt_id=bindparam("new_prompt_id"),
        question_id=bindparam("new_question_id"),
    )
)


def _changes(entry: Entry) -> dict[str, object]:
    return {
        "entry_id": entry.id,
        "new_attempts": entry.attempts,
        "new_status": entry.status,
        "new_prompt_id": entry.prompt_id,
        "new_question_id": entry.question_id,
    }


def _outcome(
    prepared: Prepared,
    status: str,
    accepted_at: datetime | None = None,
    telegram_id: int | None = None,
) -> dict[str, object]:
    return {
        "delivery_id": prepared.delivery_id,
        "new_status": status,
        "accepted_at": accepted_at,
        "telegram_id": telegram_id,
    }


class NudgeEngine:
    """Claim due rows, compose, send through a `Sender`, and keep the ledger."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        texts: Texts,
        library: Library,
        clock: Clock,
        sender: Sender,
        rhythm: Rhythm,
        policy: Policy,
        config: EngineConfig | None = None,
    ) -> None:
        self.sessions = sessions
        self.texts = texts
        self.library = library
        self.clock = clock
        self.sender = sender
        self.rhythm = rhythm
        self.policy = policy
        self.config = config or EngineConfig()

    async def tick(self) -> TickReport:
        """Work through every row due now, batch by batch; return what happened."""
        report = TickReport()
        await self._deliver(self._ready_messages(report), report)
        return report

    async def run_batch(self) -> TickReport:
        """Claim one batch of due rows and deliver it."""
        report = TickReport()
        await self._deliver(self._ready_messages(report, batches=1), report)
        return report

    async def _ready_messages(
        self, report: TickReport, *, batches: int | None = None
    ) -> AsyncGenerator[Prepared, None]:
        """Claim due rows batch by batch and yield each message as soon as it is composed.

        Composing is committed a few rows at a time and handed over at once, so sending starts
        within a moment, the next rows (and the next batch) are composed while earlier ones are
        paced out, and SQLite's single write lock is never held for a whole batch.
        """
        claimed = 0
        while batches is None or claimed < batches:
            now = self.clock.now()
            async with self.sessions.begin() as session:
                claims = await schedules.claim_due(
                    session, now=now, limit=self.config.batch_size, lease=self.config.lease
                )
            claimed += 1
            report.claimed += len(claims)
            step = self.config.compose_group
            for start in range(0, len(claims), step):
                async with self.sessions.begin() as session:
                    ready = await self._prepare(session, claims[start : start + step], now, report)
                for prepared in ready:
                    yield prepared
            if len(claims) < self.config.batch_size:
                return

    async def _prepare(
        self, session: AsyncSession, claims: Sequence[Claim], now: datetime, report: TickReport
    ) -> list[Prepared]:
        """Compose a group of claimed rows with a handful of set-based queries.

        What every row needs (the person, the partner, the couple's standing, the ledger entry,
        the rotation history or the couple's question) is loaded for the whole group at once;
        only the rarer kinds (excerpts, videos, reminders) and discreet mode look things up
        row by row.
        """
        users, partners = await people.with_partners(session, {c.user_id for c in claims})
        paused: frozenset[int] = frozenset()
        if any(claim.kind in safety.COUPLE_EXERCISES for claim in claims):
            paused = await safety.paused_couples(session)
        finished: list[tuple[Claim, User | None]] = []
        live: list[tuple[Claim, User]] = []
        for claim in claims:
            user = users.get(claim.user_id)
            # A partner's safety signal pauses shared exercises; neither is told why here.
            if (
                user is None
                or _quiet(claim, user, now)
                or (claim.kind in safety.COUPLE_EXERCISES and user.couple_id in paused)
            ):
                finished.append((claim, user))
                report.dropped += 1
            else:
                live.append((claim, user))
        # Trial over and nothing paid: no nudge; billing tells the person once, warmly.
        verdicts = await billing_notices.admit_many(
            session, [(user, claim.kind) for claim, user in live], now=now, policy=self.policy
        )
        for (claim, user), admitted in zip(live, verdicts, strict=True):
            if not admitted:
                finished.append((claim, user))
                report.dropped += 1
        live = [entry for entry, admitted in zip(live, verdicts, strict=True) if admitted]
        ledger = await _entries(
            session, [(claim.user_id, claim.kind, claim.local_date) for claim, _ in live], now=now
        )
        dropped: list[Entry] = []
        due: list[tuple[Claim, User, Entry]] = []
        for claim, user in live:
            delivery = ledger[(claim.user_id, claim.kind, claim.local_date)]
            if delivery.status != DeliveryStatus.PENDING:
                # Sent before (a restart, a second worker, or a changed time): never twice.
                finished.append((claim, user))
                report.already_sent += 1
            elif now - claim.run_at > self.config.max_lateness:
                # A morning nudge at midnight helps nobody; skip a run that is far too late.
                delivery.status = DeliveryStatus.DROPPED
                dropped.append(delivery)
                finished.append((claim, user))
                report.dropped += 1
            else:
                due.append((claim, user, delivery))
        messages = await self._compose_all(session, due, partners, now)
        prepared = []
        composed: list[Entry] = []
        for (claim, user, delivery), message in zip(due, messages, strict=True):
            if message is None:
                delivery.status = DeliveryStatus.DROPPED
                dropped.append(delivery)
                finished.append((claim, user))
                report.dropped += 1
                continue
            if user.discreet_since is not None:
                message = await self._discreet(session, user, message, now)
            delivery.attempts += 1
            composed.append(delivery)
            upcoming = schedules.following(claim, user, now=now, rhythm=self.rhythm)
            prepared.append(
                Prepared(claim, delivery.id, delivery.attempts, message, upcoming, user.timezone)
            )
        if composed:
            await session.exec(_COMPOSED, params=[_changes(entry) for entry in composed])
        if dropped:
            await session.exec(_DROPPED, params=[_changes(entry) for entry in dropped])
        await schedules.finish_many(
            session,
            [
                (claim, schedules.following(claim, user, now=now, rhythm=self.rhythm))
                for claim, user in finished
            ],
        )
        return prepared

    async def _discreet(
        self, session: AsyncSession, user: User, message: Outgoing, now: datetime
    ) -> Outgoing:
        """Keep the words back for a person in discreet mode: the notification stays neutral."""
        held_id = await safety.hold(session, user.id, message.text, message.buttons, now=now)
        text = self.texts.render("safety.neutral_notice", locale=user.locale)
        show = self.texts.render("buttons.show_message", locale=user.locale)
        return Outgoing(message.chat_id, text, (((show, ShowHeld(held_id).encode()),),))

    async def _compose_all(
        self,
        session: AsyncSession,
        due: Sequence[tuple[Claim, User, Entry]],
        partners: Mapping[int, User],
        now: datetime,
    ) -> list[Outgoing | None]:
        """Compose each row's message; shared look-ups are made once for the whole group."""
        known = await self._known(session, due, partners, now)
        return [
            await self._compose(session, claim, user, partners.get(user.id), delivery, known, now)
            for claim, user, delivery in due
        ]

    async def _known(
        self,
        session: AsyncSession,
        due: Sequence[tuple[Claim, User, Entry]],
        partners: Mapping[int, User],
        now: datetime,
    ) -> _Known:
        """Load the rotation histories and the couples' questions a group of rows needs."""
        fresh_mornings = [
            user.id
            for claim, user, delivery in due
            if claim.kind == NudgeKind.MORNING
            and self.library.prompt("affirmations", delivery.prompt_id or "", user.locale) is None
        ]
        histories = await _histories(session, fresh_mornings, NudgeKind.MORNING)
        evenings: dict[tuple[int, date], User] = {}
        for claim, user, _ in due:
            if claim.kind == NudgeKind.EVENING and user.couple_id and user.id in partners:
                evenings.setdefault((user.couple_id, claim.local_date), user)
        chosen = await questions.chosen_questions(session, list(evenings))
        map_topics = await expectations.topics_of_many(session, {c for c, _ in evenings})
        missing = sorted(key for key in evenings if key not in chosen)
        if missing:
            asked = await questions.asked_prompts_of(session, {couple for couple, _ in missing})
            picks = {}
            for couple_id, day in missing:  # in date order, so a later day follows an earlier
                deck = self.library.deck("curiosity", evenings[(couple_id, day)].locale)
                pick = leaning.lean(
                    deck,
                    asked[couple_id],
                    salt=f"couple-{couple_id}",
                    topics=map_topics.get(couple_id, frozenset()),
                )
                picks[(couple_id, day)] = pick.id
                asked[couple_id].append(pick.id)
            chosen.update(await questions.create_questions(session, picks, now=now))
        return _Known(histories, chosen, map_topics)

    async def _compose(
        self,
        session: AsyncSession,
        claim: Claim,
        user: User,
        partner: User | None,
        delivery: Entry,
        known: _Known,
        now: datetime,
    ) -> Outgoing | None:
        if partner is None or user.couple_id is None:
            return None
        if claim.kind == NudgeKind.MORNING:
            prompt = self.library.prompt("affirmations", delivery.prompt_id or "", user.locale)
            if prompt is None:
                deck = self.library.deck("affirmations", user.locale)
                history = known.histories.get(user.id, [])
                prompt = rotation.choose(deck, history, salt=str(user.id))
                delivery.prompt_id = prompt.id
            text = self.texts.render(
                "nudges.morning",
                locale=user.locale,
                prompt=prompt.text,
                partner=people.name_of(partner),
            )
            return Outgoing(user.chat_id, text)
        if claim.kind == NudgeKind.EVENING:
            question = known.questions.get((user.couple_id, claim.local_date))
            if question is None or question.id is None:
                return None
            delivery.prompt_id, delivery.question_id = question.prompt_id, question.id
            return self._question_message(
                user,
                partner,
                question.id,
                question.prompt_id,
                "evening",
                mapped=known.map_topics.get(user.couple_id, frozenset()),
            )
        if claim.kind == NudgeKind.ARTICLE:
            return await self._article(session, user, delivery, now)
        if claim.kind == NudgeKind.VIDEO:
            return await self._video(session, user, delivery, now)
        return await self._reminder(session, user, partner)

    async def _article(
        self, session: AsyncSession, user: User, delivery: Entry, now: datetime
    ) -> Outgoing | None:
        articles = self.library.articles(user.locale)
        plan = await library.plan_for(session, user)
        if delivery.prompt_id:
            # A retry sends the excerpt chosen the first time; the bookmark already moved.
            article_id, _, index = delivery.prompt_id.partition("#")
            try:
                article = library.find_article(articles, article_id)
            except StaleAction:
                return None
            view = library.ExcerptView(article, min(int(index), len(article.excerpts) - 1))
            reason = plan.reason([article.meta.focus])
        else:
            picked = await library.next_for_delivery(session, user, articles)
            if picked is None:
                return None  # every article read: nothing to send this time
            article, reason = picked
            view = await library.read_next(session, user.id, article, now=now)
            delivery.prompt_id = f"{article.meta.id}#{view.index}"
        text, buttons = library.excerpt_message(self.texts, view, locale=user.locale, reason=reason)
        return Outgoing(user.chat_id, text, buttons)

    async def _video(
        self, session: AsyncSession, user: User, delivery: Entry, now: datetime
    ) -> Outgoing | None:
        plan = await library.plan_for(
            session, user, themes=self.library.checkin_themes(user.locale)
        )
        catalogue = self.library.videos(user.locale)
        video = next((v for v in catalogue if v.id == delivery.prompt_id), None)
        if video is None:
            seen = (await _histories(session, [user.id], NudgeKind.VIDEO)).get(user.id, [])
            ranked = library.rank_videos(catalogue, plan, seen=frozenset(seen))
            if not ranked:
                ranked = library.rank_videos(catalogue, plan)  # all seen: start over
            video = ranked[0]
            delivery.prompt_id = video.id
        text, buttons = library.video_message(
            self.texts,
            video,
            base_url=self.config.video_base_url,
            locale=user.locale,
            reason=plan.reason(video.topics),
            access=await library.video_access(session, user, video, now=now, policy=self.policy),
        )
        return Outgoing(user.chat_id, text, buttons)

    def _question_message(
        self,
        user: User,
        partner: User,
        question_id: int,
        prompt_id: str,
        key: str,
        *,
        mapped: frozenset[str] = frozenset(),
    ) -> Outgoing | None:
        prompt = self.library.prompt("curiosity", prompt_id, user.locale)
        if prompt is None:
            return None
        text = self.texts.render(
            f"nudges.{key}",
            locale=user.locale,
            question=prompt.text,
            partner=people.name_of(partner),
        )
        if prompt.topic in mapped:
            # The pick says why: the couple's expectations map leans the rotation this way.
            why = self.texts.render("expectations.picked_question", locale=user.locale)
            text = f"{text}\n\n<i>{why}</i>"
        buttons = (
            (
                (
                    self.texts.render("buttons.answer", locale=user.locale),
                    AnswerQuestion("go", question_id).encode(),
                ),
                (
                    self.texts.render("buttons.skip_question", locale=user.locale),
                    AnswerQuestion("skip", question_id).encode(),
                ),
            ),
        )
        return Outgoing(user.chat_id, text, buttons)

    async def _reminder(self, session: AsyncSession, user: User, partner: User) -> Outgoing | None:
        result = await session.exec(
            select(Delivery)
            .where(
                Delivery.user_id == user.id,
                Delivery.kind == NudgeKind.EVENING,
                Delivery.status == DeliveryStatus.SENT,
            )
            .order_by(col(Delivery.local_date).desc())
            .limit(1)
        )
        evening = result.first()
        if evening is None or evening.question_id is None or evening.prompt_id is None:
            return None
        if await questions.answer_of(session, evening.question_id, user.id) is not None:
            return None
        return self._question_message(
            user, partner, evening.question_id, evening.prompt_id, "reminder"
        )

    async def _deliver(self, messages: AsyncGenerator[Prepared, None], report: TickReport) -> None:
        """Send as messages become ready; the outbox's runner records results in groups."""

        async def record(session: AsyncSession, items: Sequence[Sent[Prepared]]) -> None:
            await self._complete(session, items, report)

        runner: Runner[Prepared] = Runner(
            sessions=self.sessions,
            sender=self.sender,
            message_of=lambda item: item.message,
            record=record,
            config=RunnerConfig(
                concurrency=self.config.concurrency,
                record_group=self.config.record_group,
                record_gap=self.config.record_gap,
                record_linger=self.config.record_linger,
            ),
            what="nudge",
        )
        await runner.run(messages)

    async def _complete(
        self, session: AsyncSession, items: Sequence[Sent[Prepared]], report: TickReport
    ) -> None:
        """Record a group of send results: ledger, next runs and reminders, set by set."""
        now = self.clock.now()
        outcomes: list[dict[str, object]] = []
        finished: list[tuple[Claim, tuple[date, datetime] | None]] = []
        reminders: list[tuple[int, str | None]] = []
        for item in items:
            prepared, result, claim = item.item, item.result, item.item.claim
            if result.maybe_shown:  # in doubt counts as sent: it is never sent twice
                outcomes.append(_outcome(prepared, DeliveryStatus.SENT, now, result.message_id))
                finished.append((claim, prepared.upcoming))
                if claim.kind == NudgeKind.EVENING:
                    reminders.append((claim.user_id, prepared.timezone))
                report.sent += 1
            elif result.outcome is Outcome.BLOCKED:
                user = await session.get(User, claim.user_id)
                if user is not None:
                    await mark_unreachable(session, user, now=now)
                outcomes.append(_outcome(prepared, DeliveryStatus.DROPPED))
                report.blocked += 1
            elif result.outcome is Outcome.RETRY and prepared.attempts < self.config.max_attempts:
                await schedules.retry_later(
                    session, claim, at=now + self.config.retry_delay * prepared.attempts
                )
                report.retried += 1
            else:
                outcomes.append(_outcome(prepared, DeliveryStatus.DROPPED))
                finished.append((claim, prepared.upcoming))
                report.dropped += 1
        # Rows of a person erased meanwhile are gone already: these statements skip them.
        if outcomes:
            await session.exec(_SETTLE, params=outcomes)
        await schedules.finish_many(session, finished)
        if reminders:
            present = await people.existing_ids(session, {user_id for user_id, _ in reminders})
            await schedules.schedule_reminders(
                session,
                [entry for entry in reminders if entry[0] in present],
                after=now,
                at=self.config.reminder_time,
            )

    async def due(self, now: datetime, limit: int = 50) -> list[Preview]:
        """Describe what is due at `now` without claiming or sending anything."""
        async with self.sessions() as session:
            rows = await schedules.due_rows(session, now=now, limit=limit)
            return await self._describe(session, rows, now)

    async def preview(self, user_id: int) -> list[Preview]:
        """Describe this person's upcoming nudges, soonest first, without keeping anything."""
        async with self.sessions() as session:
            result = await session.exec(
                select(NudgeSchedule)
                .where(NudgeSchedule.user_id == user_id)
                .order_by(col(NudgeSchedule.next_run_at))
            )
            return await self._describe(session, list(result.all()), self.clock.now())

    async def _describe(
        self, session: AsyncSession, rows: list[NudgeSchedule], now: datetime
    ) -> list[Preview]:
        users, partners = await people.with_partners(session, {row.user_id for row in rows})
        due = [
            (
                Claim(0, row.user_id, row.kind, row.local_date, row.next_run_at, ""),
                users[row.user_id],
                Entry(0),
            )
            for row in rows
            if row.user_id in users
        ]
        messages = await self._compose_all(session, due, partners, now)
        await session.rollback()  # composing may pick a question; a description keeps nothing
        return [
            Preview(claim.user_id, claim.kind, claim.run_at, message.text if message else "")
            for (claim, _, _), message in zip(due, messages, strict=True)
        ]


async def ledger_entry(
    session: AsyncSession,
    *,
    user_id: int,
    kind: str,
    local_date: date,
    now: datetime,
    question_id: int | None = None,
) -> Delivery:
    """Return the one ledger row for this person, kind and local date, creating it if new.

    The unique key makes concurrent workers and restarts meet on the same row, so whatever
    it says (pending or sent) is the single truth about that delivery.
    """
    key = (user_id, kind, local_date)
    entries = await ledger_entries(session, [key], now=now, question_id=question_id)
    return entries[key]


async def ledger_entries(
    session: AsyncSession,
    keys: Sequence[tuple[int, str, date]],
    *,
    now: datetime,
    question_id: int | None = None,
) -> dict[tuple[int, str, date], Delivery]:
    """Return the ledger rows for these (person, kind, local date) keys, creating new ones.

    One insert that skips existing keys and one select, however many keys there are.
    """
    if not keys:
        return {}
    await _add_entries(session, keys, now=now, question_id=question_id)
    wanted = set(keys)
    result = await session.exec(select(Delivery).where(_ledger_keys(wanted)))
    entries = {(entry.user_id, entry.kind, entry.local_date): entry for entry in result.all()}
    return {key: entry for key, entry in entries.items() if key in wanted}


async def _add_entries(
    session: AsyncSession,
    keys: Sequence[tuple[int, str, date]],
    *,
    now: datetime,
    question_id: int | None = None,
) -> None:
    """Insert a pending ledger row for each key that has none, in one statement."""
    await session.exec(
        dialect_insert(session)(_DELIVERIES).on_conflict_do_nothing(
            index_elements=["user_id", "kind", "local_date"]
        ),
        params=[
            {
                "user_id": user_id,
                "kind": kind,
                "local_date": local_date,
                "status": DeliveryStatus.PENDING,
                "question_id": question_id,
                "attempts": 0,
                "created_at": now,
            }
            for user_id, kind, local_date in dict.fromkeys(keys)
        ],
    )


def _ledger_keys(wanted: Collection[tuple[int, str, date]]) -> ColumnElement[bool]:
    # Separate IN lists, not a row-value IN: SQLite searches the unique index only for these.
    return and_(
        _DELIVERIES.c.user_id.in_({user_id for user_id, _, _ in wanted}),
        _DELIVERIES.c.kind.in_({kind for _, kind, _ in wanted}),
        _DELIVERIES.c.local_date.in_({local_date for _, _, local_date in wanted}),
    )


async def _entries(
    session: AsyncSession, keys: Sequence[tuple[int, str, date]], *, now: datetime
) -> dict[tuple[int, str, date], Entry]:
    """Return the ledger rows for these keys, creating new ones, as plain values to change."""
    if not keys:
        return {}
    await _add_entries(session, keys, now=now)
    wanted = set(keys)
    table = _DELIVERIES
    # Read through the connection: plain rows, none of the ORM's per-row work.
    connection = await session.connection()
    result = await connection.execute(
        core_select(
            table.c.user_id,
            table.c.kind,
            table.c.local_date,
            table.c.id,
            table.c.status,
            table.c.attempts,
            table.c.prompt_id,
            table.c.question_id,
        ).where(_ledger_keys(wanted))
    )
    entries = {}
    for user_id, kind, local_date, *values in result.all():
        if (user_id, kind, local_date) in wanted:
            entries[(user_id, kind, local_date)] = Entry(*values)
    return entries


async def mark_unreachable(session: AsyncSession, user: User, *, now: datetime) -> None:
    """Stop scheduling a person who blocked the bot."""
    if user.unreachable_since is None:
        user.unreachable_since = now
        session.add(user)
    await schedules.drop_schedules(session, user.id)


async def mark_reachable(
    session: AsyncSession, user: User, *, now: datetime, rhythm: Rhythm
) -> None:
    """Resume a person who came back (unblocked the bot or sent /start)."""
    if user.unreachable_since is not None:
        user.unreachable_since = None
        session.add(user)
        await session.flush()
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)


async def set_reachable(
    session: AsyncSession, user_id: int, *, reachable: bool, now: datetime, rhythm: Rhythm
) -> None:
    """Record that a person blocked (or unblocked) the bot."""
    user = await session.get(User, user_id)
    if user is None:
        return
    if reachable:
        await mark_reachable(session, user, now=now, rhythm=rhythm)
    else:
        await mark_unreachable(session, user, now=now)


def summarize(reports: Sequence[TickReport]) -> TickReport:
    """Add up several reports."""
    total = TickReport()
    for report in reports:
        total.add(report)
    return total

"""The check-in tick: claim due check-in work, compose each message once, send, record it."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing.entitlements import Policy
from bot.checkins import appreciations
from bot.checkins import schedules as checkin_schedules
from bot.checkins import weekly as checkins
from bot.checkins.buttons import OpenCheckin
from bot.checkins.schedules import Job, Plan, is_eligible
from bot.content.checkins import CheckinDeck
from bot.content.texts import Texts
from bot.core.clock import Clock
from bot.db.checkins import Checkin, CheckinEntry, CheckinJob, CheckinStatus
from bot.db.engine import Sessions
from bot.db.models import Delivery, DeliveryStatus, User
from bot.nudges.engine import TickReport, ledger_entry, mark_unreachable
from bot.nudges.timing import local_to_utc
from bot.outbox.discreet import keep_back
from bot.outbox.messages import Outcome, Outgoing, Sender, SendResult
from bot.outbox.runner import Runner, RunnerConfig, Sent
from bot.people.profiles import name_of, partner_of, zone_of
from bot.safety import signals as safety

log = logging.getLogger(__name__)

# A weekly check-in that could not go out near its time (the bot was down, say) waits for
# next week rather than arriving in the middle of the night.
OPEN_MAX_LATENESS = timedelta(hours=6)
# How far ahead of its planned instant a weekly row may run before it is moved (a person who
# changed time zone after the row was planned).
OPEN_EARLY_SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class CheckinConfig:
    """Knobs of the check-in tick, from settings."""

    default_plan: Plan = field(default_factory=lambda: Plan(6, time(19, 0)))
    window: timedelta = timedelta(hours=72)
    reminder_after: timedelta = timedelta(hours=24)
    default_zone: str = "Europe/London"
    default_morning: time = time(8, 0)
    batch_size: int = 500
    # Jobs composed per transaction before they are handed to the runner.
    compose_group: int = 50
    concurrency: int = 64
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    retry_delay: timedelta = timedelta(minutes=1)

    @property
    def windows(self) -> checkins.Windows:
        """Return the check-in window and reminder delay as the service takes them."""
        return checkins.Windows(self.window, self.reminder_after, self.default_zone)


@dataclass(frozen=True)
class Prepared:
    """A claimed row with its ledger entry, the message, and what to record once it is sent."""

    job: Job
    delivery_id: int
    message: Outgoing
    checkin_id: int | None = None
    note_ids: tuple[int, ...] = ()


@dataclass
class _Batch:
    report: TickReport = field(default_factory=TickReport)


def _when(at: datetime, user: User, default_zone: str) -> datetime:
    return at.astimezone(zone_of(user, default=default_zone))


class CheckinEngine:
    """Open weekly check-ins, remind once, close them, and carry appreciations."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        texts: Texts,
        deck: CheckinDeck,
        clock: Clock,
        sender: Sender,
        policy: Policy,
        config: CheckinConfig | None = None,
    ) -> None:
        self.sessions = sessions
        self.texts = texts
        self.deck = deck
        self.clock = clock
        self.sender = sender
        self.policy = policy
        self.config = config or CheckinConfig()

    async def tick(self) -> TickReport:
        """Fill in missing weekly rows, close overdue check-ins, then deliver what is due."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            await checkin_schedules.sync_open_rows(
                session,
                now=now,
                default=self.config.default_plan,
                limit=self.config.batch_size,
                lookback=OPEN_MAX_LATENESS,
            )
        async with self.sessions.begin() as session:
            await checkins.close_overdue(session, now=now, default_zone=self.config.default_zone)
        total = TickReport()
        while True:
            report = await self.run_batch()
            total.add(report)
            if report.claimed < self.config.batch_size:
                return total

    async def run_batch(self) -> TickReport:
        """Claim one batch of due rows and deliver it."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            jobs = await checkin_schedules.claim_due(
                session, now=now, limit=self.config.batch_size, lease=self.config.lease
            )
        batch = _Batch()
        batch.report.claimed = len(jobs)
        if not jobs:
            return batch.report
        await self._deliver(batch, self._composed(jobs, now, batch.report))
        return batch.report

    async def _composed(
        self, jobs: Sequence[Job], now: datetime, report: TickReport
    ) -> AsyncGenerator[Prepared, None]:
        """Compose a group of jobs per transaction and hand each group on once it is committed.

        Short write transactions keep SQLite's one writer free for the other ticks, and the
        first messages go out before the whole batch is composed.
        """
        group = self.config.compose_group
        for start in range(0, len(jobs), group):
            ready: list[Prepared] = []
            async with self.sessions.begin() as session:
                for job in jobs[start : start + group]:
                    prepared = await self._prepare(session, job, now, report)
                    if prepared is not None:
                        ready.append(prepared)
            for item in ready:
                yield item

    async def _upcoming(
        self, session: AsyncSession, job: Job, user: User | None, now: datetime
    ) -> tuple[date, datetime] | None:
        """Return a weekly row's next run; other kinds of work happen once."""
        if job.kind != CheckinJob.OPEN or user is None or user.couple_id is None:
            return None
        plan = await checkin_schedules.plan_of(
            session, user.couple_id, default=self.config.default_plan
        )
        upcoming = checkin_schedules.next_open(user, plan, after=max(now, job.run_at))
        # A week's run happened (or was passed over): never plan the same local date again.
        while upcoming is not None and upcoming[0] <= job.local_date:
            upcoming = checkin_schedules.next_open(user, plan, after=upcoming[1])
        return upcoming

    async def _drop(
        self, session: AsyncSession, job: Job, user: User | None, now: datetime, report: TickReport
    ) -> None:
        await checkin_schedules.finish(
            session, job, upcoming=await self._upcoming(session, job, user, now)
        )
        report.dropped += 1

    async def _prepare(
        self, session: AsyncSession, job: Job, now: datetime, report: TickReport
    ) -> Prepared | None:
        user = await session.get(User, job.user_id)
        if user is None or (job.kind == CheckinJob.OPEN and not is_eligible(user)):
            await checkin_schedules.finish(session, job, upcoming=None)
            report.dropped += 1
            return None
        if job.kind == CheckinJob.OPEN and not await self._open_is_due(session, job, user, now):
            report.retried += 1
            return None
        delivery = await self._ledger(session, job, now)
        if delivery.status != DeliveryStatus.PENDING:
            # Sent before (a restart or a second worker): never twice.
            await checkin_schedules.finish(
                session, job, upcoming=await self._upcoming(session, job, user, now)
            )
            report.already_sent += 1
            return None
        composed = await self._compose(session, job, user, now)
        if composed is None:
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await self._drop(session, job, user, now, report)
            return None
        delivery.attempts += 1
        session.add(delivery)
        assert delivery.id is not None
        message, checkin_id, note_ids = composed
        if user.discreet_since is not None:
            # Every check-in message is a notification: discreet mode keeps its words back.
            # A reveal or an appreciation carries the partner's words: they go with the partner.
            partner = await partner_of(session, user)
            message = await keep_back(
                session,
                self.texts,
                message,
                user_id=user.id,
                locale=user.locale,
                now=now,
                about=partner.id if partner is not None else None,
            )
        return Prepared(job, delivery.id, message, checkin_id, note_ids)

    async def _open_is_due(
        self, session: AsyncSession, job: Job, user: User, now: datetime
    ) -> bool:
        """Check a weekly row against the couple's plan and the person's zone right now."""
        assert user.couple_id is not None and user.timezone is not None
        plan = await checkin_schedules.plan_of(
            session, user.couple_id, default=self.config.default_plan
        )
        if job.local_date.weekday() != plan.weekday:
            await checkin_schedules.finish(
                session, job, upcoming=checkin_schedules.next_open(user, plan, after=now)
            )
            return False
        intended = local_to_utc(
            job.local_date, plan.at, zone_of(user, default=self.config.default_zone)
        )
        if intended - now > OPEN_EARLY_SLACK:
            # The person moved to a zone where it is not that time yet.
            await checkin_schedules.retry_later(session, job, at=intended)
            return False
        return True

    async def _ledger(self, session: AsyncSession, job: Job, now: datetime) -> Delivery:
        """Return the ledger entry of this run, shared with the nudges: one per kind and date."""
        return await ledger_entry(
            session,
            user_id=job.user_id,
            kind=job.kind,
            local_date=job.local_date,
            now=now,
            question_id=job.checkin_id,
        )

    async def _compose(
        self, session: AsyncSession, job: Job, user: User, now: datetime
    ) -> tuple[Outgoing, int | None, tuple[int, ...]] | None:
        if job.kind == CheckinJob.OPEN:
            return await self._invitation(session, job, user, now)
        if job.kind == CheckinJob.COURIER:
            notes = await appreciations.pending_for(session, user, until=now)
            # Held, not lost, while a safety signal pauses the couple: they go with a later note.
            if not notes or await safety.exercises_paused(session, user.couple_id):
                return None
            text = self.texts.render("checkins.courier", locale=user.locale, notes=notes)
            return Outgoing(user.chat_id, text), None, tuple(n.appreciation_id for n in notes)
        checkin, entry = await self._checkin_of(session, job, user)
        if checkin is None or entry is None:
            return None
        if job.kind == CheckinJob.REMIND:
            if checkin.status != CheckinStatus.OPEN or entry.submitted_at is not None:
                return None
            resting = await checkins.resting(session, checkin.couple_id, now, policy=self.policy)
            if resting is not None:
                return None
            text = self.texts.render(
                "checkins.reminder",
                locale=user.locale,
                started=entry.step > 0,
                closes_at=_when(checkin.closes_at, user, self.config.default_zone),
            )
            return Outgoing(user.chat_id, text, self._go(user, checkin, entry)), None, ()
        if checkin.status != CheckinStatus.CLOSED or entry.submitted_at is None:
            return None
        text = self.texts.render("checkins.closed_unshared", locale=user.locale)
        return Outgoing(user.chat_id, text), None, ()

    async def _checkin_of(
        self, session: AsyncSession, job: Job, user: User
    ) -> tuple[Checkin | None, CheckinEntry | None]:
        checkin = await session.get(Checkin, job.checkin_id) if job.checkin_id else None
        if checkin is None or checkin.couple_id != user.couple_id:
            return None, None
        entry = (
            await session.exec(
                select(CheckinEntry).where(
                    CheckinEntry.checkin_id == checkin.id, CheckinEntry.user_id == user.id
                )
            )
        ).first()
        return checkin, entry

    def _go(
        self, user: User, checkin: Checkin, entry: CheckinEntry
    ) -> tuple[tuple[tuple[str, str], ...], ...]:
        label = self.texts.render("buttons.checkin_go", locale=user.locale, started=entry.step > 0)
        assert checkin.id is not None
        return (((label, OpenCheckin(checkin.id).encode()),),)

    async def _invitation(
        self, session: AsyncSession, job: Job, user: User, now: datetime
    ) -> tuple[Outgoing, int | None, tuple[int, ...]] | None:
        zone = self.config.default_zone
        quiet = (user.paused_until is not None and user.paused_until > now) or (
            user.skip_date == job.local_date
        )
        if quiet or now - job.run_at > OPEN_MAX_LATENESS:
            return None
        content = self.deck.get(self.deck.default_locale)
        checkin = await checkins.checkin_to_offer(
            session,
            user,
            now=now,
            question_ids=[question.id for question in content.questions],
            windows=self.config.windows,
            policy=self.policy,
        )
        if checkin is None:
            return None
        assert checkin.id is not None
        partner = await partner_of(session, user)
        text = self.texts.render(
            "checkins.invitation",
            locale=user.locale,
            partner=name_of(partner) if partner else "",
            count=len(checkins.questions_of(checkin, self.deck.get(user.locale))),
            closes_at=_when(checkin.closes_at, user, zone),
        )
        label = self.texts.render("buttons.checkin_go", locale=user.locale, started=False)
        go = OpenCheckin(checkin.id).encode()
        return Outgoing(user.chat_id, text, (((label, go),),)), checkin.id, ()

    async def _deliver(self, batch: _Batch, items: AsyncGenerator[Prepared, None]) -> None:
        """Send concurrently; the outbox's runner records results in groups as they arrive."""

        async def record(session: AsyncSession, items: Sequence[Sent[Prepared]]) -> None:
            for sent in items:
                await self._complete(session, sent.item, sent.result, batch.report)

        runner: Runner[Prepared] = Runner(
            sessions=self.sessions,
            sender=self.sender,
            message_of=lambda item: item.message,
            record=record,
            config=RunnerConfig(concurrency=self.config.concurrency),
            what="check-in message",
        )
        await runner.run(items)

    async def _complete(
        self, session: AsyncSession, prepared: Prepared, result: SendResult, report: TickReport
    ) -> None:
        now = self.clock.now()
        job = prepared.job
        delivery = await session.get(Delivery, prepared.delivery_id)
        user = await session.get(User, job.user_id)
        if delivery is None or user is None:
            return
        if result.maybe_shown:  # in doubt counts as sent: it is never sent twice
            delivery.status, delivery.sent_at = DeliveryStatus.SENT, now
            delivery.message_id = result.message_id
            session.add(delivery)
            await self._after_sent(session, prepared, user, now)
            report.sent += 1
        elif result.outcome is Outcome.BLOCKED:
            await mark_unreachable(session, user, now=now)
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await checkin_schedules.finish(session, job, upcoming=None)
            report.blocked += 1
        elif result.outcome is Outcome.RETRY and delivery.attempts < self.config.max_attempts:
            await checkin_schedules.retry_later(
                session, job, at=now + self.config.retry_delay * delivery.attempts
            )
            report.retried += 1
        else:
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await self._drop(session, job, user, now, report)

    async def _after_sent(
        self, session: AsyncSession, prepared: Prepared, user: User, now: datetime
    ) -> None:
        job = prepared.job
        upcoming = await self._upcoming(session, job, user, now)
        if job.kind == CheckinJob.OPEN and prepared.checkin_id is not None:
            checkin = await session.get(Checkin, prepared.checkin_id)
            if checkin is not None:
                await checkins.invite(session, checkin, user, now=now, windows=self.config.windows)
        if job.kind == CheckinJob.COURIER:
            await appreciations.mark_delivered(session, prepared.note_ids, now=now)
            # A note written while this one was on its way goes with the next morning.
            if await appreciations.pending_for(session, user, until=now):
                upcoming = checkin_schedules.next_morning(
                    user,
                    after=max(now, job.run_at),
                    default_morning=self.config.default_morning,
                    default_zone=self.config.default_zone,
                )
        await checkin_schedules.finish(session, job, upcoming=upcoming)

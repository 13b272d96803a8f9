"""The closeness tick: claim due offers and prompts, compose each once, send, record it."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements
from bot.billing.entitlements import Policy
from bot.closeness import expectations, schedules, vulnerability
from bot.closeness.buttons import NotReady, OpenMap, WriteShare
from bot.closeness.schedules import Job
from bot.content.closeness import ClosenessDecks
from bot.content.texts import Texts
from bot.core.clock import Clock
from bot.db.closeness import ClosenessJob
from bot.db.engine import Sessions
from bot.db.models import Delivery, DeliveryStatus, User
from bot.nudges.engine import TickReport, ledger_entry, mark_unreachable
from bot.outbox.discreet import keep_back
from bot.outbox.messages import Outcome, Outgoing, Sender, SendResult
from bot.outbox.runner import Runner, RunnerConfig, Sent
from bot.people.profiles import name_of, partner_of
from bot.safety import signals as safety

log = logging.getLogger(__name__)

# A run that could not go out near its time (the bot was down) waits for the next one rather
# than arriving in the middle of the night.
MAX_LATENESS = timedelta(hours=6)


@dataclass(frozen=True)
class ClosenessConfig:
    """Knobs of the closeness tick."""

    batch_size: int = 500
    concurrency: int = 64
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    retry_delay: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class Prepared:
    """A claimed row with its ledger entry, the message, and when it runs next."""

    job: Job
    delivery_id: int
    message: Outgoing
    upcoming: tuple[date, datetime] | None


class ClosenessEngine:
    """Offer the expectations map now and then, and bring the weekly sharing prompt."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        texts: Texts,
        decks: ClosenessDecks,
        clock: Clock,
        sender: Sender,
        policy: Policy,
        config: ClosenessConfig | None = None,
    ) -> None:
        self.sessions = sessions
        self.texts = texts
        self.decks = decks
        self.clock = clock
        self.sender = sender
        self.policy = policy
        self.config = config or ClosenessConfig()

    async def tick(self) -> TickReport:
        """Plan missing rows, then deliver what is due, a batch at a time."""
        async with self.sessions.begin() as session:
            await schedules.sync(session, now=self.clock.now(), limit=self.config.batch_size)
        total = TickReport()
        while True:
            report = await self.run_batch()
            total.add(report)
            if report.claimed < self.config.batch_size:
                return total

    async def run_batch(self) -> TickReport:
        """Claim one batch of due rows and deliver it."""
        now = self.clock.now()
        report = TickReport()
        async with self.sessions.begin() as session:
            jobs = await schedules.claim_due(
                session, now=now, limit=self.config.batch_size, lease=self.config.lease
            )
        report.claimed = len(jobs)
        if not jobs:
            return report
        ready: list[Prepared] = []
        async with self.sessions.begin() as session:
            for job in jobs:
                prepared = await self._prepare(session, job, now, report)
                if prepared is not None:
                    ready.append(prepared)
        await self._deliver(ready, report)
        return report

    def _next(self, job: Job, user: User, now: datetime) -> tuple[date, datetime] | None:
        after = max(now, job.run_at)
        if job.kind == ClosenessJob.MAP_OFFER:
            return schedules.next_offer(user, after=after + expectations.RETAKE_AFTER)
        return schedules.next_prompt(user, after=after)

    async def _prepare(
        self, session: AsyncSession, job: Job, now: datetime, report: TickReport
    ) -> Prepared | None:
        user = await session.get(User, job.user_id)
        if user is None or not schedules.is_eligible(user):
            await schedules.finish(session, job, upcoming=None)
            report.dropped += 1
            return None
        delivery = await ledger_entry(
            session, user_id=user.id, kind=job.kind, local_date=job.local_date, now=now
        )
        if delivery.status != DeliveryStatus.PENDING:
            # Sent before (a restart or a second worker): never twice.
            await schedules.finish(session, job, upcoming=self._next(job, user, now))
            report.already_sent += 1
            return None
        message, upcoming = await self._compose(session, job, user, now)
        if message is None:
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await schedules.finish(session, job, upcoming=upcoming)
            report.dropped += 1
            return None
        delivery.attempts += 1
        session.add(delivery)
        assert delivery.id is not None
        if user.discreet_since is not None:
            # Both kinds are notifications: discreet mode keeps their words back.
            message = await keep_back(
                session, self.texts, message, user_id=user.id, locale=user.locale, now=now
            )
        return Prepared(job, delivery.id, message, upcoming)

    async def _compose(
        self, session: AsyncSession, job: Job, user: User, now: datetime
    ) -> tuple[Outgoing | None, tuple[date, datetime] | None]:
        upcoming = self._next(job, user, now)
        if now - job.run_at > MAX_LATENESS:
            return None, upcoming
        assert user.couple_id is not None
        if job.kind == ClosenessJob.MAP_OFFER:
            return await self._offer(session, user, now), upcoming
        if job.kind == ClosenessJob.PROMPT:
            return await self._prompt(session, user, now), upcoming
        return None, None

    async def _offer(self, session: AsyncSession, user: User, now: datetime) -> Outgoing | None:
        assert user.couple_id is not None
        if await safety.exercises_paused(session, user.couple_id):
            return None
        if not await entitlements.is_entitled(
            session, user.couple_id, entitlements.EXPECTATIONS, now, policy=self.policy
        ):
            return None
        chart = await expectations.open_map(session, user.couple_id)
        if chart is None and not await expectations.due_for_offer(session, user.couple_id, now=now):
            return None
        deck = self.decks.expectations(user.locale)
        if chart is not None and await expectations.has_finished(
            session, chart, user.id, deck=deck
        ):
            return None  # their part is done; the partner's finishing brings the reveal
        mine = (
            chart is not None
            and chart.id is not None
            and await expectations.has_started(session, chart.id, user.id)
        )
        retake = await expectations.latest_revealed(session, user.couple_id) is not None
        partner = await partner_of(session, user)
        text = self.texts.render(
            "expectations.offer",
            locale=user.locale,
            partner=name_of(partner) if partner else "",
            retake=retake,
            started=bool(mine),
            count=len(deck.statements),
        )
        label = self.texts.render("buttons.map_go", locale=user.locale, started=bool(mine))
        return Outgoing(user.chat_id, text, (((label, OpenMap().encode()),),))

    async def _prompt(self, session: AsyncSession, user: User, now: datetime) -> Outgoing | None:
        deck = self.decks.vulnerability()
        offered = await vulnerability.round_to_offer(
            session, user, now=now, deck=deck, policy=self.policy
        )
        if offered is None:
            return None
        found, left_unshared = offered
        assert found.id is not None
        prompt = vulnerability.prompt_of(self.decks.vulnerability(user.locale), found.prompt_id)
        if prompt is None:
            return None
        text = self.texts.render(
            "vulnerability.prompt",
            locale=user.locale,
            prompt=prompt.text,
            left_unshared=left_unshared,
        )
        write = self.texts.render("buttons.share_write", locale=user.locale)
        later = self.texts.render("buttons.share_not_ready", locale=user.locale)
        rows = (((write, WriteShare(found.id).encode()),), ((later, NotReady(found.id).encode()),))
        return Outgoing(user.chat_id, text, rows)

    async def _deliver(self, ready: Sequence[Prepared], report: TickReport) -> None:
        async def record(session: AsyncSession, items: Sequence[Sent[Prepared]]) -> None:
            for sent in items:
                await self._complete(session, sent.item, sent.result, report)

        async def each() -> AsyncGenerator[Prepared, None]:
            for item in ready:
                yield item

        runner: Runner[Prepared] = Runner(
            sessions=self.sessions,
            sender=self.sender,
            message_of=lambda item: item.message,
            record=record,
            config=RunnerConfig(concurrency=self.config.concurrency),
            what="closeness message",
        )
        await runner.run(each())

    async def _complete(
        self, session: AsyncSession, prepared: Prepared, result: SendResult, report: TickReport
    ) -> None:
        now = self.clock.now()
        job = prepared.job
        delivery = await session.get(Delivery, prepared.delivery_id)
        user = await session.get(User, job.user_id)
        if delivery is None or user is None:
            await schedules.finish(session, job, upcoming=None)
            return
        if result.outcome is Outcome.SENT:
            delivery.status, delivery.sent_at = DeliveryStatus.SENT, now
            delivery.message_id = result.message_id
            session.add(delivery)
            await schedules.finish(session, job, upcoming=prepared.upcoming)
            report.sent += 1
        elif result.outcome is Outcome.BLOCKED:
            await mark_unreachable(session, user, now=now)
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await schedules.finish(session, job, upcoming=None)
            report.blocked += 1
        elif result.outcome is Outcome.RETRY and delivery.attempts < self.config.max_attempts:
            await schedules.retry_later(
                session, job, at=now + self.config.retry_delay * delivery.attempts
            )
            report.retried += 1
        else:
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await schedules.finish(session, job, upcoming=prepared.upcoming)
            report.dropped += 1

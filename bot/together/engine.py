"""The together tick: weekly ideas, the chosen day's reminder and the next day's question,
each at the person's own local time, sent through the outbox's runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing.entitlements import Policy
from bot.checkins.schedules import is_eligible
from bot.content.texts import Texts
from bot.content.together import TogetherDeck
from bot.core.clock import Clock
from bot.db.engine import Sessions
from bot.db.models import Delivery, DeliveryStatus, User
from bot.db.together import PlanStatus, TogetherJob
from bot.nudges.engine import TickReport, ledger_entry, mark_unreachable
from bot.nudges.timing import local_to_utc
from bot.outbox.discreet import keep_back
from bot.outbox.messages import Buttons, Outcome, Outgoing, Sender, SendResult
from bot.outbox.runner import Runner, RunnerConfig, Sent
from bot.people.profiles import name_of, partner_of, zone_of
from bot.together import plans
from bot.together import schedules as together_schedules
from bot.together.buttons import HowItWent, MarkIdea, MarksDone
from bot.together.plans import View
from bot.together.schedules import Cadence, Job

log = logging.getLogger(__name__)

# Weekly ideas that could not go out near their time wait for next week.
WEEKLY_MAX_LATENESS = timedelta(hours=6)
# A reminder for the day is useless once the day is nearly over.
REMIND_MAX_LATENESS = timedelta(hours=10)


@dataclass(frozen=True)
class TogetherConfig:
    """Knobs of the together tick, from settings."""

    cadence: Cadence = field(default_factory=lambda: Cadence(3, time(18, 30), time(10, 0)))
    default_zone: str = "Europe/London"
    batch_size: int = 500
    concurrency: int = 64
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    retry_delay: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class Prepared:
    """A claimed row with its ledger entry and the message to send."""

    job: Job
    delivery_id: int
    message: Outgoing


def round_buttons(texts: Texts, view: View, locale: str | None) -> Buttons:
    """Return the marking buttons of a round: one per idea (showing my marks), then Done."""
    marks = tuple(
        (
            texts.render(
                "buttons.together_mark", locale=locale, number=i + 1, chosen=i in view.liked
            ),
            MarkIdea(view.plan_id, i).encode(),
        )
        for i in range(len(view.ideas))
    )
    done = texts.render("buttons.together_done", locale=locale)
    return (marks, ((done, MarksDone(view.plan_id).encode()),))


def score_buttons(texts: Texts, plan_id: int, locale: str | None) -> Buttons:
    """Return the 1-to-5 buttons of "how did it go", and "we didn't get round to it"."""
    scores = tuple(
        (
            texts.render("buttons.together_score", locale=locale, score=score),
            HowItWent(plan_id, score).encode(),
        )
        for score in plans.SCORES
    )
    skipped = texts.render("buttons.together_not_done", locale=locale)
    return (scores, ((skipped, HowItWent(plan_id, 0).encode()),))


class TogetherEngine:
    """Offer weekly ideas, remind on the chosen day, and ask how it went the day after."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        texts: Texts,
        deck: TogetherDeck,
        clock: Clock,
        sender: Sender,
        policy: Policy,
        config: TogetherConfig | None = None,
    ) -> None:
        self.sessions = sessions
        self.texts = texts
        self.deck = deck
        self.clock = clock
        self.sender = sender
        self.policy = policy
        self.config = config or TogetherConfig()

    async def tick(self) -> TickReport:
        """Fill in missing weekly rows, then deliver what is due."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            await together_schedules.sync_weekly_rows(
                session,
                now=now,
                cadence=self.config.cadence,
                limit=self.config.batch_size,
                lookback=WEEKLY_MAX_LATENESS,
            )
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
            jobs = await together_schedules.claim_due(
                session, now=now, limit=self.config.batch_size, lease=self.config.lease
            )
        report = TickReport(claimed=len(jobs))
        if jobs:
            await self._deliver(report, self._composed(jobs, now, report))
        return report

    async def _composed(
        self, jobs: Sequence[Job], now: datetime, report: TickReport
    ) -> AsyncGenerator[Prepared, None]:
        ready: list[Prepared] = []
        async with self.sessions.begin() as session:
            for job in jobs:
                prepared = await self._prepare(session, job, now, report)
                if prepared is not None:
                    ready.append(prepared)
        for item in ready:
            yield item

    def _upcoming(self, job: Job, user: User | None, now: datetime) -> tuple[date, datetime] | None:
        """Return a weekly row's next run; the other kinds happen once."""
        if job.kind != TogetherJob.WEEKLY or user is None:
            return None
        upcoming = together_schedules.next_weekly(
            user, self.config.cadence, after=max(now, job.run_at)
        )
        # A week's run happened (or was passed over): never plan the same local date again.
        while upcoming is not None and upcoming[0] <= job.local_date:
            upcoming = together_schedules.next_weekly(user, self.config.cadence, after=upcoming[1])
        return upcoming

    async def _drop(
        self, session: AsyncSession, job: Job, user: User | None, now: datetime, report: TickReport
    ) -> None:
        await together_schedules.finish(session, job, upcoming=self._upcoming(job, user, now))
        report.dropped += 1

    async def _prepare(
        self, session: AsyncSession, job: Job, now: datetime, report: TickReport
    ) -> Prepared | None:
        user = await session.get(User, job.user_id)
        if user is None or not is_eligible(user):
            await together_schedules.finish(session, job, upcoming=None)
            report.dropped += 1
            return None
        if job.kind == TogetherJob.WEEKLY and not await self._weekly_is_due(
            session, job, user, now
        ):
            return None
        delivery = await ledger_entry(
            session,
            user_id=job.user_id,
            kind=job.kind,
            local_date=job.local_date,
            now=now,
            question_id=job.plan_id,
        )
        if delivery.status != DeliveryStatus.PENDING:
            # Sent before (a restart or a second worker): never twice.
            await together_schedules.finish(session, job, upcoming=self._upcoming(job, user, now))
            report.already_sent += 1
            return None
        message = await self._compose(session, job, user, now)
        if message is None:
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await self._drop(session, job, user, now, report)
            return None
        delivery.attempts += 1
        session.add(delivery)
        assert delivery.id is not None
        if user.discreet_since is not None:
            # Every together message is a notification: discreet mode keeps its words back.
            message = await keep_back(
                session, self.texts, message, user_id=user.id, locale=user.locale, now=now
            )
        return Prepared(job, delivery.id, message)

    async def _weekly_is_due(
        self, session: AsyncSession, job: Job, user: User, now: datetime
    ) -> bool:
        """Check a weekly row against the rhythm and the person's zone right now."""
        cadence = self.config.cadence
        if job.local_date.weekday() != cadence.weekday:
            await together_schedules.finish(
                session, job, upcoming=together_schedules.next_weekly(user, cadence, after=now)
            )
            return False
        intended = local_to_utc(
            job.local_date, cadence.at, zone_of(user, default=self.config.default_zone)
        )
        if intended - now > timedelta(minutes=1):
            # The person moved to a zone where it is not that time yet.
            await together_schedules.retry_later(session, job, at=intended)
            return False
        return True

    async def _compose(
        self, session: AsyncSession, job: Job, user: User, now: datetime
    ) -> Outgoing | None:
        content = self.deck.get(user.locale)
        zone = self.config.default_zone
        if job.kind == TogetherJob.WEEKLY:
            quiet = (user.paused_until is not None and user.paused_until > now) or (
                user.skip_date == job.local_date
            )
            if quiet or now - job.run_at > WEEKLY_MAX_LATENESS:
                return None
            view = await plans.weekly_round(
                session, user, now=now, content=content, policy=self.policy, default_zone=zone
            )
            if view is None:
                return None
            text = self.texts.render("together.weekly", locale=user.locale, view=view)
            return Outgoing(user.chat_id, text, round_buttons(self.texts, view, user.locale))
        plan = await plans.plan_of_job(session, job.plan_id, user)
        if plan is None or plan.idea_id is None or plan.day is None:
            return None
        if await plans.resting(session, plan.couple_id, now, policy=self.policy) is not None:
            return None
        partner = await partner_of(session, user)
        idea = content.idea(plan.idea_id)
        if partner is None or idea is None:
            return None
        if job.kind == TogetherJob.REMIND:
            late = now - job.run_at > REMIND_MAX_LATENESS
            if plan.status != PlanStatus.PLANNED or plan.day != job.local_date or late:
                return None
            text = self.texts.render(
                "together.today", locale=user.locale, idea=idea, partner=name_of(partner)
            )
            return Outgoing(user.chat_id, text)
        assert plan.id is not None
        entry = await plans.entry_of(session, plan.id, user.id)
        if plan.revealed_at is not None or entry is None or entry.answered_at is not None:
            return None
        if plan.status not in (PlanStatus.PLANNED, PlanStatus.DONE):
            return None
        text = self.texts.render(
            "together.ask", locale=user.locale, idea=idea, partner=name_of(partner), day=plan.day
        )
        return Outgoing(user.chat_id, text, score_buttons(self.texts, plan.id, user.locale))

    async def _deliver(self, report: TickReport, items: AsyncGenerator[Prepared, None]) -> None:
        async def record(session: AsyncSession, sent: Sequence[Sent[Prepared]]) -> None:
            for item in sent:
                await self._complete(session, item.item, item.result, report)

        runner: Runner[Prepared] = Runner(
            sessions=self.sessions,
            sender=self.sender,
            message_of=lambda item: item.message,
            record=record,
            config=RunnerConfig(concurrency=self.config.concurrency),
            what="together message",
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
        if result.outcome is Outcome.SENT:
            delivery.status, delivery.sent_at = DeliveryStatus.SENT, now
            delivery.message_id = result.message_id
            session.add(delivery)
            await together_schedules.finish(session, job, upcoming=self._upcoming(job, user, now))
            report.sent += 1
        elif result.outcome is Outcome.BLOCKED:
            await mark_unreachable(session, user, now=now)
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await together_schedules.finish(session, job, upcoming=None)
            report.blocked += 1
        elif result.outcome is Outcome.RETRY and delivery.attempts < self.config.max_attempts:
            await together_schedules.retry_later(
                session, job, at=now + self.config.retry_delay * delivery.attempts
            )
            report.retried += 1
        else:
            delivery.status = DeliveryStatus.DROPPED
            session.add(delivery)
            await self._drop(session, job, user, now, report)

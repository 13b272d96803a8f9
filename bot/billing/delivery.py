"""Deliver the trial and subscription notices: claim due rows, compose, send once, record."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements
from bot.billing import notices as billing_notices
from bot.billing.buttons import Subscribe
from bot.billing.entitlements import Access, Policy, State
from bot.billing.notices import NoticeClaim
from bot.content.texts import Texts
from bot.core.clock import Clock
from bot.db.billing import NoticeKind, NoticeStatus
from bot.db.engine import Sessions
from bot.db.models import User
from bot.nudges.engine import mark_unreachable
from bot.outbox.discreet import keep_back
from bot.outbox.messages import Outcome, Outgoing, Sender, SendResult
from bot.outbox.runner import Runner, RunnerConfig, Sent, each
from bot.people.profiles import name_of, partner_of, zone_of
from bot.safety import signals as safety

log = logging.getLogger(__name__)


_Ready = tuple[NoticeClaim, Outgoing]


@dataclass(frozen=True)
class NoticeConfig:
    """Knobs of the notice tick, from settings."""

    price: int
    default_timezone: str = "Europe/London"
    batch_size: int = 200
    concurrency: int = 64
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    retry_delay: timedelta = timedelta(minutes=1)


@dataclass
class NoticeReport:
    """What one notice tick did."""

    planned: int = 0
    claimed: int = 0
    sent: int = 0
    dropped: int = 0
    postponed: int = 0


class NoticeEngine:
    """Plan new trials' notices, then send the due ones at each person's local daytime."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        texts: Texts,
        clock: Clock,
        sender: Sender,
        policy: Policy,
        config: NoticeConfig,
    ) -> None:
        self.sessions = sessions
        self.texts = texts
        self.clock = clock
        self.sender = sender
        self.policy = policy
        self.config = config

    async def tick(self) -> NoticeReport:
        """Plan, claim and deliver what is due now."""
        report = NoticeReport()
        now = self.clock.now()
        # With nothing gated there is nothing to sell: no trial to announce or to end.
        if self.policy.gated:
            async with self.sessions.begin() as session:
                report.planned = await billing_notices.plan_new_trials(
                    session, now=now, pair_key=self.policy.pair_key
                )
        async with self.sessions.begin() as session:
            claims = await billing_notices.claim_due(
                session, now=now, limit=self.config.batch_size, lease=self.config.lease
            )
        report.claimed = len(claims)
        if not claims:
            return report
        ready: list[tuple[NoticeClaim, Outgoing]] = []
        async with self.sessions.begin() as session:
            for claim in claims:
                message = await self._prepare(session, claim, now, report)
                if message is not None:
                    ready.append((claim, message))

        async def record(session: AsyncSession, items: Sequence[Sent[_Ready]]) -> None:
            for sent in items:
                await self._settle(session, sent.item[0], sent.item[1], sent.result, now, report)

        runner: Runner[_Ready] = Runner(
            sessions=self.sessions,
            sender=self.sender,
            message_of=lambda item: item[1],
            record=record,
            config=RunnerConfig(concurrency=self.config.concurrency),
            what="billing notice",
        )
        await runner.run(each(ready))
        return report

    async def _settle(
        self,
        session: AsyncSession,
        claim: NoticeClaim,
        message: Outgoing,
        result: SendResult,
        now: datetime,
        report: NoticeReport,
    ) -> None:
        if result.outcome is Outcome.SENT:
            await billing_notices.settle(session, claim, NoticeStatus.SENT, now=now)
            if result.message_id is not None:
                # /hide deletes these too.
                await safety.record_sent(session, message.chat_id, result.message_id, now=now)
            report.sent += 1
        elif result.outcome is Outcome.BLOCKED:
            user = await session.get(User, claim.user_id)
            if user is not None:
                await mark_unreachable(session, user, now=now)
            await billing_notices.settle(session, claim, NoticeStatus.DROPPED, now=now)
            report.dropped += 1
        elif result.outcome is Outcome.RETRY and claim.attempts + 1 < self.config.max_attempts:
            later = now + self.config.retry_delay * (claim.attempts + 1)
            await billing_notices.postpone(session, claim, until=later, attempted=True)
            report.postponed += 1
        else:
            await billing_notices.settle(session, claim, NoticeStatus.DROPPED, now=now)
            report.dropped += 1

    async def _prepare(
        self, session: AsyncSession, claim: NoticeClaim, now: datetime, report: NoticeReport
    ) -> Outgoing | None:
        user = await session.get(User, claim.user_id)
        access = None
        if user is not None and user.couple_id is not None and user.unreachable_since is None:
            access = await entitlements.access_of(session, user.couple_id, now, policy=self.policy)
        if (
            user is None
            or access is None
            or not self._applies(claim, access, now)
            # A couple paused by a safety signal hears no sales; nobody is told why.
            or (
                claim.kind != NoticeKind.TRIAL_STARTED
                and await safety.exercises_paused(session, user.couple_id)
            )
        ):
            # Unpaired, paired with someone else, blocked, or no longer true: say nothing.
            await billing_notices.settle(session, claim, NoticeStatus.DROPPED, now=now)
            report.dropped += 1
            return None
        zone = zone_of(user, default=self.config.default_timezone)
        later = None
        if claim.kind == NoticeKind.TRIAL_STARTED and user.onboarded_at is None:
            later = now + billing_notices.SETUP_WAIT
        elif claim.kind != NoticeKind.LAPSED:
            daytime = billing_notices.next_daytime(now, zone)
            later = daytime if daytime > now else None
        if later is not None:
            await billing_notices.postpone(session, claim, until=later)
            report.postponed += 1
            return None
        partner = await partner_of(session, user)
        message = self._compose(claim, user, partner, access, zone)
        if user.discreet_since is not None:
            message = await keep_back(
                session, self.texts, message, user_id=user.id, locale=user.locale, now=now
            )
        return message

    def _applies(self, claim: NoticeClaim, access: Access, now: datetime) -> bool:
        if access.trial_couple_id != claim.couple_id:
            return False
        if now - claim.run_at > billing_notices.MAX_LATENESS:
            return False
        if claim.kind == NoticeKind.TRIAL_STARTED:
            return access.state is State.TRIAL and now < claim.about - (
                billing_notices.ENDING_NOTICE
            )
        if claim.kind == NoticeKind.TRIAL_ENDING:
            return access.state is State.TRIAL
        return access.state is State.LAPSED and access.lapsed_at == claim.about

    def _compose(
        self, claim: NoticeClaim, user: User, partner: User | None, access: Access, zone: ZoneInfo
    ) -> Outgoing:
        text = self.texts.render(
            f"billing.notice_{claim.kind}",
            locale=user.locale,
            partner=name_of(partner) if partner is not None else "",
            ends=access.trial_ends_at.astimezone(zone),
            price=self.config.price,
        )
        if claim.kind == NoticeKind.TRIAL_STARTED:
            return Outgoing(user.chat_id, text)
        label = self.texts.render("buttons.subscribe", locale=user.locale, price=self.config.price)
        return Outgoing(user.chat_id, text, (((label, Subscribe().encode()),),))

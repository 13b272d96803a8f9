"""The typed CallbackContext handlers receive: it exposes the services they need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.billing.delivery import NoticeEngine
from bot.billing.entitlements import Policy
from bot.billing.settlement import Settlement
from bot.checkins.engine import CheckinEngine
from bot.closeness.engine import ClosenessEngine
from bot.content.library import Library
from bot.content.texts import Texts
from bot.core.clock import Clock
from bot.core.failures import Outage
from bot.core.workers import Presence
from bot.db.engine import Sessions
from bot.inbox.leader import PollingLock
from bot.inbox.store import InboxStore
from bot.nudges.engine import NudgeEngine
from bot.nudges.schedules import Rhythm
from bot.outbox.outbox import Outbox
from bot.safety.counsellor import Announcing
from bot.settings import Settings
from bot.together.engine import TogetherEngine

_SERVICES_KEY = "services"


@dataclass(frozen=True)
class Services:
    """What every handler may use, built once by the composition root (bot/app.py)."""

    settings: Settings
    sessions: Sessions
    texts: Texts
    library: Library
    clock: Clock
    # When excerpts and videos arrive: every change to a person's schedule follows it.
    rhythm: Rhythm
    # What is paid for, and the grace a late renewal gets.
    policy: Policy
    # When the counsellors' staff chat hears about an unclaimed request, and hears again.
    staff_announcing: Announcing
    nudges: NudgeEngine
    # The one path out: every message, edit and deletion a handler makes.
    outbox: Outbox
    checkins: CheckinEngine
    notices: NoticeEngine
    # Refunds, stopped renewals and reconciliation with Telegram's Stars ledger.
    settlement: Settlement
    # Something meaningful together: its deck, cadence, and the tick that keeps it.
    together: TogetherEngine
    # The expectations map and the sharing prompt: their decks and their scheduled sends.
    closeness: ClosenessEngine
    # The one path in: every update is stored here before Telegram hears it arrived.
    inbox: InboxStore
    # Held by the one process that polls Telegram (always this one on SQLite).
    polling_lock: PollingLock
    # Set when several workers may share the database (PostgreSQL): they share the send rate.
    presence: Presence | None = None
    # Notices when the database is out of reach, so an outage is logged once, not per try.
    outage: Outage = field(default_factory=Outage)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with typed access to the application's services."""

    # The language of whoever this update's answers are for, found once per update
    # (bot/telegram/handlers/language.py) before any handler runs.
    resolved_locale: str | None = None

    @property
    def locale(self) -> str:
        """Return the language to answer this update in."""
        return self.resolved_locale or self.services.settings.default_locale

    @property
    def services(self) -> Services:
        """Return the services this application was built with."""
        return services_of(self.application)


def attach_services(
    application: Application[Any, Any, Any, Any, Any, Any], services: Services
) -> None:
    """Give an application its services; done once, in the composition root."""
    application.bot_data[_SERVICES_KEY] = services


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    """Return the services attached to an application."""
    services = application.bot_data.get(_SERVICES_KEY)
    if not isinstance(services, Services):
        raise RuntimeError("the application was not built with build_application()")
    return services

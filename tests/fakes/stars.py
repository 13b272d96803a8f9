"""A bot's Telegram Stars ledger as the Bot API keeps it: charges, subscriptions and refunds.

Both fakes of the Bot API (the HTTP server and the in-process transport) answer
refundStarPayment, editUserStarSubscription and getStarTransactions from one of these.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

# The only period Telegram allows for a Stars subscription: 30 days.
SUBSCRIPTION_PERIOD = 2_592_000
MAX_PAGE = 100


class LedgerError(Exception):
    """A call Telegram would refuse with 400 and this description."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass
class StarCharge:
    """One payment a person made to the bot."""

    id: str
    user_id: int
    amount: int
    date: int
    payload: str
    period: int | None
    # A subscription is named by the charge id of its first payment (itself for that one).
    subscription_id: str | None
    refunded_at: int | None = None


@dataclass
class StarsLedger:
    """Charges in the order they were made, refunds after them, and each subscription's state."""

    charges: dict[str, StarCharge] = field(default_factory=dict)
    # (kind, charge id) in chronological order: "pay" for a payment, "refund" for its refund.
    entries: list[tuple[str, str]] = field(default_factory=list)
    # Subscriptions by their first charge id: the is_canceled the bot last set, None if never.
    canceled: dict[str, bool | None] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_charge_id(self) -> str:
        """Return a charge id shaped like Telegram's."""
        return f"stxFake{next(self._ids):010d}"

    def pay(
        self,
        user_id: int,
        payload: str,
        amount: int,
        *,
        date: int,
        charge_id: str | None = None,
        subscription: bool = False,
        renewal: bool = False,
    ) -> StarCharge:
        """Take a payment (a renewal joins the subscription its payer started with payload)."""
        charge_id = charge_id or self.new_charge_id()
        known = self.charges.get(charge_id)
        if known is not None:
            return known  # the same charge delivered again: Telegram took the Stars once
        started: str | None = None
        if renewal:
            started = next(
                (
                    c.subscription_id
                    for c in self.charges.values()
                    if c.user_id == user_id and c.payload == payload and c.subscription_id
                ),
                None,
            )
            subscription = True
        if subscription and started is None:
            started = charge_id
            self.canceled[charge_id] = None
        charge = StarCharge(
            id=charge_id,
            user_id=user_id,
            amount=amount,
            date=date,
            payload=payload,
            period=SUBSCRIPTION_PERIOD if subscription else None,
            subscription_id=started,
        )
        self.charges[charge_id] = charge
        self.entries.append(("pay", charge_id))
        return charge

    def _charge(self, user_id: Any, charge_id: Any) -> StarCharge:
        charge = self.charges.get(str(charge_id or ""))
        if charge is None:
            raise LedgerError("Bad Request: CHARGE_ID_INVALID")
        if user_id is None or charge.user_id != int(user_id):
            raise LedgerError("Bad Request: USER_ID_INVALID")
        return charge

    def refund(self, user_id: Any, charge_id: Any, *, date: int) -> None:
        """Pay a charge back, once."""
        charge = self._charge(user_id, charge_id)
        if charge.refunded_at is not None:
            raise LedgerError("Bad Request: CHARGE_ALREADY_REFUNDED")
        charge.refunded_at = date
        self.entries.append(("refund", charge.id))

    def edit_subscription(self, user_id: Any, charge_id: Any, is_canceled: Any) -> None:
        """Set whether a subscription renews; only its first charge's id names it."""
        charge = self._charge(user_id, charge_id)
        if charge.subscription_id != charge.id:
            raise LedgerError("Bad Request: SUBSCRIPTION_ID_INVALID")
        if is_canceled is None:
            raise LedgerError("Bad Request: is_canceled is empty")
        self.canceled[charge.id] = bool(is_canceled)

    def transactions(self, offset: Any, limit: Any) -> dict[str, Any]:
        """Answer getStarTransactions: a page of the ledger, oldest first."""
        start = 0 if offset is None else int(offset)
        count = MAX_PAGE if limit is None else int(limit)
        if start < 0:
            raise LedgerError("Bad Request: OFFSET_INVALID")
        if not 1 <= count <= MAX_PAGE:
            raise LedgerError("Bad Request: LIMIT_INVALID")
        page = self.entries[start : start + count]
        return {"transactions": [self._transaction(kind, cid) for kind, cid in page]}

    def _transaction(self, kind: str, charge_id: str) -> dict[str, Any]:
        charge = self.charges[charge_id]
        partner: dict[str, Any] = {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": {"id": charge.user_id, "is_bot": False, "first_name": f"User {charge.user_id}"},
            "invoice_payload": charge.payload,
        }
        if charge.period is not None:
            partner["subscription_period"] = charge.period
        # A refund shares its payment's id and has the person as receiver.
        entry: dict[str, Any] = {"id": charge.id, "amount": charge.amount}
        if kind == "pay":
            entry |= {"date": charge.date, "source": partner}
        else:
            entry |= {"date": charge.refunded_at, "receiver": partner}
        return entry

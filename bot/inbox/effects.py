"""Know whether handling an update saved anything, in the same transaction that saved it.

While an update is handled, `handling` names its inbox row. The first transaction of that
handling which writes anything also marks the row (`saved_changes`), committed with those
writes or not at all. If the process dies or the handling breaks after that, the inbox knows
the update's changes were kept, and a handler that is not safe to repeat is not run again.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.orm import ORMExecuteState, Session
from sqlmodel import col

from bot.db.inbox import InboxUpdate

handling: ContextVar[int | None] = ContextVar("handling", default=None)

_WROTE = "inbox_wrote"
_installed = False


def _note_writes(state: ORMExecuteState) -> None:
    if handling.get() is not None and (state.is_insert or state.is_update or state.is_delete):
        state.session.info[_WROTE] = True


def _mark_row(session: Session) -> None:
    row = handling.get()
    if row is None:
        return
    changed = session.info.pop(_WROTE, False) or any(
        session.is_modified(obj) for obj in session.dirty
    )
    if changed or session.new or session.deleted:
        session.execute(
            update(InboxUpdate)
            .where(col(InboxUpdate.id) == row, col(InboxUpdate.saved_changes).is_(False))
            .values(saved_changes=True)
        )


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_WROTE, None)


def install() -> None:
    """Watch every session's commits (once per process); they act only while `handling`."""
    global _installed
    if _installed:
        return
    event.listen(Session, "do_orm_execute", _note_writes)
    event.listen(Session, "before_commit", _mark_row)
    event.listen(Session, "after_rollback", _forget)
    _installed = True

"""Import every table module, so the metadata Alembic and the tests compare is complete."""

from bot.db import billing, checkins, inbox, library, models, safety

__all__ = ["billing", "checkins", "inbox", "library", "models", "safety"]

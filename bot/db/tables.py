"""Import every table module, so the metadata Alembic and the tests compare is complete."""

from bot.db import billing, checkins, closeness, inbox, library, models, safety, together

__all__ = ["billing", "checkins", "closeness", "inbox", "library", "models", "safety", "together"]

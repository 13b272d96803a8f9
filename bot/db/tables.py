"""Import every table module, so the metadata Alembic and the tests compare is complete."""

from bot.db import billing, checkins, library, models, safety, together

__all__ = ["billing", "checkins", "library", "models", "safety", "together"]

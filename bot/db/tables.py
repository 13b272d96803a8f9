"""Import every table module, so the metadata Alembic and the tests compare is complete."""

from bot.db import library, models

__all__ = ["library", "models"]

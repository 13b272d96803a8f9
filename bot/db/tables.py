"""Import every table module, so the metadata Alembic and the tests compare is complete."""

from bot.db import models

__all__ = ["models"]

"""Apply Alembic migrations: the only way the schema is made."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.db.engine import ensure_sqlite_directory
from bot.settings import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    """Build the Alembic configuration for a database URL."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # ConfigParser treats % as interpolation; URLs may contain escaped characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(database_url), revision)

"""SQLModel tables and the async engine/session factory; never imports telegram."""

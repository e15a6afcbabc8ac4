"""The store: SQLModel tables over SQLite or PostgreSQL, migrated by Alembic."""

from store.db import StoreError, actor, database_url, describe, init_store, make_engine, open_store, record_audit

__all__ = ["StoreError", "actor", "database_url", "describe", "init_store", "make_engine", "open_store", "record_audit"]

"""Metadata tables and the engine that holds them (SQLite by default, PostgreSQL at scale)."""

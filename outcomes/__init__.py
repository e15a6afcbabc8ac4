"""Ingestion of delivered files: validated, pseudonymised, atomic per batch."""

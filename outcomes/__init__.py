"""Ingestion of delivered files: validated, pseudonymised, atomic per batch."""

# The kinds of delivered file (``outcomes.kinds`` picks each one's checker); here, where naming them costs no import.
KINDS = ("participants", "enrolments", "measurements", "survey", "comparison")
